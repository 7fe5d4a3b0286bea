import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { IsOptional, Length } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import type { ItemResult } from '../../events/service.js';
import { Event } from './event.js';

@ObjectType()
export class PublishedEvent {
  @Field(() => Event)
  event: Event;

  @Field({ description: 'True when the idempotency key was seen before: the earlier event is returned and nothing new is queued' })
  duplicate: boolean;
}

@InputType()
export class PublishEventInput {
  @Field()
  @Length(1, 200)
  type: string;

  @Field(() => GraphQLJSON)
  data: unknown;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 255)
  idempotencyKey?: string | null;
}

@ObjectType()
export class PublishError {
  @Field({ description: 'UNKNOWN_EVENT_TYPE, PAYLOAD_TOO_LARGE, BAD_USER_INPUT, IDEMPOTENCY_KEY_REUSED' })
  code: string;

  @Field()
  message: string;

  @Field(() => String, { nullable: true, description: 'The failing input path, e.g. inputs.3.data.amount' })
  field: string | null;
}

@ObjectType({ description: 'One item of a publishEvents call, in the order given' })
export class PublishEventResult {
  @Field(() => Int)
  index: number;

  @Field(() => Event, { nullable: true, description: 'Null when the item was refused' })
  event: Event | null;

  @Field()
  duplicate: boolean;

  @Field(() => PublishError, { nullable: true, description: 'Why the item was refused; null when it was accepted' })
  error: PublishError | null;

  static from(result: ItemResult): PublishEventResult {
    return Object.assign(new PublishEventResult(), {
      index: result.index,
      event: result.event && Event.from(result.event),
      duplicate: result.duplicate,
      error: result.error && Object.assign(new PublishError(), { code: result.error.code, message: result.error.message, field: result.error.field }),
    });
  }
}

@ObjectType()
export class PublishEventsResult {
  @Field(() => Int, { description: 'Items accepted, duplicates of earlier events included' })
  acceptedCount: number;

  @Field(() => [PublishEventResult])
  results: PublishEventResult[];

  static from(results: readonly ItemResult[]): PublishEventsResult {
    return Object.assign(new PublishEventsResult(), {
      acceptedCount: results.filter((r) => r.error === null).length,
      results: results.map((r) => PublishEventResult.from(r)),
    });
  }
}

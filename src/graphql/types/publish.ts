import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { IsOptional, Length } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import { MAX_EVENT_NAME_LENGTH } from '../../limits.js';
import { Event } from './event.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_ORDERING_KEY_LENGTH } from '../../events/limits.js';

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
  @Length(1, MAX_EVENT_NAME_LENGTH)
  type: string;

  @Field(() => GraphQLJSON)
  data: unknown;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, MAX_IDEMPOTENCY_KEY_LENGTH)
  idempotencyKey?: string | null;

  @Field(() => String, { nullable: true, description: 'Events with the same key reach each PER_KEY subscription in the order they were accepted' })
  @IsOptional()
  @Length(1, MAX_ORDERING_KEY_LENGTH)
  orderingKey?: string | null;
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
}

@ObjectType()
export class PublishEventsResult {
  @Field(() => Int, { description: 'Items accepted, duplicates of earlier events included' })
  acceptedCount: number;

  @Field(() => [PublishEventResult])
  results: PublishEventResult[];
}

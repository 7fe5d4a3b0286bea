import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { DeliveryAttemptEntity } from '../../db/entities/index.js';

@ObjectType()
export class DeliveryAttempt {
  @Field(() => ID)
  id: string;

  @Field(() => Int, { description: '1 for the first attempt' })
  number: number;

  @Field()
  startedAt: Date;

  @Field(() => Int)
  durationMs: number;

  @Field(() => Int, { nullable: true })
  responseStatus: number | null;

  @Field(() => String, { nullable: true, description: 'At most the first 4 KiB of the response body' })
  responseBody: string | null;

  @Field(() => String, { nullable: true, description: 'Transport error (timeout, refused, blocked address), when there was no response' })
  error: string | null;

  @Field()
  succeeded: boolean;

  static from(a: DeliveryAttemptEntity): DeliveryAttempt {
    return Object.assign(new DeliveryAttempt(), {
      id: a.id,
      number: a.number,
      startedAt: a.startedAt,
      durationMs: a.durationMs,
      responseStatus: a.responseStatus,
      responseBody: a.responseBody,
      error: a.error,
      succeeded: a.succeeded,
    });
  }
}

import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DeliveryStatus } from './enums.js';
import { Connection } from './pagination.js';

@ObjectType()
export class Delivery {
  @Field(() => ID, { description: 'Sent as the webhook-id header and the idempotency_key field; the same on every attempt' })
  id: string;

  @Field(() => DeliveryStatus)
  status: DeliveryStatus;

  @Field(() => Int, { nullable: true, description: '1, 2, 3, … per subscription and ordering key, without gaps; null when the event has no key' })
  sequence: number | null;

  @Field(() => Int)
  attemptCount: number;

  @Field(() => Date, { nullable: true })
  nextAttemptAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt: Date | null;

  @Field()
  createdAt: Date;

  /** Resolved by field resolvers; kept for them, not exposed as such. */
  eventId: string;
  subscriptionId: string;
}

@ObjectType()
export class DeliveryConnection extends Connection(Delivery) {}

@InputType()
export class DeliveryFilter {
  @Field(() => ID, { nullable: true })
  subscriptionId?: string | null;

  @Field(() => String, { nullable: true })
  eventType?: string | null;

  @Field(() => DeliveryStatus, { nullable: true })
  status?: DeliveryStatus | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  until?: Date | null;
}

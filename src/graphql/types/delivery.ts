import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { DeliveryEntity } from '../../db/entities/index.js';
import { DeliveryStatus } from './enums.js';
import { Connection } from './pagination.js';

@ObjectType()
export class Delivery {
  @Field(() => ID, { description: 'Sent as the webhook-id header and the idempotency_key field; the same on every attempt' })
  id: string;

  @Field(() => DeliveryStatus)
  status: DeliveryStatus;

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

  static from(d: DeliveryEntity): Delivery {
    return Object.assign(new Delivery(), {
      id: d.id,
      status: d.status,
      attemptCount: d.attemptCount,
      // While a delivery is queued its next attempt is due; settled ones have none.
      nextAttemptAt: d.nextAttemptAt,
      lastAttemptAt: d.lastAttemptAt,
      createdAt: d.createdAt,
      eventId: d.eventId,
      subscriptionId: d.subscriptionId,
    });
  }
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


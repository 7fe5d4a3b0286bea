import { IsOptional, Max, MaxLength, Min } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

import { Delivery } from './delivery.js';
import { DeliveryOrdering } from './enums.js';
import { SubscriptionContentInput } from './subscription.js';
import { MAX_IDLE_EXPIRY_SECONDS, MIN_IDLE_EXPIRY_SECONDS } from '../../pull/outcome.js';

/** A consumer's answer is kept as an attempt's response body: 4 KiB of it; more is refused rather than carried. */
const MAX_RESULT_BODY_LENGTH = 65_536;
/** Ten minutes: a consumer that took longer has lost its lease anyway. */
const MAX_RESULT_DURATION_MS = 600_000;

@ObjectType({ description: 'A delivery handed to a PULL consumer: exactly what a push delivery would have sent' })
export class PulledDelivery {
  @Field(() => Delivery)
  delivery: Delivery;

  @Field({ description: 'Names this lease; an acknowledgement with a lapsed lease is not recorded' })
  leaseToken: string;

  @Field(() => GraphQLJSON, { description: 'The headers, webhook-signature included' })
  headers: Record<string, string>;

  @Field()
  body: string;
}

@InputType()
export class CreatePullSubscriptionInput extends SubscriptionContentInput {
  @Field(() => DeliveryOrdering, { nullable: true, defaultValue: DeliveryOrdering.PER_KEY })
  @IsOptional()
  ordering?: DeliveryOrdering | null;

  @Field(() => Int, {
    nullable: true,
    description: `Delete the subscription after this many seconds without a pull (${MIN_IDLE_EXPIRY_SECONDS} to ${MAX_IDLE_EXPIRY_SECONDS}); null keeps it`,
  })
  @IsOptional()
  @Min(MIN_IDLE_EXPIRY_SECONDS)
  @Max(MAX_IDLE_EXPIRY_SECONDS)
  expireAfterIdleSeconds?: number | null;
}

@InputType({ description: "The consumer's result for one pulled delivery" })
export class PullResultInput {
  @Field(() => ID)
  deliveryId: string;

  @Field()
  leaseToken: string;

  @Field(() => Int, { description: '2xx: delivered; anything else: a failed attempt, retried on the schedule; 0: no response' })
  status: number;

  @Field(() => String, { nullable: true, description: 'At most 4 KiB are kept' })
  @IsOptional()
  @MaxLength(MAX_RESULT_BODY_LENGTH)
  body?: string | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(0)
  @Max(MAX_RESULT_DURATION_MS)
  durationMs?: number | null;
}

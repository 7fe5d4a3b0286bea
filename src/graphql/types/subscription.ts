import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsOptional, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { MAX_RETRIES, MAX_RETRY_DELAY_SECONDS, MIN_RETRY_DELAY_SECONDS } from '../../subscriptions/retry-schedule.js';
import {
  MAX_CHANNELS,
  MAX_DESCRIPTION_LENGTH,
  MAX_EVENTS,
  MAX_NAME_LENGTH,
  MAX_RATE_LIMIT,
  MAX_URL_LENGTH,
  MIN_RATE_LIMIT,
  headersProblems,
  urlProblem,
} from '../../subscriptions/validation.js';
import { DeliveryOrdering, Environment, PayloadFormat, SubscriptionKind } from './enums.js';
import { EndpointHealth } from './endpoint-health.js';
import { DEFAULT_MAX_IN_FLIGHT, MAX_MAX_IN_FLIGHT, MIN_MAX_IN_FLIGHT } from '../../delivery-engine/limits.js';

/** A class-validator rule from a pure check that lists what is wrong. */
function Satisfies(name: string, problems: (value: unknown) => string[]): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => problems(value).length === 0,
      defaultMessage: (args?: { value: unknown }) => problems(args?.value).join('; '),
    },
  });
}

const IsWebhookUrl = () =>
  Satisfies('isWebhookUrl', (value) => {
    if (typeof value !== 'string') return ['must be a string'];
    const problem = urlProblem(value);
    return problem ? [problem] : [];
  });
const IsWebhookHeaders = () => Satisfies('isWebhookHeaders', headersProblems);

@ObjectType()
export class SigningSecret {
  @Field(() => ID)
  id: string;

  @Field({ description: 'Last four characters of the secret' })
  hint: string;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'Set while a rotated-out secret is still used for signing' })
  expiresAt: Date | null;
}

/**
 * `secrets` and the role-dependent `headers` are resolved by
 * SubscriptionResolver; `stats` and `deliveries` by the delivery history
 * resolver. Entities become this type in presenters/subscription.ts.
 */
@ObjectType()
export class WebhookSubscription {
  @Field(() => ID)
  id: string;

  @Field()
  url: string;

  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => [String])
  channels: string[];

  @Field(() => [String], { description: 'Event names the subscription is limited to; empty means every event of its channels' })
  events: string[];

  @Field(() => Environment)
  environment: Environment;

  @Field()
  enabled: boolean;

  @Field(() => String, { nullable: true })
  disabledReason: string | null;

  @Field(() => PayloadFormat)
  payloadFormat: PayloadFormat;

  @Field(() => [Int], { description: 'Seconds to wait before each retry; empty means a single attempt and no retries' })
  retrySchedule: number[];

  @Field(() => GraphQLJSON, { nullable: true, description: 'Extra headers sent with every delivery' })
  headers: Record<string, string> | null;

  @Field(() => Int, { nullable: true, description: 'Most deliveries per second to this endpoint; null means no limit' })
  rateLimitPerSecond: number | null;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  @Field(() => Int, {
    nullable: true,
    description: `Most deliveries to this endpoint in flight at once, across all workers; null means the default of ${DEFAULT_MAX_IN_FLIGHT}`,
  })
  maxInFlight: number | null;

  @Field(() => EndpointHealth)
  endpointHealth: EndpointHealth;

  @Field(() => DeliveryOrdering)
  ordering: DeliveryOrdering;

  @Field(() => SubscriptionKind)
  kind: SubscriptionKind;

  @Field(() => Date, { nullable: true, description: 'PULL: when a consumer last called pullDeliveries (to within seconds)' })
  lastPulledAt: Date | null;

  @Field(() => Int, { nullable: true, description: 'PULL: deleted after this many seconds without a pull; null: kept' })
  expireAfterIdleSeconds: number | null;
}

@ObjectType()
export class BlockedOrderingKey {
  @Field()
  orderingKey: string;

  @Field()
  since: Date;

  @Field(() => Int, { description: 'Deliveries of the key waiting behind it' })
  waiting: number;

  /** Resolved as failedDelivery by a field resolver. */
  failedDeliveryId: string;
}

@ObjectType()
export class CreatedWebhookSubscription {
  @Field(() => WebhookSubscription)
  subscription: WebhookSubscription;

  @Field({ description: 'The signing secret (whsec_...). Shown once, unless revealed again by an ADMIN.' })
  secret: string;
}

@ObjectType()
export class RotatedSecret {
  @Field(() => WebhookSubscription)
  subscription: WebhookSubscription;

  @Field()
  secret: string;
}

/**
 * What a subscription of either kind is created with: what it receives and
 * in which form. Field-by-field syntax is checked here (class-validator,
 * reported as input.<field>); what needs the catalog, the destination
 * policy or the stored subscription is checked by SubscriptionService.
 */
@InputType()
export abstract class SubscriptionContentInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string | null;

  @Field(() => [String])
  @ArrayNotEmpty({ message: 'channels must name at least one channel' })
  @ArrayMaxSize(MAX_CHANNELS)
  @ArrayUnique()
  @MaxLength(MAX_NAME_LENGTH, { each: true })
  channels: string[];

  @Field(() => [String], { nullable: true, description: 'Limit to these event names (each must belong to one of the channels)' })
  @IsOptional()
  @ArrayMaxSize(MAX_EVENTS)
  @ArrayUnique()
  @MaxLength(MAX_NAME_LENGTH, { each: true })
  events?: string[] | null;

  @Field(() => PayloadFormat, { nullable: true, defaultValue: PayloadFormat.ENVELOPE })
  payloadFormat?: PayloadFormat | null;

  @Field(() => [Int], { nullable: true, description: 'Default: [5, 300, 1800, 7200, 18000, 36000, 36000]' })
  @IsOptional()
  @ArrayMaxSize(MAX_RETRIES)
  @Min(MIN_RETRY_DELAY_SECONDS, { each: true })
  @Max(MAX_RETRY_DELAY_SECONDS, { each: true })
  retrySchedule?: number[] | null;
}

/** A PUSH subscription: its endpoint and how Hookline sends to it. */
@InputType()
export class CreateWebhookSubscriptionInput extends SubscriptionContentInput {
  @Field()
  @MaxLength(MAX_URL_LENGTH)
  @IsWebhookUrl()
  url: string;

  @Field(() => GraphQLJSON, { nullable: true })
  @IsOptional()
  @IsWebhookHeaders()
  headers?: Record<string, string> | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(MIN_RATE_LIMIT)
  @Max(MAX_RATE_LIMIT)
  rateLimitPerSecond?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: `Most deliveries in flight to this endpoint at once (${MIN_MAX_IN_FLIGHT} to ${MAX_MAX_IN_FLIGHT}); null means the default of ${DEFAULT_MAX_IN_FLIGHT}`,
  })
  @IsOptional()
  @Min(MIN_MAX_IN_FLIGHT)
  @Max(MAX_MAX_IN_FLIGHT)
  maxInFlight?: number | null;

  @Field(() => DeliveryOrdering, {
    nullable: true,
    description: 'PER_KEY (the default): deliveries of one ordering key arrive one at a time, in sequence order; NONE: all in parallel',
  })
  @IsOptional()
  ordering?: DeliveryOrdering | null;

  /** Checked by the secret service, whose messages never repeat the value. */
  @Field(() => String, {
    nullable: true,
    description: 'Bring your own secret: whsec_ followed by base64 of 24 to 64 bytes; generated when absent',
  })
  sharedSecret?: string | null;
}

/** Absent fields are kept; see UpdateSubscriptionFields for what null means. */
@InputType()
export class UpdateWebhookSubscriptionInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(MAX_URL_LENGTH)
  @IsWebhookUrl()
  url?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayNotEmpty({ message: 'channels must name at least one channel' })
  @ArrayMaxSize(MAX_CHANNELS)
  @ArrayUnique()
  @MaxLength(MAX_NAME_LENGTH, { each: true })
  channels?: string[] | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(MAX_EVENTS)
  @ArrayUnique()
  @MaxLength(MAX_NAME_LENGTH, { each: true })
  events?: string[] | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;

  @Field(() => PayloadFormat, { nullable: true })
  payloadFormat?: PayloadFormat | null;

  @Field(() => [Int], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(MAX_RETRIES)
  @Min(MIN_RETRY_DELAY_SECONDS, { each: true })
  @Max(MAX_RETRY_DELAY_SECONDS, { each: true })
  retrySchedule?: number[] | null;

  @Field(() => GraphQLJSON, { nullable: true })
  @IsOptional()
  @IsWebhookHeaders()
  headers?: Record<string, string> | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(MIN_RATE_LIMIT)
  @Max(MAX_RATE_LIMIT)
  rateLimitPerSecond?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: `Most deliveries in flight to this endpoint at once (${MIN_MAX_IN_FLIGHT} to ${MAX_MAX_IN_FLIGHT}); null means the default of ${DEFAULT_MAX_IN_FLIGHT}`,
  })
  @IsOptional()
  @Min(MIN_MAX_IN_FLIGHT)
  @Max(MAX_MAX_IN_FLIGHT)
  maxInFlight?: number | null;

  @Field(() => DeliveryOrdering, {
    nullable: true,
    description: 'PER_KEY (the default): deliveries of one ordering key arrive one at a time, in sequence order; NONE: all in parallel',
  })
  @IsOptional()
  ordering?: DeliveryOrdering | null;
}

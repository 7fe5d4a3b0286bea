import { Field, Float, ID, InputType, Int, ObjectType, type ClassType } from 'type-graphql';
import { IsISO4217CurrencyCode, IsISO8601, IsOptional, IsPositive, Length, Matches, Max } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import type { DeliveryAttemptEntity, DeliveryEntity, EventEntity } from '../../db/entities/index.js';
import type { Page } from '../../pagination.js';
import { DeliveryStatus, Environment } from './enums.js';

@ObjectType()
export class Event {
  @Field(() => ID)
  id: string;

  @Field()
  type: string;

  @Field(() => Environment)
  environment: Environment;

  @Field(() => String, { nullable: true })
  idempotencyKey: string | null;

  @Field(() => GraphQLJSON)
  data: unknown;

  @Field()
  createdAt: Date;

  static from(e: EventEntity): Event {
    return Object.assign(new Event(), {
      id: e.id,
      type: e.type,
      environment: e.environment,
      idempotencyKey: e.idempotencyKey,
      data: e.data,
      createdAt: e.createdAt,
    });
  }
}

@ObjectType()
export class PublishedEvent {
  @Field(() => Event)
  event: Event;

  @Field({ description: 'True when the idempotency key was seen before: the earlier event is returned and nothing new is queued' })
  duplicate: boolean;
}

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
export class DeliveryStats {
  @Field(() => Int)
  total: number;

  @Field(() => Int)
  succeeded: number;

  @Field(() => Int)
  failed: number;

  @Field(() => Int)
  pending: number;

  @Field(() => Float, { nullable: true })
  successRate: number | null;

  @Field(() => Int, { nullable: true })
  latencyP50Ms: number | null;

  @Field(() => Int, { nullable: true })
  latencyP95Ms: number | null;

  @Field(() => Date, { nullable: true })
  lastSuccessAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastFailureAt: Date | null;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

/** A service page as the nodes, pageInfo and (counted when selected) totalCount of a connection type. */
export function toConnection<E, N>(
  page: Page<E>,
  map: (entity: E) => N,
): { nodes: N[]; pageInfo: PageInfo; countTotal: () => Promise<number>; totalCount(): Promise<number> } {
  return {
    nodes: page.nodes.map(map),
    countTotal: page.totalCount,
    totalCount() {
      return this.countTotal();
    },
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
  };
}

/** The fields every connection type has, over nodes of one type (type-graphql's generic-type pattern). */
function Connection<TNode extends object>(node: ClassType<TNode>) {
  @ObjectType()
  abstract class ConnectionType {
    @Field(() => [node])
    nodes: TNode[];

    @Field(() => PageInfo)
    pageInfo: PageInfo;

    countTotal: () => Promise<number>;

    @Field(() => Int)
    totalCount(): Promise<number> {
      return this.countTotal();
    }
  }
  return ConnectionType;
}

@ObjectType()
export class DeliveryConnection extends Connection(Delivery) {}

@ObjectType()
export class EventConnection extends Connection(Event) {}

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

@InputType()
export class InvoicePaidInput {
  @Field()
  @Length(1, 255)
  invoiceId: string;

  @Field()
  @Length(1, 255)
  customerId: string;

  @Field(() => Float)
  @IsPositive()
  @Max(1e15)
  amount: number;

  @Field()
  @IsISO4217CurrencyCode({ message: 'currency must be an ISO 4217 code such as EUR or USD' })
  currency: string;

  @Field()
  paidAt: Date;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 255)
  idempotencyKey?: string | null;
}

@InputType()
export class DisputeOpenedInput {
  @Field()
  @Length(1, 255)
  invoiceId: string;

  @Field()
  @Length(1, 255)
  customerId: string;

  @Field()
  @Length(1, 2000)
  reason: string;

  @Field()
  openedAt: Date;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 255)
  idempotencyKey?: string | null;
}

@InputType()
export class PromiseToPayInput {
  @Field()
  @Length(1, 255)
  invoiceId: string;

  @Field()
  @Length(1, 255)
  customerId: string;

  @Field({ description: 'ISO date, e.g. 2024-12-15' })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'promisedDate must be a date such as 2024-12-15' })
  @IsISO8601({ strict: true }, { message: 'promisedDate must be a real calendar date' })
  promisedDate: string;

  @Field(() => Float, { nullable: true })
  @IsOptional()
  @IsPositive()
  @Max(1e15)
  amount?: number | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 255)
  idempotencyKey?: string | null;
}

@InputType()
export class EventFilter {
  @Field(() => String, { nullable: true })
  type?: string | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  until?: Date | null;
}

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


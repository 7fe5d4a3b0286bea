import { Field, Float, InputType, ObjectType } from 'type-graphql';
import { IsISO4217CurrencyCode, IsISO8601, IsOptional, IsPositive, Length, Matches, Max } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
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

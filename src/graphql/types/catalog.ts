import { GraphQLJSON } from 'graphql-scalars';
import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType()
export class Channel {
  @Field({ description: 'e.g. invoices' })
  name: string;

  @Field({ description: 'e.g. Invoices' })
  label: string;

  @Field(() => [String], { description: 'e.g. [created, updated, deleted]' })
  actions: string[];

  @Field({ description: 'An exclusive channel (ledgers) cannot share a subscription with any other channel' })
  exclusive: boolean;
}

@ObjectType()
export class EventType {
  @Field({ description: 'channel.action, e.g. invoices.created' })
  name: string;

  @Field()
  channel: string;

  @Field()
  action: string;

  @Field()
  description: string;

  @Field(() => GraphQLJSON, { nullable: true, description: "JSON Schema that the event's data must satisfy, when one is defined" })
  schema: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  example: unknown;
}

/** Checked by CatalogService.defineEventType, where the catalog's rules live. */
@InputType()
export class DefineEventTypeInput {
  @Field({ description: 'channel.action; the channel is created when new' })
  name: string;

  @Field()
  description: string;

  @Field(() => GraphQLJSON, { nullable: true })
  schema?: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  example?: unknown;
}

import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { Environment } from './enums.js';
import { Connection } from './pagination.js';

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

  @Field(() => String, { nullable: true })
  orderingKey: string | null;

  @Field(() => Int, { nullable: true, description: '1, 2, 3, … among the events of its ordering key; null without a key' })
  sequence: number | null;

  @Field(() => GraphQLJSON)
  data: unknown;

  @Field()
  createdAt: Date;
}

@ObjectType()
export class EventConnection extends Connection(Event) {}

@InputType()
export class EventFilter {
  @Field(() => String, { nullable: true })
  type?: string | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  until?: Date | null;
}

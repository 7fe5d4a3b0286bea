import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { EventEntity } from '../../db/entities/index.js';
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

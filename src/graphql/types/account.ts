import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Environment, Role } from './enums.js';

@ObjectType()
export class Account {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field()
  createdAt: Date;
}

@ObjectType()
export class ApiKey {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field(() => Environment)
  environment: Environment;

  @Field({ description: 'The first characters of the token, enough to recognise it' })
  prefix: string;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Int, { nullable: true, description: "Requests per second this key may make; null: the installation's default" })
  rateLimitPerSecond: number | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field({ description: 'The whole token. Shown once; only a hash is stored.' })
  token: string;
}

@ObjectType()
export class CreatedAccount {
  @Field(() => Account)
  account: Account;

  @Field({ description: 'An ADMIN token of the new account for PRODUCTION, shown once' })
  adminToken: string;
}

@ObjectType()
export class Viewer {
  @Field(() => Account, { nullable: true })
  account: Account | null;

  @Field(() => Role)
  role: Role;

  @Field(() => Environment)
  environment: Environment;

  @Field(() => ApiKey)
  apiKey: ApiKey;
}

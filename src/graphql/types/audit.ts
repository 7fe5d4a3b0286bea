import { IsDate, IsOptional, IsString, MaxLength } from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AuditActorKind } from '../../audit/actions.js';
import { Environment } from './enums.js';
import { ApiKey } from './account.js';
import { PageInfo } from './pagination.js';

registerEnumType(AuditActorKind, {
  name: 'AuditActorKind',
  valuesConfig: { SYSTEM: { description: 'Hookline itself, e.g. a worker holding a failing endpoint' } },
});

@ObjectType()
export class AuditActor {
  @Field(() => AuditActorKind)
  kind: AuditActorKind;

  /** Resolved by the field resolver from apiKeyId. */
  apiKeyId: string | null;

  @Field(() => String, { nullable: true, description: 'Which part of Hookline acted, for SYSTEM' })
  name: string | null;
}

/** Declared for the schema; AuditActorResolver answers it. */
export interface AuditActorWithKey extends AuditActor {
  apiKey?: ApiKey | null;
}

@ObjectType()
export class AuditEntry {
  @Field(() => ID)
  id: string;

  @Field()
  at: Date;

  @Field(() => Environment)
  environment: Environment;

  @Field(() => AuditActor)
  actor: AuditActor;

  @Field({ description: 'e.g. subscription.created, secret.rotated, api_key.revoked, endpoint.held' })
  action: string;

  @Field()
  targetType: string;

  @Field(() => ID, { nullable: true })
  targetId: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The fields that changed, before and after; never secrets or header values' })
  changes: Record<string, unknown> | null;

  @Field({ description: "HMAC-SHA256 over this entry's canonical form and the previous entry's hash" })
  hash: string;
}

@ObjectType()
export class AuditEntryConnection {
  @Field(() => [AuditEntry])
  nodes: AuditEntry[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@ObjectType()
export class AuditVerification {
  @Field(() => Int)
  entries: number;

  @Field()
  intact: boolean;

  @Field(() => String, { nullable: true, description: "The newest entry's hash: keep it outside Hookline to detect a log cut short later" })
  headHash: string | null;

  @Field(() => ID, { nullable: true, description: 'The first entry whose hash does not match, when the log is not intact' })
  firstBrokenEntryId: string | null;
}

@InputType()
export class AuditFilter {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  targetId?: string | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  @IsDate()
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  @IsDate()
  until?: Date | null;
}

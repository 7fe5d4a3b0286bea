import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { Environment } from '../domain.js';

/** bigint comes back from pg as a string; chains stay far below 2^53 entries. */
const int8 = { to: (value: number) => value, from: (value: string | null) => (value === null ? null : Number(value)) };

/**
 * One entry of an account's audit log in one environment. Rows are only
 * ever inserted (and, past retention, deleted oldest first): no code path
 * updates one. `seq` numbers the entries of a chain 1, 2, 3, … in the order
 * their transactions committed, and `hash` chains each to the one before
 * (see src/audit/canonical.ts).
 */
@Entity({ name: 'audit_log' })
@Index('audit_log_chain_key', ['accountId', 'environment', 'seq'], { unique: true })
@Index('audit_log_target_idx', ['accountId', 'environment', 'targetId', 'seq'])
@Index('audit_log_action_idx', ['accountId', 'environment', 'action', 'seq'])
export class AuditEntryEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Column('text')
  environment: Environment;

  @Column('bigint', { transformer: int8 })
  seq: number;

  @Column('timestamptz')
  at: Date;

  /** API_KEY, CONSOLE_SESSION or SYSTEM. */
  @Column('text', { name: 'actor_kind' })
  actorKind: string;

  /** The key that acted; for a console session, the key that made its portal link. */
  @Column('uuid', { name: 'actor_api_key_id', nullable: true })
  actorApiKeyId: string | null;

  @Column('uuid', { name: 'actor_session_id', nullable: true })
  actorSessionId: string | null;

  /** For SYSTEM: which part of Hookline acted. */
  @Column('text', { name: 'actor_name', nullable: true })
  actorName: string | null;

  @Column('text')
  action: string;

  @Column('text', { name: 'target_type' })
  targetType: string;

  @Column('text', { name: 'target_id', nullable: true })
  targetId: string | null;

  /** Field name → { before, after } (or other figures of the act); never a secret or a header value. */
  @Column('jsonb', { nullable: true })
  changes: Record<string, unknown> | null;

  /** Names the master key whose derived audit key made `hash`, so that entries survive a master key rotation. */
  @Column('text', { name: 'key_id' })
  keyId: string;

  @Column('text')
  hash: string;
}

/**
 * The newest entry of each chain. Its row lock, taken by the statement that
 * appends an entry and held until commit, is what orders a chain: two
 * transactions of one account and environment append one after the other,
 * while other chains never wait for it.
 */
@Entity({ name: 'audit_chain_heads' })
export class AuditChainHeadEntity {
  @PrimaryColumn('uuid', { name: 'account_id' })
  accountId: string;

  @PrimaryColumn('text')
  environment: Environment;

  @Column('bigint', { transformer: int8 })
  seq: number;

  @Column('text')
  hash: string;
}

/**
 * A verified point of a chain: entries up to `seq` checked out and the one
 * at `seq` had `hash`. Verification starts from the newest one instead of
 * the first entry; retention leaves one at the last entry it deleted. `mac`
 * is an HMAC under a key of its own, so that a checkpoint cannot be made or
 * moved without the master key.
 */
@Entity({ name: 'audit_checkpoints' })
export class AuditCheckpointEntity {
  @PrimaryColumn('uuid', { name: 'account_id' })
  accountId: string;

  @PrimaryColumn('text')
  environment: Environment;

  @PrimaryColumn('bigint', { transformer: int8 })
  seq: number;

  @Column('text')
  hash: string;

  @Column('text', { name: 'key_id' })
  keyId: string;

  @Column('text')
  mac: string;

  /** When the entries between the previous checkpoint and this one were last checked again. */
  @Column('timestamptz', { name: 'swept_at' })
  sweptAt: Date;
}

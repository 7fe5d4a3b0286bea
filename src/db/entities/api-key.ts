import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { AccountEntity } from './account.js';
import { Environment, Role } from '../../domain.js';

@Entity({ name: 'api_keys' })
@Index('api_keys_account_idx', ['accountId', 'createdAt'])
export class ApiKeyEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Null for OPERATOR keys, which belong to no account. */
  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  name: string;

  @Column('text')
  role: Role;

  @Column('text')
  environment: Environment;

  @Column('text')
  prefix: string;

  /** SHA-256 of the whole token; the token itself is never stored. */
  @Index('api_keys_token_hash_key', { unique: true })
  @Column('bytea', { name: 'token_hash' })
  tokenHash: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  /** Requests per second this key may make; null: the installation's default (HOOKLINE_RATE_LIMIT_PER_KEY). */
  @Column('integer', { name: 'rate_limit_per_second', nullable: true })
  rateLimitPerSecond: number | null;
}

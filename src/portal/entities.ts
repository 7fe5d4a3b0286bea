import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { AccountEntity } from '../db/entities/account.js';
import { ApiKeyEntity } from '../db/entities/api-key.js';
import { Environment, Role } from '../domain.js';

/** A portal link that was handed out; used_at makes it single-use. */
@Entity({ name: 'portal_links' })
@Index('portal_links_account_idx', ['accountId', 'environment', 'createdAt'])
export class PortalLinkEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  environment: Environment;

  @Column('boolean', { name: 'read_only' })
  readOnly: boolean;

  /** The ADMIN key that made the link: revoking it ends the link and its sessions. */
  @Column('uuid', { name: 'api_key_id' })
  apiKeyId: string;

  @ManyToOne(() => ApiKeyEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id' })
  apiKey?: ApiKeyEntity;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'used_at', nullable: true })
  usedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** A browser signed into the console through a portal link. */
@Entity({ name: 'console_sessions' })
export class ConsoleSessionEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** SHA-256 of the session token; the token itself is never stored. */
  @Index('console_sessions_token_hash_key', { unique: true })
  @Column('bytea', { name: 'token_hash' })
  tokenHash: Buffer;

  @Column('uuid', { name: 'portal_link_id' })
  portalLinkId: string;

  @ManyToOne(() => PortalLinkEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'portal_link_id' })
  portalLink?: PortalLinkEntity;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  environment: Environment;

  /** ADMIN, or VIEWER for a read-only link. */
  @Column('text')
  role: Role;

  @Column('uuid', { name: 'api_key_id' })
  apiKeyId: string;

  @ManyToOne(() => ApiKeyEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id' })
  apiKey?: ApiKeyEntity;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

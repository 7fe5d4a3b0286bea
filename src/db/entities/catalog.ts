import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { AccountEntity } from './account.js';
import { Environment } from '../../domain.js';

/**
 * A channel groups the actions of one resource. Built-in channels have no
 * account and no environment; an account's own channels (from
 * defineEventType) carry its id and the environment they were defined in,
 * which alone sees them.
 */
@Entity({ name: 'event_channels' })
@Index('event_channels_builtin_name_key', ['name'], { unique: true, where: 'account_id IS NULL' })
@Index('event_channels_account_name_key', ['accountId', 'environment', 'name'], { unique: true, where: 'account_id IS NOT NULL' })
export class EventChannelEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  /** Null exactly when accountId is: built-in rows belong to every environment. */
  @Column('text', { nullable: true })
  environment: Environment | null;

  @Column('text')
  name: string;

  @Column('text')
  label: string;

  @Column('boolean', { default: false })
  exclusive: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** Built-in types have no account and no environment; an account's own carry both, as its channels do. */
@Entity({ name: 'event_types' })
@Index('event_types_builtin_name_key', ['name'], { unique: true, where: 'account_id IS NULL' })
@Index('event_types_account_name_key', ['accountId', 'environment', 'name'], { unique: true, where: 'account_id IS NOT NULL' })
export class EventTypeEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  /** Null exactly when accountId is: built-in rows belong to every environment. */
  @Column('text', { nullable: true })
  environment: Environment | null;

  /** channel.action */
  @Column('text')
  name: string;

  @Column('text')
  channel: string;

  @Column('text')
  action: string;

  @Column('text')
  description: string;

  @Column('jsonb', { nullable: true })
  schema: Record<string, unknown> | null;

  @Column('jsonb', { nullable: true })
  example: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

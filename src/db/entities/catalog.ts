import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { AccountEntity } from './account.js';

/**
 * A channel groups the actions of one resource. Built-in channels have no
 * account; an account's own channels (from defineEventType) carry its id.
 */
@Entity({ name: 'event_channels' })
@Index('event_channels_builtin_name_key', ['name'], { unique: true, where: 'account_id IS NULL' })
@Index('event_channels_account_name_key', ['accountId', 'name'], { unique: true, where: 'account_id IS NOT NULL' })
export class EventChannelEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  name: string;

  @Column('text')
  label: string;

  @Column('boolean', { default: false })
  exclusive: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@Entity({ name: 'event_types' })
@Index('event_types_builtin_name_key', ['name'], { unique: true, where: 'account_id IS NULL' })
@Index('event_types_account_name_key', ['accountId', 'name'], { unique: true, where: 'account_id IS NOT NULL' })
export class EventTypeEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id', nullable: true })
  accountId: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

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

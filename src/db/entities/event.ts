import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { AccountEntity } from './account.js';
import { Environment } from '../../domain.js';

@Entity({ name: 'events' })
@Index('events_scope_idx', ['accountId', 'environment', 'id'])
@Index('events_created_at_idx', ['createdAt'])
@Index('events_idempotency_key', ['accountId', 'environment', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
@Index('events_ordering_key', ['accountId', 'environment', 'orderingKey', 'sequence'], { unique: true, where: 'ordering_key IS NOT NULL' })
export class EventEntity {
  /** UUIDv7: time-ordered, so id order is creation order. */
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  environment: Environment;

  @Column('text')
  type: string;

  @Column('jsonb')
  data: unknown;

  @Column('text', { name: 'idempotency_key', nullable: true })
  idempotencyKey: string | null;

  /** With a key: the SHA-256 of the canonical JSON of type and data, to tell a repeat from a reuse. */
  @Column('text', { name: 'idempotency_hash', nullable: true })
  idempotencyHash: string | null;

  /** Events with the same key reach each PER_KEY subscription in sequence order. */
  @Column('text', { name: 'ordering_key', nullable: true })
  orderingKey: string | null;

  /** 1, 2, 3, … per account, environment and ordering key, in commit order; null without a key. */
  @Column('int', { nullable: true })
  sequence: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { SubscriptionEntity } from './subscription.js';
import { EventEntity } from './event.js';
import { DeliveryStatus, Environment } from '../../domain.js';

@Entity({ name: 'deliveries' })
@Index('deliveries_scope_idx', ['accountId', 'environment', 'id'])
@Index('deliveries_subscription_idx', ['subscriptionId', 'id'])
@Index('deliveries_event_subscription_key', ['eventId', 'subscriptionId'], { unique: true })
export class DeliveryEntity {
  /** UUIDv7; also the webhook-id header, the same on every attempt. */
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @Column('text')
  environment: Environment;

  @Column('uuid', { name: 'event_id' })
  eventId: string;

  @ManyToOne(() => EventEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'event_id' })
  event?: EventEntity;

  @Column('uuid', { name: 'subscription_id' })
  subscriptionId: string;

  @ManyToOne(() => SubscriptionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'subscription_id' })
  subscription?: SubscriptionEntity;

  @Column('text', { default: DeliveryStatus.PENDING })
  status: DeliveryStatus;

  @Column('int', { name: 'attempt_count', default: 0 })
  attemptCount: number;

  @Column('timestamptz', { name: 'next_attempt_at', nullable: true })
  nextAttemptAt: Date | null;

  @Column('timestamptz', { name: 'last_attempt_at', nullable: true })
  lastAttemptAt: Date | null;

  /**
   * The pg-boss job that is to make the next attempt. Only that job may
   * attempt the delivery: a job left over from an earlier schedule (a
   * redelivery, a crash after commit) finds another id here and does nothing.
   */
  @Column('uuid', { name: 'current_job_id', nullable: true })
  currentJobId: string | null;

  /** attempt_count when the delivery was last (re)queued: the retry schedule starts over from there. */
  @Column('int', { name: 'schedule_offset', default: 0 })
  scheduleOffset: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

@Entity({ name: 'delivery_attempts' })
@Index('delivery_attempts_delivery_number_key', ['deliveryId', 'number'], { unique: true })
@Index('delivery_attempts_subscription_idx', ['subscriptionId', 'startedAt'])
export class DeliveryAttemptEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'delivery_id' })
  deliveryId: string;

  @ManyToOne(() => DeliveryEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'delivery_id' })
  delivery?: DeliveryEntity;

  /** Denormalised so that endpoint statistics read one table. */
  @Column('uuid', { name: 'subscription_id' })
  subscriptionId: string;

  @ManyToOne(() => SubscriptionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'subscription_id' })
  subscription?: SubscriptionEntity;

  @Column('int')
  number: number;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  @Column('int', { name: 'duration_ms' })
  durationMs: number;

  @Column('int', { name: 'response_status', nullable: true })
  responseStatus: number | null;

  @Column('text', { name: 'response_body', nullable: true })
  responseBody: string | null;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('boolean')
  succeeded: boolean;
}

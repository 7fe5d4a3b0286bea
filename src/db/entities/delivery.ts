import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { SubscriptionEntity } from './subscription.js';
import { EventEntity } from './event.js';
import { DeliveryStatus, Environment } from '../../domain.js';

@Entity({ name: 'deliveries' })
@Index('deliveries_scope_idx', ['accountId', 'environment', 'id'])
@Index('deliveries_subscription_idx', ['subscriptionId', 'id'])
@Index('deliveries_event_subscription_key', ['eventId', 'subscriptionId'], { unique: true })
@Index('deliveries_due_idx', ['subscriptionId', 'nextAttemptAt'], { where: "status IN ('PENDING', 'RETRYING') AND NOT order_wait" })
@Index('deliveries_ordering_key', ['subscriptionId', 'orderingKey', 'sequence'], { unique: true, where: 'ordering_key IS NOT NULL' })
@Index('deliveries_waiting_idx', ['subscriptionId', 'orderingKey', 'sequence'], { where: 'order_wait' })
@Index('deliveries_leased_idx', ['subscriptionId'], { where: 'lease_token IS NOT NULL' })
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

  /** The worker process holding the lease; with lease_token and lease_expires_at, null when not claimed. */
  @Column('uuid', { name: 'lease_owner', nullable: true })
  leaseOwner: string | null;

  /**
   * Set when a worker claims the delivery, new on every claim. Only the
   * holder of the current token moves the delivery on: a worker whose lease
   * expired (it stalled or died) still has its attempt recorded, but the
   * schedule is the new holder's.
   */
  @Column('uuid', { name: 'lease_token', nullable: true })
  leaseToken: string | null;

  /** A lease past this time is void and the delivery may be claimed again (its worker died). */
  @Column('timestamptz', { name: 'lease_expires_at', nullable: true })
  leaseExpiresAt: Date | null;

  /** The delivery waits for a send slot of a rate-limited subscription that it has already reserved. */
  @Column('boolean', { name: 'slot_reserved', default: false })
  slotReserved: boolean;

  /** The event's ordering key: deliveries of one subscription and key go one at a time, in sequence order. */
  @Column('text', { name: 'ordering_key', nullable: true })
  orderingKey: string | null;

  /** 1, 2, 3, … per subscription and ordering key, without gaps; null without a key. */
  @Column('int', { nullable: true })
  sequence: number | null;

  /**
   * Waits behind the delivery of the same subscription and key with the
   * previous sequence, which has not succeeded yet: not claimable until that
   * one succeeds, is cancelled or is let go (unblockOrderingKey).
   */
  @Column('boolean', { name: 'order_wait', default: false })
  orderWait: boolean;

  /** A FAILED delivery whose key was unblocked: it no longer holds back the later ones. */
  @Column('boolean', { name: 'order_released', default: false })
  orderReleased: boolean;

  /** Redelivery was asked for while an attempt was in flight: it is queued again once that attempt is recorded. */
  @Column('boolean', { name: 'redeliver_requested', default: false })
  redeliverRequested: boolean;

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

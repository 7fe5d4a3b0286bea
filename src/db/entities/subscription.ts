import { Column, JoinColumn, ManyToOne, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { AccountEntity } from './account.js';
import { DeliveryOrdering, Environment, PayloadFormat, SubscriptionKind } from '../../domain.js';
import type { EndpointHealthState } from '../../delivery-engine/endpoint-health.js';

@Entity({ name: 'webhook_subscriptions' })
@Index('webhook_subscriptions_scope_idx', ['accountId', 'environment', 'createdAt'])
export class SubscriptionEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'account_id' })
  accountId: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column('text')
  environment: Environment;

  /** PULL: no endpoint; its url reads urn:hookline:pull:<id> and its deliveries wait to be leased by pullDeliveries. */
  @Column('text', { default: SubscriptionKind.PUSH })
  kind: SubscriptionKind;

  @Column('text')
  url: string;

  @Column('text', { nullable: true })
  description: string | null;

  @Column('text', { array: true })
  channels: string[];

  @Column('text', { array: true, default: () => "'{}'" })
  events: string[];

  @Column('boolean', { default: true })
  enabled: boolean;

  @Column('text', { name: 'disabled_reason', nullable: true })
  disabledReason: string | null;

  @Column('text', { name: 'payload_format', default: PayloadFormat.ENVELOPE })
  payloadFormat: PayloadFormat;

  @Column('int', { name: 'retry_schedule', array: true })
  retrySchedule: number[];

  @Column('jsonb', { nullable: true })
  headers: Record<string, string> | null;

  @Column('int', { name: 'rate_limit_per_second', nullable: true })
  rateLimitPerSecond: number | null;

  /**
   * With a rate limit: the earliest time the next send to this endpoint may
   * start. Each send reserves a slot and moves it on by 1/rate seconds.
   */
  @Column('timestamptz', { name: 'rate_next_slot_at', nullable: true })
  rateNextSlotAt: Date | null;

  /** Start of the current run of failed deliveries; cleared by a success. */
  @Column('timestamptz', { name: 'failing_since', nullable: true })
  failingSince: Date | null;

  /** Deleted subscriptions are kept so that their delivery history stays readable. */
  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** PER_KEY: deliveries of one ordering key go one at a time, in sequence order; NONE: all in parallel. */
  @Column('text', { default: 'PER_KEY' })
  ordering: DeliveryOrdering;

  /** Most deliveries to this endpoint in flight across all workers; null: the workers' default. */
  @Column('int', { name: 'max_in_flight', nullable: true })
  maxInFlight: number | null;

  /** HEALTHY, FAILING or HELD (src/delivery-engine/endpoint-health.ts): a held endpoint's deliveries wait for a probe to succeed. */
  @Column('text', { name: 'health_state', default: 'HEALTHY' })
  healthState: EndpointHealthState;

  /** When the endpoint entered its current health state; null while it has always been healthy. */
  @Column('timestamptz', { name: 'health_since', nullable: true })
  healthSince: Date | null;

  /** Failed attempts since the last success. */
  @Column('int', { name: 'consecutive_failures', default: 0 })
  consecutiveFailures: number;

  /** While HELD: when one delivery may be sent as a probe. */
  @Column('timestamptz', { name: 'next_probe_at', nullable: true })
  nextProbeAt: Date | null;

  /** PULL: the last pullDeliveries call, to within a few seconds (it is written at most that often). */
  @Column('timestamptz', { name: 'last_pulled_at', nullable: true })
  lastPulledAt: Date | null;

  /** PULL: deleted after this many seconds without a pull (e.g. one made by hookline listen); null: kept. */
  @Column('int', { name: 'expire_after_idle_seconds', nullable: true })
  expireAfterIdleSeconds: number | null;
}

@Entity({ name: 'signing_secrets' })
@Index('signing_secrets_subscription_idx', ['subscriptionId', 'createdAt'])
export class SigningSecretEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'subscription_id' })
  subscriptionId: string;

  @ManyToOne(() => SubscriptionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'subscription_id' })
  subscription?: SubscriptionEntity;

  /** AES-256-GCM: nonce, tag and ciphertext of the whsec_ secret. */
  @Column('bytea')
  ciphertext: Buffer;

  /** Last four characters of the secret. */
  @Column('text')
  hint: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;
}

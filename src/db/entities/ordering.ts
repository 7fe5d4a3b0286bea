import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { AccountEntity } from './account.js';
import { SubscriptionEntity } from './subscription.js';
import { Environment } from '../../domain.js';

/**
 * One row per account, environment and ordering key: the last sequence
 * given to an event of the key (its row lock, held until commit, makes
 * sequence order commit order), and how far the fan-out has gone, so that
 * events of a key are fanned out in sequence order whatever batches they
 * reach the workers in.
 */
@Entity({ name: 'ordering_keys' })
export class OrderingKeyEntity {
  @PrimaryColumn('uuid', { name: 'account_id' })
  accountId: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @PrimaryColumn('text')
  environment: Environment;

  @PrimaryColumn('text', { name: 'ordering_key' })
  orderingKey: string;

  @Column('int', { name: 'last_sequence' })
  lastSequence: number;

  /** Every event of the key up to this sequence has been fanned out. */
  @Column('int', { name: 'fanned_out_through', default: 0 })
  fannedOutThrough: number;
}

/** The last delivery sequence of a subscription and ordering key: deliveries are numbered without gaps. */
@Entity({ name: 'delivery_sequences' })
export class DeliverySequenceEntity {
  @PrimaryColumn('uuid', { name: 'subscription_id' })
  subscriptionId: string;

  @ManyToOne(() => SubscriptionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'subscription_id' })
  subscription?: SubscriptionEntity;

  @PrimaryColumn('text', { name: 'ordering_key' })
  orderingKey: string;

  @Column('int', { name: 'last_sequence' })
  lastSequence: number;
}

import { AccountEntity } from './account.js';
import { ApiKeyEntity } from './api-key.js';
import { EventChannelEntity, EventTypeEntity } from './catalog.js';
import { DeliveryAttemptEntity, DeliveryEntity } from './delivery.js';
import { EventEntity } from './event.js';
import { DeliverySequenceEntity, OrderingKeyEntity } from './ordering.js';
import { SettingEntity } from './setting.js';
import { SigningSecretEntity, SubscriptionEntity } from './subscription.js';
import { ConsoleSessionEntity, PortalLinkEntity } from '../../portal/entities.js';
import { AuditChainHeadEntity, AuditCheckpointEntity, AuditEntryEntity } from '../../audit/entities.js';

export {
  AccountEntity,
  ApiKeyEntity,
  DeliveryAttemptEntity,
  DeliveryEntity,
  DeliverySequenceEntity,
  EventChannelEntity,
  EventEntity,
  EventTypeEntity,
  OrderingKeyEntity,
  SettingEntity,
  SigningSecretEntity,
  SubscriptionEntity,
};

export const entities = [
  AccountEntity,
  ApiKeyEntity,
  EventChannelEntity,
  EventTypeEntity,
  SubscriptionEntity,
  SigningSecretEntity,
  EventEntity,
  DeliveryEntity,
  DeliveryAttemptEntity,
  OrderingKeyEntity,
  DeliverySequenceEntity,
  SettingEntity,
  PortalLinkEntity,
  ConsoleSessionEntity,
  AuditEntryEntity,
  AuditChainHeadEntity,
  AuditCheckpointEntity,
];

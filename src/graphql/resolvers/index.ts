import type { NonEmptyArray } from 'type-graphql';
import { AccountResolver } from './account.js';
import { AuditActorResolver, AuditResolver } from './audit.js';
import { CatalogResolver } from './catalog.js';
import { BlockedOrderingKeyResolver, DeliveryResolver, SubscriptionHistoryResolver } from './delivery.js';
import { EventResolver } from './event.js';
import { PortalResolver } from './portal.js';
import { PullResolver } from './pull.js';
import { SubscriptionSeriesResolver } from './subscription-series.js';
import { SubscriptionResolver } from './subscription.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const resolvers: NonEmptyArray<Function> = [
  AccountResolver,
  CatalogResolver,
  SubscriptionResolver,
  SubscriptionHistoryResolver,
  EventResolver,
  DeliveryResolver,
  BlockedOrderingKeyResolver,
  PortalResolver,
  SubscriptionSeriesResolver,
  AuditResolver,
  AuditActorResolver,
  PullResolver,
];

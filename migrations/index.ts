import { Initial1795000000000 } from './1795000000000-initial.js';
import { Catalog1795000000001 } from './1795000000001-catalog.js';
import { CatalogEnvironment1795000000002 } from './1795000000002-catalog-environment.js';
import { RateLimitSlots1795000000003 } from './1795000000003-rate-limit-slots.js';
import { EndpointHealth1795000000010 } from './1795000000010-endpoint-health.js';
import { DeliveryLeases1795000000011 } from './1795000000011-delivery-leases.js';
import { RateLimits1795000000020 } from './1795000000020-rate-limits.js';
import { SealedHeadersAndSettings1795000000030 } from './1795000000030-sealed-headers-and-settings.js';
import { PublishIdempotencyAndKeyChanges1795000000040 } from './1795000000040-publish-idempotency-and-key-changes.js';
import { PortalSessions1795000000050 } from './1795000000050-portal-sessions.js';
import { EventPipeline1795000000060 } from './1795000000060-event-pipeline.js';
import { ApiKeyRateLimits1795000000070 } from './1795000000070-api-key-rate-limits.js';
import { AuditLog1795000000080 } from './1795000000080-audit-log.js';
import { OperationsChannel1795000000081 } from './1795000000081-operations-channel.js';
import { PullSubscriptions1795000000090 } from './1795000000090-pull-subscriptions.js';

/** Every migration, oldest first. A new migration is added here as well as in its own file. */
export const migrations = [
  Initial1795000000000,
  Catalog1795000000001,
  CatalogEnvironment1795000000002,
  RateLimitSlots1795000000003,
  EndpointHealth1795000000010,
  DeliveryLeases1795000000011,
  RateLimits1795000000020,
  SealedHeadersAndSettings1795000000030,
  PublishIdempotencyAndKeyChanges1795000000040,
  PortalSessions1795000000050,
  EventPipeline1795000000060,
  ApiKeyRateLimits1795000000070,
  AuditLog1795000000080,
  OperationsChannel1795000000081,
  PullSubscriptions1795000000090,
];

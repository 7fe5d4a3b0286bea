import DataLoader from 'dataloader';
import type {
  ApiKeyEntity,
  DeliveryAttemptEntity,
  DeliveryEntity,
  EventEntity,
  SigningSecretEntity,
  SubscriptionEntity,
} from '../db/entities/index.js';
import type { Scope } from '../domain.js';
import { NotFoundError } from '../errors.js';
import type { Services } from '../services.js';
import { scopeOf, type GraphQLContext } from './context.js';

/**
 * Per-request batching of the reads that field resolvers make: a page of 50
 * deliveries asks for its events, subscriptions and attempts in one statement
 * each rather than one per delivery. A loader caches for the request only, and
 * only within the scope (account and environment) of the request's key.
 */
export interface Loaders {
  event: DataLoader<string, EventEntity>;
  /** Deleted subscriptions too: a delivery made before the deletion still shows where it went. */
  subscription: DataLoader<string, SubscriptionEntity>;
  attemptsOfDelivery: DataLoader<string, DeliveryAttemptEntity[]>;
  deliveriesOfEvent: DataLoader<string, DeliveryEntity[]>;
  activeSecretsOfSubscription: DataLoader<string, SigningSecretEntity[]>;
  /** The keys that acted in audit entries; null for one that is gone. */
  auditActorKey: DataLoader<string, ApiKeyEntity | null>;
}

const perRequest = new WeakMap<GraphQLContext, Loaders>();

export function loadersOf(ctx: GraphQLContext): Loaders {
  let loaders = perRequest.get(ctx);
  if (!loaders) {
    loaders = createLoaders(ctx.services, scopeOf(ctx));
    perRequest.set(ctx, loaders);
  }
  return loaders;
}

function byId<T extends { id: string }>(what: string, ids: readonly string[], rows: T[]): Array<T | Error> {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? new NotFoundError(what, id));
}

function groupedBy<T>(ids: readonly string[], rows: T[], key: (row: T) => string): T[][] {
  const groups = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return ids.map((id) => groups.get(id)!);
}

export function createLoaders(services: Services, scope: Scope): Loaders {
  return {
    event: new DataLoader(async (ids) => byId('Event', ids, await services.events.getMany(scope, ids))),
    subscription: new DataLoader(async (ids) => byId('Webhook subscription', ids, await services.subscriptions.getManyIncludingDeleted(scope, ids))),
    attemptsOfDelivery: new DataLoader(async (ids) => groupedBy(ids, await services.deliveries.attemptsOf(scope, ids), (a) => a.deliveryId)),
    deliveriesOfEvent: new DataLoader(async (ids) => groupedBy(ids, await services.deliveries.listForEvents(scope, ids), (d) => d.eventId)),
    activeSecretsOfSubscription: new DataLoader(async (ids) => groupedBy(ids, await services.secrets.listActiveFor(ids), (s) => s.subscriptionId)),
    auditActorKey: new DataLoader(async (ids) => {
      const keys = new Map((await services.audit.actorKeys(scope, ids)).map((k) => [k.id, k]));
      return ids.map((id) => keys.get(id) ?? null);
    }),
  };
}

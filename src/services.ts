import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { AccountService } from './accounts/service.js';
import { AuditService } from './audit/service.js';
import { CatalogService } from './catalog/service.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics/metrics.js';
import type { Logger } from './logger.js';
import { DeliveryService } from './deliveries/service.js';
import { DeliveryDns } from './delivery-engine/dns.js';
import { EventService } from './events/service.js';
import { Keyring } from './secrets/keyring.js';
import { StatsSeriesService } from './deliveries/stats-series.js';
import { PortalService } from './portal/service.js';
import { SecretService } from './secrets/service.js';
import { SubscriptionService } from './subscriptions/service.js';
import type { WakeTopic } from './queue/wakeup.js';
import { AttemptStore } from './delivery-engine/attempt-store.js';
import { DeliveryRequestBuilder } from './delivery-engine/request.js';
import { OperationsReporter } from './operations/reporter.js';
import { PullService } from './pull/service.js';
import { PullWaiters } from './pull/waiters.js';
import { USER_AGENT } from './version.js';

/** What the domain services are built from. */
export interface ServiceDeps {
  db: DataSource;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  /** Encrypts signing secrets and header values at rest. */
  masterKey: Keyring | Buffer;
  metrics: Metrics;
  /** Wakes the workers; called after a commit that queued event jobs or made deliveries due. */
  wakeWorkers: (topic: WakeTopic) => void;
  /** Wakes PULL consumers' long polls of these subscriptions, in every API process; called after the commit. */
  wakePull: (subscriptionIds: string[]) => void;
  /** For the LISTEN connection of the long polls. */
  databaseUrl: string;
  /** Connections in pipeline mode for publishing (see EventService); an API process has them. */
  publishPool?: pg.Pool;
}

/** The domain services; resolvers and workers reach the rules only through these. */
export interface Services {
  accounts: AccountService;
  catalog: CatalogService;
  secrets: SecretService;
  subscriptions: SubscriptionService;
  events: EventService;
  deliveries: DeliveryService;
  statsSeries: StatsSeriesService;
  portal: PortalService;
  audit: AuditService;
  pull: PullService;
}

export function createServices(deps: ServiceDeps): Services {
  const audit = new AuditService(deps.db, deps.masterKey instanceof Keyring ? deps.masterKey.keys : [deps.masterKey], deps.logger);
  const catalog = new CatalogService(deps.db, audit, { maxEventTypes: deps.config.maxEventTypes, schemaCheckMs: deps.config.schemaCheckMs });
  const secrets = new SecretService(deps.db, deps.masterKey);
  const dns = new DeliveryDns({ timeoutMs: deps.config.dnsTimeoutMs, servers: deps.config.dnsServers });
  const subscriptions = new SubscriptionService(
    deps.db,
    catalog,
    secrets,
    // The delivery workers' resolver and deadline, so that a name is judged on save as it will be on delivery.
    {
      allowPrivate: deps.config.allowPrivateUrls,
      resolve: (host) => dns.resolve(host),
    },
    audit,
    {
      maxSubscriptions: deps.config.maxSubscriptions,
    },
  );
  const deliveries = new DeliveryService(deps.db, subscriptions, deps.wakeWorkers, audit, deps.wakePull);
  const events = new EventService(deps.db, catalog, deps.boss, deps.wakeWorkers, deps.publishPool ?? null);
  const reporter = new OperationsReporter({ db: deps.db, events, audit, logger: deps.logger });
  const pull = new PullService({
    db: deps.db,
    subscriptions,
    secrets,
    store: new AttemptStore(deps.db, catalog, subscriptions, reporter),
    requests: new DeliveryRequestBuilder(catalog, secrets, USER_AGENT),
    waiters: new PullWaiters(deps.databaseUrl, deps.logger),
    reporter,
    metrics: deps.metrics,
    wakePull: deps.wakePull,
  });
  return {
    accounts: new AccountService(deps.db, audit, { rateLimitPerKeyCeiling: deps.config.api.rateLimitPerKeyCeiling }),
    catalog,
    secrets,
    subscriptions,
    events,
    deliveries,
    statsSeries: new StatsSeriesService(deps.db),
    // Portal links are signed with a key derived from the current master key.
    portal: new PortalService(deps.db, deps.masterKey instanceof Keyring ? deps.masterKey.current : deps.masterKey, audit),
    audit,
    pull,
  };
}

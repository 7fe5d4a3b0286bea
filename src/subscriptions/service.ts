import { In, IsNull, type DataSource, type EntityManager } from 'typeorm';
import { AUDIT_ACTIONS, fieldChanges, systemActor, type AuditActor } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import { AUDITED_SUBSCRIPTION_FIELDS, auditedSubscription } from '../audit/subjects.js';
import type { CatalogService } from '../catalog/service.js';
import { channelOf, checkExclusiveChannels } from '../catalog/rules.js';
import { SubscriptionEntity } from '../db/entities/index.js';
import { DeliveryOrdering, Environment, PayloadFormat, SubscriptionKind, type Scope } from '../domain.js';
import { AppError, InputError, NotFoundError, type FieldError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { checkDestination, DestinationError, type DestinationPolicy } from '../net/address-policy.js';
import type { SecretService } from '../secrets/service.js';
import { DEFAULT_RETRY_SCHEDULE } from './retry-schedule.js';
import { EndpointHealthState } from '../delivery-engine/endpoint-health.js';
import { urlProblem } from './validation.js';

export interface CreateSubscriptionFields {
  url: string;
  description?: string | null;
  channels: string[];
  events?: string[] | null;
  payloadFormat?: PayloadFormat | null;
  retrySchedule?: number[] | null;
  headers?: Record<string, string> | null;
  rateLimitPerSecond?: number | null;
  sharedSecret?: string | null;
  maxInFlight?: number | null;
  ordering?: DeliveryOrdering | null;
}

/**
 * Absent fields keep their value. An explicit null gives what create gives
 * when the field is left out (no description, every event of the channels,
 * the default retry schedule, no headers, no rate limit, ENVELOPE); url,
 * channels and enabled have no such default and cannot be null.
 */
export interface UpdateSubscriptionFields {
  url?: string | null;
  description?: string | null;
  channels?: string[] | null;
  events?: string[] | null;
  enabled?: boolean | null;
  payloadFormat?: PayloadFormat | null;
  retrySchedule?: number[] | null;
  headers?: Record<string, string> | null;
  rateLimitPerSecond?: number | null;
  maxInFlight?: number | null;
  ordering?: DeliveryOrdering | null;
}

export interface CreatePullSubscriptionFields {
  description?: string | null;
  channels: string[];
  events?: string[] | null;
  payloadFormat?: PayloadFormat | null;
  retrySchedule?: number[] | null;
  ordering?: DeliveryOrdering | null;
  expireAfterIdleSeconds?: number | null;
}

/** The URL a PULL subscription reads: it names the subscription, and no endpoint. */
export function pullSubscriptionUrl(id: string): string {
  return `urn:hookline:pull:${id}`;
}

/** Who deletes an idle PULL subscription, in its audit entry. */
const IDLE_EXPIRY_ACTOR = 'pull-idle-expiry';

/** A PULL subscription with an idle expiry that nobody has pulled from for that long. */
function isIdle(s: SubscriptionEntity, now: Date): boolean {
  if (s.kind !== SubscriptionKind.PULL || s.expireAfterIdleSeconds === null) return false;
  return (s.lastPulledAt ?? s.createdAt).getTime() <= now.getTime() - s.expireAfterIdleSeconds * 1000;
}

/** Settings of a push endpoint that mean nothing to a PULL subscription. */
const PUSH_ONLY_FIELDS = ['url', 'headers', 'rateLimitPerSecond', 'maxInFlight'] as const;

/** What the rules are checked against: the subscription as it would be saved. */
type Candidate = Pick<SubscriptionEntity, 'url' | 'channels' | 'events'>;

export interface SubscriptionLimits {
  /** Subscriptions (not deleted) per account and environment. */
  maxSubscriptions: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = { maxSubscriptions: 100 };

const WHAT = 'Webhook subscription';
const RESET_HEALTH = { healthState: EndpointHealthState.HEALTHY, healthSince: null, consecutiveFailures: 0, nextProbeAt: null };
const DISABLED_BY_ADMIN = 'Disabled by an ADMIN with updateWebhookSubscription';

/**
 * Webhook subscriptions of an account and environment. Every method that a
 * client reaches takes the scope; an id from another account or
 * environment, a malformed id and a deleted subscription are all NOT_FOUND.
 */
export class SubscriptionService {
  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly secrets: SecretService,
    private readonly destinations: DestinationPolicy,
    private readonly audit: AuditService,
    private readonly limits: SubscriptionLimits = DEFAULT_SUBSCRIPTION_LIMITS,
  ) {}

  async create(scope: Scope, actor: AuditActor, fields: CreateSubscriptionFields): Promise<{ subscription: SubscriptionEntity; secret: string }> {
    const secret = this.secrets.prepare(fields.sharedSecret, 'input.sharedSecret');
    const candidate: Candidate = { url: fields.url, channels: fields.channels, events: fields.events ?? [] };
    const url = await this.check(scope, candidate, await this.urlProblems(fields.url));
    return this.insert(scope, actor, secret, (id) => ({
      kind: SubscriptionKind.PUSH,
      url,
      description: fields.description ?? null,
      channels: candidate.channels,
      events: candidate.events,
      payloadFormat: fields.payloadFormat ?? PayloadFormat.ENVELOPE,
      retrySchedule: fields.retrySchedule ?? [...DEFAULT_RETRY_SCHEDULE],
      headers: this.secrets.sealHeaders(id, fields.headers ?? null),
      rateLimitPerSecond: fields.rateLimitPerSecond ?? null,
      maxInFlight: fields.maxInFlight ?? null,
      ordering: fields.ordering ?? DeliveryOrdering.PER_KEY,
    }));
  }

  /**
   * A PULL subscription: no endpoint (its url names it), deliveries wait
   * for its consumers' pullDeliveries. With expireAfterIdleSeconds, it is
   * deleted once nobody has pulled for that long (see expireIdle).
   */
  async createPull(
    scope: Scope,
    actor: AuditActor,
    fields: CreatePullSubscriptionFields,
  ): Promise<{ subscription: SubscriptionEntity; secret: string }> {
    const secret = this.secrets.prepare(null, 'input.sharedSecret');
    const candidate: Candidate = { url: pullSubscriptionUrl(newId()), channels: fields.channels, events: fields.events ?? [] };
    await this.check(scope, candidate, []);
    return this.insert(scope, actor, secret, (id) => ({
      kind: SubscriptionKind.PULL,
      url: pullSubscriptionUrl(id),
      description: fields.description ?? null,
      channels: candidate.channels,
      events: candidate.events,
      payloadFormat: fields.payloadFormat ?? PayloadFormat.ENVELOPE,
      retrySchedule: fields.retrySchedule ?? [...DEFAULT_RETRY_SCHEDULE],
      headers: null,
      rateLimitPerSecond: null,
      maxInFlight: null,
      ordering: fields.ordering ?? DeliveryOrdering.PER_KEY,
      expireAfterIdleSeconds: fields.expireAfterIdleSeconds ?? null,
    }));
  }

  /** Inserts a new subscription with its first secret, within the quota, and audits it. */
  private async insert(
    scope: Scope,
    actor: AuditActor,
    secret: string,
    settings: (id: string) => Partial<SubscriptionEntity>,
  ): Promise<{ subscription: SubscriptionEntity; secret: string }> {
    return this.db.transaction(async (manager) => {
      await this.checkQuota(manager, scope);
      const id = newId();
      await manager.insert(SubscriptionEntity, {
        ...settings(id),
        id,
        accountId: scope.accountId,
        environment: scope.environment,
        enabled: true,
        disabledReason: null,
      });
      await this.secrets.add(manager, id, secret);
      const subscription = await manager.findOneByOrFail(SubscriptionEntity, { id });
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.subscriptionCreated,
        targetType: 'subscription',
        targetId: id,
        changes: fieldChanges(null, auditedSubscription(subscription), AUDITED_SUBSCRIPTION_FIELDS),
      });
      return { subscription, secret };
    });
  }

  /** Applies the changes and checks the whole resulting subscription, the exclusive-channel rule included. */
  async update(scope: Scope, actor: AuditActor, id: string, fields: UpdateSubscriptionFields): Promise<SubscriptionEntity> {
    const nulls = (['url', 'channels', 'enabled'] as const)
      .filter((name) => fields[name] === null)
      .map((name) => ({ field: `input.${name}`, message: 'cannot be null; leave it out to keep the current value' }));
    if (nulls.length) throw new InputError(nulls);

    // The destination is checked when the URL is set: the delivery worker
    // checks every connection anyway, and a host that stopped resolving must
    // not keep an ADMIN from disabling or editing the subscription. It may
    // resolve a host name, so it runs before the row is locked.
    const urlProblems = typeof fields.url === 'string' ? await this.urlProblems(fields.url) : [];

    return this.db.transaction(async (manager) => {
      const current = await this.lockForUpdate(manager, scope, id);
      if (current.kind === SubscriptionKind.PULL) {
        const pushOnly = PUSH_ONLY_FIELDS.filter((name) => fields[name] !== undefined && fields[name] !== null);
        if (pushOnly.length)
          throw new InputError(
            pushOnly.map((name) => ({ field: `input.${name}`, message: 'a PULL subscription has no endpoint; its consumer pulls its deliveries' })),
          );
      }
      const candidate: Candidate = {
        url: fields.url ?? current.url,
        channels: fields.channels ?? current.channels,
        events: fields.events === undefined ? current.events : (fields.events ?? []),
      };
      const url = await this.check(scope, candidate, urlProblems);

      const changes: Partial<SubscriptionEntity> = { url, channels: candidate.channels, events: candidate.events };
      if (fields.description !== undefined) changes.description = fields.description;
      if (fields.payloadFormat !== undefined) changes.payloadFormat = fields.payloadFormat ?? PayloadFormat.ENVELOPE;
      if (fields.retrySchedule !== undefined) changes.retrySchedule = fields.retrySchedule ?? [...DEFAULT_RETRY_SCHEDULE];
      if (fields.headers !== undefined) changes.headers = this.secrets.sealHeaders(current.id, fields.headers);
      if (fields.rateLimitPerSecond !== undefined) changes.rateLimitPerSecond = fields.rateLimitPerSecond;
      if (fields.maxInFlight !== undefined) changes.maxInFlight = fields.maxInFlight;
      if (fields.ordering !== undefined) changes.ordering = fields.ordering ?? DeliveryOrdering.PER_KEY;
      if (changes.ordering === DeliveryOrdering.NONE && current.ordering !== DeliveryOrdering.NONE) {
        // Nothing waits behind its key any more: what waited is due as it is.
        await manager.query(`UPDATE deliveries SET order_wait = false, updated_at = now() WHERE subscription_id = $1 AND order_wait`, [current.id]);
      }
      if (fields.enabled === true && !current.enabled) {
        // Re-enabling starts afresh: the failure streak that disabled it is over.
        Object.assign(changes, { enabled: true, disabledReason: null, failingSince: null, ...RESET_HEALTH });
      } else if (fields.enabled === false && current.enabled) {
        Object.assign(changes, { enabled: false, disabledReason: DISABLED_BY_ADMIN });
      }
      await manager.update(SubscriptionEntity, { id: current.id }, changes);
      const updated = await manager.findOneByOrFail(SubscriptionEntity, { id: current.id });
      const [before, after] = [auditedSubscription(current), auditedSubscription(updated)];
      const changed = fieldChanges(before, after, AUDITED_SUBSCRIPTION_FIELDS);
      // New header values under the same names change nothing visible: say that they were set.
      if (fields.headers !== undefined) changed.headerNames = { before: before.headerNames, after: after.headerNames };
      const action =
        updated.enabled === current.enabled
          ? AUDIT_ACTIONS.subscriptionUpdated
          : updated.enabled
            ? AUDIT_ACTIONS.subscriptionEnabled
            : AUDIT_ACTIONS.subscriptionDisabled;
      await this.audit.record(manager, scope, actor, { action, targetType: 'subscription', targetId: current.id, changes: changed });
      return updated;
    });
  }

  /**
   * Soft delete: the row stays for the delivery history, but the
   * subscription is NOT_FOUND from now on, gets no deliveries (the channel
   * rules skip deleted subscriptions) and its secrets stop signing.
   */
  async delete(scope: Scope, actor: AuditActor, id: string, onlyIf?: (current: SubscriptionEntity) => boolean): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const current = await this.lockForUpdate(manager, scope, id);
      if (onlyIf && !onlyIf(current)) return false;
      await manager.update(SubscriptionEntity, { id: current.id }, { deletedAt: new Date() });
      await this.secrets.expireAll(manager, current.id);
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.subscriptionDeleted,
        targetType: 'subscription',
        targetId: current.id,
        changes: fieldChanges(auditedSubscription(current), null, AUDITED_SUBSCRIPTION_FIELDS),
      });
      return true;
    });
  }

  /**
   * Deletes the PULL subscriptions that nobody has pulled from for their
   * expireAfterIdleSeconds (those of a `hookline listen` that was killed and
   * not started again), as Hookline itself; the number deleted.
   */
  async expireIdle(): Promise<number> {
    const idle = (await this.db.query(
      `SELECT id, account_id, environment FROM webhook_subscriptions
       WHERE kind = 'PULL' AND deleted_at IS NULL AND expire_after_idle_seconds IS NOT NULL
         AND COALESCE(last_pulled_at, created_at) < now() - make_interval(secs => expire_after_idle_seconds)`,
    )) as Array<{ id: string; account_id: string; environment: Environment }>;
    let deleted = 0;
    for (const row of idle) {
      const scope = { accountId: row.account_id, environment: row.environment };
      // Pulled from meanwhile, or deleted by its owner: both leave it alone.
      const done = await this.delete(scope, systemActor(IDLE_EXPIRY_ACTOR), row.id, (current) => isIdle(current, new Date())).catch(
        (error: unknown) => {
          if (error instanceof NotFoundError) return false;
          throw error;
        },
      );
      if (done) deleted += 1;
    }
    return deleted;
  }

  async list(scope: Scope): Promise<SubscriptionEntity[]> {
    return this.db.getRepository(SubscriptionEntity).find({
      where: { accountId: scope.accountId, environment: scope.environment, deletedAt: IsNull() },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
  }

  /** The subscription, or NotFoundError when it is unknown, another tenant's, malformed or deleted. */
  async get(scope: Scope, id: string): Promise<SubscriptionEntity> {
    const found = isUuid(id)
      ? await this.db.getRepository(SubscriptionEntity).findOneBy({
          id,
          accountId: scope.accountId,
          environment: scope.environment,
          deletedAt: IsNull(),
        })
      : null;
    if (!found) throw new NotFoundError(WHAT, id);
    return found;
  }

  /**
   * Like get for many ids in one statement, but deleted subscriptions are
   * still found: a delivery made before the deletion still shows where it
   * went. Ids of other scopes are left out.
   */
  async getManyIncludingDeleted(scope: Scope, ids: readonly string[]): Promise<SubscriptionEntity[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.db.getRepository(SubscriptionEntity).findBy({ id: In(valid), accountId: scope.accountId, environment: scope.environment });
  }

  /**
   * Disables a subscription with a reason the user sees (e.g. the endpoint
   * answered 410 Gone), in the caller's transaction when one is given. For
   * the delivery side, which has the id from a delivery row.
   */
  async disable(subscriptionId: string, reason: string, manager: EntityManager = this.db.manager): Promise<void> {
    await manager.update(SubscriptionEntity, { id: subscriptionId, deletedAt: IsNull() }, { enabled: false, disabledReason: reason });
  }

  /** A new secret that signs at once; the active ones keep signing for expireCurrentAfterSeconds more. */
  async rotateSecret(
    scope: Scope,
    actor: AuditActor,
    id: string,
    expireCurrentAfterSeconds: number | null | undefined,
    secret?: string | null,
  ): Promise<{ subscription: SubscriptionEntity; secret: string }> {
    const newSecret = this.secrets.prepare(secret, 'secret');
    return this.db.transaction(async (manager) => {
      // The row lock serialises rotations of one subscription.
      const subscription = await this.lockForUpdate(manager, scope, id);
      await this.secrets.rotate(manager, subscription.id, expireCurrentAfterSeconds, newSecret);
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.secretRotated,
        targetType: 'subscription',
        targetId: subscription.id,
        changes: { expireCurrentAfterSeconds: expireCurrentAfterSeconds ?? null, chosenByCaller: !!secret },
      });
      return { subscription, secret: newSecret };
    });
  }

  /** The secrets that sign now, newest first, in plaintext: for ADMINs only (the resolver checks the role). */
  async revealSecrets(scope: Scope, actor: AuditActor, id: string): Promise<string[]> {
    const subscription = await this.get(scope, id);
    const secrets = await this.secrets.activeSecrets(subscription.id);
    // Recorded before the secrets leave: a reveal that is not in the log does not happen.
    await this.audit.recordAlone(scope, actor, {
      action: AUDIT_ACTIONS.secretRevealed,
      targetType: 'subscription',
      targetId: subscription.id,
      changes: { secrets: secrets.length },
    });
    return secrets;
  }

  /**
   * A new subscription must fit the quota of its account and environment.
   * The advisory lock serialises creations in one scope, so that parallel
   * requests cannot pass the quota together.
   */
  private async checkQuota(manager: EntityManager, scope: Scope): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`hookline.subscriptions:${scope.accountId}:${scope.environment}`]);
    const [row] = (await manager.query(
      'SELECT count(*)::int AS total FROM webhook_subscriptions WHERE account_id = $1 AND environment = $2 AND deleted_at IS NULL',
      [scope.accountId, scope.environment],
    )) as Array<{ total: number }>;
    if (row!.total < this.limits.maxSubscriptions) return;
    throw new AppError(
      'QUOTA_EXCEEDED',
      `The account has ${row!.total} webhook subscriptions in ${scope.environment}, its quota (${this.limits.maxSubscriptions}); delete one or ask the operator for a larger quota`,
      { quota: 'subscriptions', limit: this.limits.maxSubscriptions },
    );
  }

  private async lockForUpdate(manager: EntityManager, scope: Scope, id: string): Promise<SubscriptionEntity> {
    const found = isUuid(id)
      ? await manager.getRepository(SubscriptionEntity).findOne({
          where: { id, accountId: scope.accountId, environment: scope.environment, deletedAt: IsNull() },
          lock: { mode: 'pessimistic_write' },
        })
      : null;
    if (!found) throw new NotFoundError(WHAT, id);
    return found;
  }

  /**
   * Problems of a URL being set: its syntax, then the destination policy,
   * which may resolve the host name (so callers run it outside transactions).
   */
  private async urlProblems(url: string): Promise<FieldError[]> {
    const syntax = urlProblem(url);
    if (syntax) return [{ field: 'input.url', message: syntax }];
    const destination = await this.destinationProblem(new URL(url));
    return destination ? [{ field: 'input.url', message: destination }] : [];
  }

  /**
   * The rules a saved subscription must satisfy beyond its URL: known
   * channels, at least one of them, known events that belong to those
   * channels, and an exclusive channel alone. The BAD_USER_INPUT problems
   * are reported together with the URL's; the exclusive rule has its own
   * code and comes after them. Returns the URL as it is stored: normalised
   * by the same parser that the delivery client uses.
   */
  private async check(scope: Scope, candidate: Candidate, urlProblems: FieldError[]): Promise<string> {
    const problems = [...urlProblems];
    const vocabulary = await this.catalog.vocabulary(scope);
    if (candidate.channels.length === 0) problems.push({ field: 'input.channels', message: 'must name at least one channel' });
    const unknownChannels = candidate.channels.filter((c) => !vocabulary.channels.has(c));
    if (unknownChannels.length) {
      problems.push({ field: 'input.channels', message: `unknown channel ${unknownChannels.join(', ')}; query channels for the catalog` });
    }
    const unknownEvents = candidate.events.filter((e) => !vocabulary.eventNames.has(e));
    if (unknownEvents.length) {
      problems.push({ field: 'input.events', message: `unknown event type ${unknownEvents.join(', ')}; query eventNames for the catalog` });
    }
    const outside = candidate.events.filter((e) => vocabulary.eventNames.has(e) && !candidate.channels.includes(channelOf(e)));
    if (outside.length) {
      problems.push({
        field: 'input.events',
        message: `${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} not in the subscribed channels (${candidate.channels.join(', ')}); add the channel or remove the event`,
      });
    }
    if (problems.length) throw new InputError(problems);

    const exclusive = new Set([...vocabulary.channels].filter(([, c]) => c.exclusive).map(([name]) => name));
    checkExclusiveChannels(candidate.channels, exclusive);
    return new URL(candidate.url).href;
  }

  private async destinationProblem(url: URL): Promise<string | undefined> {
    try {
      await checkDestination(url, this.destinations);
      return undefined;
    } catch (error) {
      if (error instanceof DestinationError) return error.message;
      throw error;
    }
  }
}

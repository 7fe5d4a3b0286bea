import type { CatalogService } from '../catalog/service.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SecretService } from '../secrets/service.js';
import { TEST_EVENT_TYPE, type AttemptContext, type AttemptEntry, type AttemptRecord, type AttemptStore } from './attempt-store.js';
import type { AttemptRecorder } from './attempt-recorder.js';
import type { DeliveryHttpClient } from './http-client.js';
import { attemptOutcome } from './outcome.js';
import { buildPayload } from './payload.js';
import { signatureHeader } from './signing.js';

export interface DelivererDeps {
  store: AttemptStore;
  recorder: AttemptRecorder;
  catalog: CatalogService;
  secrets: SecretService;
  http: DeliveryHttpClient;
  metrics: Metrics;
  userAgent: string;
}

export type DeliverResult = 'cancelled' | 'postponed' | 'succeeded' | 'retrying' | 'failed';

/** A slot this close is waited for here rather than by giving the delivery back (whose next claim takes longer). */
const SLOT_TOLERANCE_MS = 50;

/** The signing secrets of a claim's subscriptions, or why one subscription's cannot be read. */
export type SecretsBySubscription = Map<string, string[] | Error>;

/**
 * Makes one attempt of a claimed delivery: checks that it is still wanted,
 * builds and signs the payload, sends it and hands the attempt to the
 * recorder. A delivery whose attempt cannot even be prepared (its secret
 * cannot be decrypted, its payload cannot be built) fails with the reason
 * recorded as its attempt, so that it never stays pending.
 */
export class Deliverer {
  /** Event type descriptions (the envelope's message) rarely change; a short cache keeps a query off every attempt. */
  private readonly messages = new Map<string, { message: string; expires: number }>();

  constructor(private readonly deps: DelivererDeps) {}

  /** The secrets of a claim, read together; a subscription whose secrets fail is read alone so that only it fails. */
  async secretsFor(subscriptionIds: readonly string[]): Promise<SecretsBySubscription> {
    const ids = [...new Set(subscriptionIds)];
    try {
      return new Map(await this.deps.secrets.activeSecretsFor(ids));
    } catch {
      const result: SecretsBySubscription = new Map();
      for (const id of ids) {
        result.set(
          id,
          await this.deps.secrets.activeSecretsFor([id]).then(
            (m) => m.get(id) ?? [],
            (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
          ),
        );
      }
      return result;
    }
  }

  async deliver(context: AttemptContext, secrets: string[] | Error | undefined): Promise<DeliverResult> {
    const { store } = this.deps;
    const { delivery, subscription } = context;
    if (!(await store.stillMatches(context))) {
      await store.cancel(context);
      return 'cancelled';
    }
    if (subscription.rateLimitPerSecond && !delivery.slotReserved) {
      const slot = await store.reserveSendSlot(subscription.id, subscription.rateLimitPerSecond);
      if (slot.getTime() - Date.now() > SLOT_TOLERANCE_MS) {
        await store.postpone(context, slot);
        return 'postponed';
      }
    }
    let request: { body: string; headers: Record<string, string> };
    try {
      if (secrets instanceof Error) throw secrets;
      request = await this.prepare(context, secrets ?? []);
    } catch (error) {
      return this.failUnprepared(context, error);
    }
    return this.send(context, request);
  }

  private async prepare(context: AttemptContext, secrets: string[]): Promise<{ body: string; headers: Record<string, string> }> {
    const { delivery, event, subscription } = context;
    const { body, contentType } = buildPayload(subscription.payloadFormat, {
      event: event.type,
      message: await this.message(context),
      idempotencyKey: delivery.id,
      environment: event.environment,
      timestamp: event.createdAt,
      data: event.data,
      orderingKey: delivery.orderingKey,
      sequence: delivery.sequence,
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      ...(this.deps.secrets.openHeaders(subscription.id, subscription.headers) ?? {}),
      'content-type': contentType,
      'user-agent': this.deps.userAgent,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({ id: delivery.id, timestamp, body, secrets }),
    };
    // Every format carries the key and sequence as headers too, so that a receiver can detect a gap.
    if (delivery.orderingKey !== null) {
      headers['hookline-ordering-key'] = delivery.orderingKey;
      headers['hookline-sequence'] = String(delivery.sequence);
    }
    return { body, headers };
  }

  private async send(context: AttemptContext, request: { body: string; headers: Record<string, string> }): Promise<DeliverResult> {
    const { http, metrics } = this.deps;
    const { delivery, event, subscription } = context;
    const startedAt = new Date();
    const response = await http.send({ url: subscription.url, headers: request.headers, body: request.body });
    const outcome = attemptOutcome({
      status: response.status,
      retryAfter: response.retryAfter,
      // A test event gets one attempt: its purpose is to show at once whether the endpoint works.
      schedule: event.type === TEST_EVENT_TYPE ? [] : subscription.retrySchedule,
      attemptsMade: delivery.attemptCount - delivery.scheduleOffset + 1,
      failingSince: subscription.failingSince,
      now: startedAt,
    });
    const attempt: AttemptRecord = {
      startedAt,
      durationMs: Math.round(response.durationMs),
      responseStatus: response.status,
      responseBody: response.body,
      error: response.error,
      succeeded: outcome.kind === 'succeeded',
    };
    metrics.deliveryAttempts.inc({ outcome: attempt.succeeded ? 'success' : (response.errorCode ?? `http_${response.status}`) });
    metrics.deliveryDuration.observe(response.durationMs / 1000);
    await this.deps.recorder.record({ context, attempt, outcome });
    return outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'retry' ? 'retrying' : 'failed';
  }

  private async failUnprepared(context: AttemptContext, error: unknown): Promise<DeliverResult> {
    const reason = error instanceof Error ? error.message : String(error);
    const entry: AttemptEntry = {
      context,
      attempt: {
        startedAt: new Date(),
        durationMs: 0,
        responseStatus: null,
        responseBody: null,
        error: `not sent: ${reason}`,
        succeeded: false,
      },
      outcome: { kind: 'failed' },
      unsent: true,
    };
    this.deps.metrics.deliveryAttempts.inc({ outcome: 'not_sent' });
    await this.deps.recorder.record(entry);
    return 'failed';
  }

  private async message({ event }: AttemptContext): Promise<string> {
    const key = `${event.accountId}:${event.environment}:${event.type}`;
    const cached = this.messages.get(key);
    if (cached && cached.expires > Date.now()) return cached.message;
    const type = await this.deps.catalog.getEventType({ accountId: event.accountId, environment: event.environment }, event.type);
    const message = type?.description ?? event.type;
    this.messages.set(key, { message, expires: Date.now() + 60_000 });
    return message;
  }
}

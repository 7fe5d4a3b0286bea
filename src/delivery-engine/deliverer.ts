import type { Metrics } from '../metrics/metrics.js';
import type { SecretService, SigningSecretRow } from '../secrets/service.js';
import { TEST_EVENT_TYPE, type AttemptContext, type AttemptEntry, type AttemptRecord, type AttemptStore } from './attempt-store.js';
import type { AttemptRecorder } from './attempt-recorder.js';
import type { DeliveryHttpClient } from './http-client.js';
import { attemptOutcome } from './outcome.js';
import type { DeliveryRequest, DeliveryRequestBuilder } from './request.js';

export interface DelivererDeps {
  store: AttemptStore;
  recorder: AttemptRecorder;
  secrets: SecretService;
  requests: DeliveryRequestBuilder;
  http: DeliveryHttpClient;
  metrics: Metrics;
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
  constructor(private readonly deps: DelivererDeps) {}

  /** The signing secrets of a claim's subscriptions, from the rows its transaction read; a subscription whose secret cannot be decrypted maps to why. */
  secretsOf(claimed: readonly AttemptContext[], rows: readonly SigningSecretRow[]): SecretsBySubscription {
    return this.deps.secrets.activeSecretsOf(
      claimed.map((c) => c.subscription.id),
      rows,
    );
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
    let request: DeliveryRequest;
    try {
      if (secrets instanceof Error) throw secrets;
      request = await this.deps.requests.build(context, secrets ?? []);
    } catch (error) {
      return this.failUnprepared(context, error);
    }
    return this.send(context, request);
  }

  private async send(context: AttemptContext, request: DeliveryRequest): Promise<DeliverResult> {
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
}

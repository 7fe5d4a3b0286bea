import type { CatalogService } from '../catalog/service.js';
import type { AttemptContext, AttemptOutcome, AttemptRecord, DeliveryService } from '../deliveries/service.js';
import { TEST_EVENT_TYPE } from '../deliveries/service.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SecretService } from '../secrets/service.js';
import type { DeliveryHttpClient } from './http-client.js';
import { AttemptRecorder } from './attempt-recorder.js';
import { buildPayload } from './payload.js';
import { classifyResponse, nextAttemptDelayMs, parseRetryAfter, shouldDisableForFailureStreak } from './retry-policy.js';
import { signatureHeader } from './signing.js';

export const GONE_REASON = 'The endpoint answered 410 Gone';
export const FAILURE_STREAK_REASON = 'Every delivery failed for 5 days in a row';

export interface DelivererDeps {
  deliveries: DeliveryService;
  catalog: CatalogService;
  secrets: SecretService;
  http: DeliveryHttpClient;
  metrics: Metrics;
  userAgent: string;
}

export type DeliverResult = 'stale' | 'cancelled' | 'postponed' | 'succeeded' | 'retrying' | 'failed';

/** A slot this close is taken at once rather than through another job (whose pickup takes longer). */
const SLOT_TOLERANCE_MS = 50;

/** A `deliver` job as the worker hands it over. */
export interface DeliveryJobRef {
  jobId: string;
  deliveryId: string;
  reservedSlot?: string;
}

/**
 * Makes the attempts of a batch of `deliver` jobs: one read of the
 * deliveries with their events and subscriptions, one of their secrets, the
 * POSTs concurrently, and each attempt recorded through the group commit.
 */
export class Deliverer {
  /** Event type descriptions (the envelope's message) rarely change; a short cache keeps a query off every attempt. */
  private readonly messages = new Map<string, { message: string; expires: number }>();
  private readonly recorder: AttemptRecorder;

  constructor(private readonly deps: DelivererDeps) {
    this.recorder = new AttemptRecorder((entries) => deps.deliveries.recordAttempts(entries));
  }

  /** One result per job, in order: what the attempt did, or why the job itself failed. */
  async deliverAll(jobs: readonly DeliveryJobRef[]): Promise<Array<PromiseSettledResult<DeliverResult>>> {
    const contexts = await this.deps.deliveries.loadForAttempts(jobs);
    const subscriptionIds = [...new Set([...contexts.values()].map((c) => c.subscription.id))];
    const secrets = await this.deps.secrets.activeSecretsFor(subscriptionIds);
    return Promise.allSettled(
      jobs.map(async (job) => {
        const context = contexts.get(job.jobId);
        if (!context) return 'stale' as const;
        return this.attempt(context, job, secrets.get(context.subscription.id) ?? []);
      }),
    );
  }

  private async attempt(context: AttemptContext, job: DeliveryJobRef, secrets: string[]): Promise<DeliverResult> {
    const { deliveries, http, metrics } = this.deps;
    const { jobId, reservedSlot } = job;
    const { delivery, event, subscription } = context;
    if (!(await deliveries.stillMatches(context))) {
      await deliveries.cancel(delivery.id, jobId);
      return 'cancelled';
    }
    if (subscription.rateLimitPerSecond && !reservedSlot) {
      const slot = await deliveries.reserveSendSlot(subscription.id, subscription.rateLimitPerSecond);
      if (slot.getTime() - Date.now() > SLOT_TOLERANCE_MS) {
        await deliveries.postpone(delivery.id, jobId, slot);
        return 'postponed';
      }
    }

    const message = await this.message(context);
    const { body, contentType } = buildPayload(subscription.payloadFormat, {
      event: event.type,
      message,
      idempotencyKey: delivery.id,
      environment: event.environment,
      timestamp: event.createdAt,
      data: event.data,
    });
    const startedAt = new Date();
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    const headers: Record<string, string> = {
      ...(subscription.headers ?? {}),
      'content-type': contentType,
      'user-agent': this.deps.userAgent,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({ id: delivery.id, timestamp, body, secrets }),
    };
    const response = await http.send({ url: subscription.url, headers, body });

    const verdict = response.status === null ? 'retry' : classifyResponse(response.status);
    const attempt: AttemptRecord = {
      startedAt,
      durationMs: Math.round(response.durationMs),
      responseStatus: response.status,
      responseBody: response.body,
      error: response.error,
      succeeded: verdict === 'success',
    };
    const outcome = this.outcome(context, verdict, response.status, response.retryAfter, startedAt);
    await this.recorder.record({ context, jobId, attempt, outcome });
    metrics.deliveryAttempts.inc({ outcome: attempt.succeeded ? 'success' : (response.errorCode ?? `http_${response.status}`) });
    metrics.deliveryDuration.observe(response.durationMs / 1000);
    return outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'retry' ? 'retrying' : 'failed';
  }

  private outcome(
    context: AttemptContext,
    verdict: 'success' | 'retry' | 'gone',
    status: number | null,
    retryAfterHeader: string | null,
    now: Date,
  ): AttemptOutcome {
    if (verdict === 'success') return { kind: 'succeeded' };
    if (verdict === 'gone') return { kind: 'failed', disableReason: GONE_REASON };
    const { delivery, subscription, event } = context;
    if (shouldDisableForFailureStreak(subscription.failingSince, now)) {
      return { kind: 'failed', disableReason: FAILURE_STREAK_REASON };
    }
    // A test event gets one attempt: its purpose is to show at once whether the endpoint works.
    const schedule = event.type === TEST_EVENT_TYPE ? [] : subscription.retrySchedule;
    const retryAfterSeconds =
      status === 429 || status === 503 ? parseRetryAfter(retryAfterHeader ?? undefined, now) : undefined;
    const delayMs = nextAttemptDelayMs({
      schedule,
      attemptsMade: delivery.attemptCount - delivery.scheduleOffset + 1,
      retryAfterSeconds,
    });
    return delayMs === null ? { kind: 'failed' } : { kind: 'retry', delayMs };
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

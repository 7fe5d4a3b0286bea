import type { CatalogService } from '../catalog/service.js';
import type { SecretService } from '../secrets/service.js';
import type { AttemptContext } from './attempt-store.js';
import { buildPayload } from './payload.js';
import { signatureHeader } from './signing.js';

/** What goes on the wire for one attempt: the body and every header, the signature included. */
export interface DeliveryRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * Builds a delivery's signed request. The delivery engine POSTs it; a PULL
 * consumer receives it as it is, so that a pulled delivery verifies exactly
 * as a pushed one does.
 */
export class DeliveryRequestBuilder {
  /** Event type descriptions (the envelope's message) rarely change; a short cache keeps a query off every attempt. */
  private readonly messages = new Map<string, { message: string; expires: number }>();

  constructor(
    private readonly catalog: CatalogService,
    private readonly secrets: SecretService,
    private readonly userAgent: string,
  ) {}

  async build(context: AttemptContext, signingSecrets: readonly string[]): Promise<DeliveryRequest> {
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
      ...(this.secrets.openHeaders(subscription.id, subscription.headers) ?? {}),
      'content-type': contentType,
      'user-agent': this.userAgent,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({ id: delivery.id, timestamp, body, secrets: [...signingSecrets] }),
    };
    // Every format carries the key and sequence as headers too, so that a receiver can detect a gap.
    if (delivery.orderingKey !== null) {
      headers['hookline-ordering-key'] = delivery.orderingKey;
      headers['hookline-sequence'] = String(delivery.sequence);
    }
    return { body, headers };
  }

  private async message({ event }: AttemptContext): Promise<string> {
    const key = `${event.accountId}:${event.environment}:${event.type}`;
    const cached = this.messages.get(key);
    if (cached && cached.expires > Date.now()) return cached.message;
    const type = await this.catalog.getEventType({ accountId: event.accountId, environment: event.environment }, event.type);
    const message = type?.description ?? event.type;
    this.messages.set(key, { message, expires: Date.now() + 60_000 });
    return message;
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

// Operational events about an account's own endpoints, published by Hookline
// itself (src/operations/events.ts builds their data). Defined here, not
// imported, so that this migration stays what it was when it ran.

const id = { type: 'string', minLength: 1, maxLength: 255 };
const dateTime = { type: 'string', format: 'date-time', maxLength: 64 };
const nullableDateTime = { type: ['string', 'null'], format: 'date-time', maxLength: 64 };
const count = { type: 'integer', minimum: 0 };
const status = { type: ['integer', 'null'], minimum: 0, maximum: 999, description: 'HTTP status of the last attempt; null when none came back' };

/** What every operations event says about the endpoint. */
const endpoint = {
  subscriptionId: id,
  url: { type: 'string', maxLength: 4096, description: 'The endpoint URL with the values of its query string left out' },
  reason: { type: 'string', minLength: 1, maxLength: 1000 },
  consecutiveFailures: count,
  failingSince: nullableDateTime,
  lastStatus: status,
};
const ENDPOINT_REQUIRED = ['subscriptionId', 'url', 'reason', 'consecutiveFailures', 'failingSince', 'lastStatus'];

const SUBSCRIPTION = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87';
const URL = 'https://erp.example.com/hooks/hookline?token=';

export const OPERATIONS_EVENT_TYPES: Array<{ action: string; description: string; schema: object; example: object }> = [
  {
    action: 'endpoint_held',
    description: 'An endpoint failed too many times in a row; its deliveries wait while Hookline probes it.',
    schema: {
      type: 'object',
      required: [...ENDPOINT_REQUIRED, 'nextProbeAt'],
      properties: { ...endpoint, nextProbeAt: nullableDateTime },
    },
    example: {
      subscriptionId: SUBSCRIPTION,
      url: URL,
      reason: '20 failed attempts in a row',
      consecutiveFailures: 20,
      failingSince: '2026-11-23T09:12:00.000Z',
      lastStatus: 503,
      nextProbeAt: '2026-11-23T10:05:00.000Z',
    },
  },
  {
    action: 'endpoint_recovered',
    description: 'A held or failing endpoint answered again; its deliveries go on.',
    schema: {
      type: 'object',
      required: [...ENDPOINT_REQUIRED, 'recoveredAt'],
      properties: { ...endpoint, recoveredAt: dateTime },
    },
    example: {
      subscriptionId: SUBSCRIPTION,
      url: URL,
      reason: 'A probe succeeded',
      consecutiveFailures: 20,
      failingSince: '2026-11-23T09:12:00.000Z',
      lastStatus: 200,
      recoveredAt: '2026-11-23T10:05:01.000Z',
    },
  },
  {
    action: 'endpoint_disabled',
    description: 'An endpoint was disabled (410 Gone, or five days of failures); re-enable it and replay what it missed.',
    schema: {
      type: 'object',
      required: [...ENDPOINT_REQUIRED, 'disabledAt'],
      properties: { ...endpoint, disabledAt: dateTime },
    },
    example: {
      subscriptionId: SUBSCRIPTION,
      url: URL,
      reason: 'The endpoint answered 410 Gone',
      consecutiveFailures: 1,
      failingSince: '2026-11-23T10:00:00.000Z',
      lastStatus: 410,
      disabledAt: '2026-11-23T10:00:00.000Z',
    },
  },
  {
    action: 'delivery_failed',
    description: 'Deliveries to an endpoint ended FAILED: one event per subscription and minute, with the count and the first few delivery ids.',
    schema: {
      type: 'object',
      required: [...ENDPOINT_REQUIRED, 'count', 'deliveryIds', 'windowStart', 'windowEnd'],
      properties: {
        ...endpoint,
        count: { type: 'integer', minimum: 1 },
        deliveryIds: { type: 'array', items: id, maxItems: 10 },
        windowStart: dateTime,
        windowEnd: dateTime,
      },
    },
    example: {
      subscriptionId: SUBSCRIPTION,
      url: URL,
      reason: '37 deliveries ended FAILED after their last retry',
      consecutiveFailures: 37,
      failingSince: '2026-11-22T08:00:00.000Z',
      lastStatus: 500,
      count: 37,
      deliveryIds: ['0190f5a3-0000-7000-8000-000000000001', '0190f5a3-0000-7000-8000-000000000002'],
      windowStart: '2026-11-23T10:00:00.000Z',
      windowEnd: '2026-11-23T10:01:00.000Z',
    },
  },
  {
    action: 'ordering_key_blocked',
    description: 'A delivery of an ordering key ended FAILED, so the later ones of that key wait until it is redelivered or the key unblocked.',
    schema: {
      type: 'object',
      required: [...ENDPOINT_REQUIRED, 'orderingKey', 'deliveryId'],
      properties: { ...endpoint, orderingKey: id, deliveryId: id, waiting: count },
    },
    example: {
      subscriptionId: SUBSCRIPTION,
      url: URL,
      reason: 'Delivery 0190f5a3-0000-7000-8000-000000000001 of key LEDGER-4711 ended FAILED',
      consecutiveFailures: 8,
      failingSince: '2026-11-22T08:00:00.000Z',
      lastStatus: 422,
      orderingKey: 'LEDGER-4711',
      deliveryId: '0190f5a3-0000-7000-8000-000000000001',
      waiting: 3,
    },
  },
];

export class OperationsChannel1795000000081 implements MigrationInterface {
  name = 'OperationsChannel1795000000081';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO "event_channels" ("id", "account_id", "name", "label", "exclusive") VALUES ($1, NULL, 'operations', 'Operations', false)`,
      [uuidv7()],
    );
    for (const t of OPERATIONS_EVENT_TYPES) {
      await queryRunner.query(
        `INSERT INTO "event_types" ("id", "account_id", "name", "channel", "action", "description", "schema", "example")
         VALUES ($1, NULL, $2, 'operations', $3, $4, $5::jsonb, $6::jsonb)`,
        [uuidv7(), `operations.${t.action}`, t.action, t.description, JSON.stringify(t.schema), JSON.stringify(t.example)],
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "event_types" WHERE "account_id" IS NULL AND "channel" = 'operations'`);
    await queryRunner.query(`DELETE FROM "event_channels" WHERE "account_id" IS NULL AND "name" = 'operations'`);
  }
}

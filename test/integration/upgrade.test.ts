import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { createDataSource } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { fanOutNow } from '../support/fan-out.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant } from '../support/scenario.js';

/** The migration that brought the event pipeline and ordering per key, and every one after it. */
const PIPELINE_MIGRATION = 'EventPipeline1795000000060';

/**
 * An installation upgraded while deliveries were pending: the deliveries
 * written before the event pipeline (the API wrote them at publish time)
 * are delivered after the upgrade like any other.
 */
describe('upgrading with deliveries pending', () => {
  let t: TestApp;
  let receiver: Receiver;
  let upgraded: RunningApp | undefined;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await upgraded?.stop();
    await receiver?.close();
    await t?.stop();
  });

  it('delivers what was pending before the pipeline migration', async () => {
    const acme = await tenant(t);
    const sub = await acme.subscribe({ url: `${receiver.url}/pending`, channels: ['invoices'] });
    receiver.setSecrets(sub.secret);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await acme.publish('invoices.created', { invoiceId: `OLD-${i}` })).event.id);
    await fanOutNow(t);
    await t.app.stop();

    // Back to the schema before the pipeline, with the three deliveries pending in it.
    const db = createDataSource({ url: t.database.url, poolSize: 2 });
    await db.initialize();
    try {
      const names = db.migrations.map((m) => m.name);
      const undo = names.length - names.indexOf(PIPELINE_MIGRATION);
      expect(undo).toBeGreaterThan(0);
      for (let i = 0; i < undo; i++) await db.undoLastMigration({ transaction: 'each' });
      const pending = (await db.query(`SELECT id FROM deliveries WHERE status = 'PENDING'`)) as unknown[];
      expect(pending).toHaveLength(3);
    } finally {
      await db.destroy();
    }

    // The new version starts, migrates and delivers them.
    upgraded = await startApp({ config: t.config, logger: createLogger('silent'), role: 'all', migrate: true });
    const requests = await receiver.waitFor(3, 30_000);
    expect(requests.every((r) => r.verified)).toBe(true);
    expect(requests.map((r) => (JSON.parse(r.body) as { data: { invoiceId: string } }).data.invoiceId).sort()).toEqual(['OLD-0', 'OLD-1', 'OLD-2']);
  }, 90_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

describe('retention and deliveries that cannot be prepared', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  let sql: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ env: { HOOKLINE_RETENTION_DAYS: '30' } });
    acme = await tenant(t);
    receiver = await startReceiver();
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await receiver?.close();
    await t?.stop();
  });

  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    (await sql.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params)).rows[0].n as number;

  it('deletes events older than the retention period with their deliveries and attempts, in steps, keeping what is still pending', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/old`, channels: ['invoices'] });
    receiver.setSecrets([sub.secret]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await acme.publish('invoices.created', { n: i })).event.id);
    await receiver.waitFor(5, 15_000);
    const deadline = Date.now() + 15_000;
    while ((await count('delivery_attempts', 'subscription_id = $1', [sub.id])) < 5 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));

    // Four of them are 31 days old; one of those is still waiting for a retry.
    await sql.query(`UPDATE events SET created_at = now() - interval '31 days' WHERE id = ANY($1::uuid[])`, [ids.slice(0, 4)]);
    await sql.query(`UPDATE deliveries SET status = 'RETRYING', next_attempt_at = now() + interval '1 hour' WHERE event_id = $1`, [ids[3]]);

    const purge = t.app.workers!.purge;
    expect(await purge.step(2)).toBe(2);
    expect(await purge.step(2)).toBe(1);
    expect(await purge.step(2)).toBe(0);
    expect(await count('events', 'id = ANY($1::uuid[])', [ids])).toBe(2);
    expect(await count('deliveries', 'event_id = ANY($1::uuid[])', [ids])).toBe(2);
    expect(await count('delivery_attempts', 'subscription_id = $1', [sub.id])).toBe(2);
    expect(await count('events', 'id = ANY($1::uuid[])', [[ids[3], ids[4]]])).toBe(2);
  });

  it('fails a delivery whose secret cannot be decrypted, with the reason as its attempt, and fails no other', async () => {
    const broken = await acme.subscribe({ url: `${receiver.url}/broken`, channels: ['bills'] });
    const fine = await acme.subscribe({ url: `${receiver.url}/fine`, channels: ['bills'] });
    receiver.reset();
    receiver.setSecrets([fine.secret]);
    // What a changed master key does: the stored ciphertext no longer decrypts.
    await sql.query(`UPDATE signing_secrets SET ciphertext = decode(repeat('00', 60), 'hex') WHERE subscription_id = $1`, [broken.id]);
    const { event } = await acme.publish('bills.created', { billId: 'B-1' });

    const deliveries = await acme.waitForDeliveries(event.id, 2);
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    const deadline = Date.now() + 15_000;
    let rows: Array<{ subscription_id: string; status: string; error: string | null }> = [];
    while (Date.now() < deadline) {
      rows = (
        await sql.query(
          `SELECT d.subscription_id, d.status, (SELECT a.error FROM delivery_attempts a WHERE a.delivery_id = d.id ORDER BY a.number DESC LIMIT 1) AS error
           FROM deliveries d WHERE d.event_id = $1`,
          [event.id],
        )
      ).rows;
      if (rows.every((r) => r.status === 'SUCCEEDED' || r.status === 'FAILED')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(byId.size).toBe(2);
    const failed = rows.find((r) => r.subscription_id === broken.id)!;
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/cannot be decrypted with the configured master key/);
    expect(failed.error).not.toMatch(/whsec_|[A-Za-z0-9+/]{40,}/);
    expect(rows.find((r) => r.subscription_id === fine.id)!.status).toBe('SUCCEEDED');
    expect(receiver.requests.map((r) => r.path)).toEqual(['/fine']);
  });
});

import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { systemActor, AUDIT_ACTIONS } from '../../src/audit/actions.js';
import { canonicalJson, chainMessage, deriveAuditKeys } from '../../src/audit/canonical.js';
import { AuditService } from '../../src/audit/service.js';
import { Environment } from '../../src/domain.js';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { createSubscription, errorOf, DELETE, REVEAL, ROTATE, UPDATE } from '../support/subscriptions.js';

const MASTER_KEY = Buffer.alloc(32, 7);

const ENTRY = `id at environment action targetType targetId changes hash actor { kind name apiKey { id name prefix } }`;
const LOG = `query($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) { nodes { ${ENTRY} } pageInfo { hasNextPage endCursor } } }`;
const VERIFY = '{ verifyAuditLog { entries intact headHash firstBrokenEntryId } }';

interface Entry {
  id: string;
  at: string;
  environment: string;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, { before: unknown; after: unknown }> | null;
  hash: string;
  actor: { kind: string; name: string | null; apiKey: { id: string; name: string; prefix: string } | null };
}
interface Verification {
  entries: number;
  intact: boolean;
  headHash: string | null;
  firstBrokenEntryId: string | null;
}

describe('the audit log', () => {
  let t: TestApp;
  let sql: pg.Client;
  let admin: string;
  let accountId: string;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: admin, accountId } = await createAccount(t, 'Ledger Ltd'));
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await t?.stop();
  });

  const log = async (token: string, variables: Record<string, unknown> = {}) =>
    (await t.ok<{ auditLog: { nodes: Entry[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(token, LOG, variables)).auditLog;
  const verify = async (token = admin) => (await t.ok<{ verifyAuditLog: Verification }>(token, VERIFY)).verifyAuditLog;
  const keyIdOf = async (token: string) =>
    (await t.ok<{ viewer: { apiKey: { id: string } } }>(token, '{ viewer { apiKey { id } } }')).viewer.apiKey.id;

  it('records each change with its actor and the fields before and after, never a secret, header value or query value', async () => {
    const adminKeyId = await keyIdOf(admin);
    const { subscription, secret } = await createSubscription(t, admin, {
      url: 'http://127.0.0.1:9/hook?token=s3cr3t-query-value&tenant=acme',
      headers: { 'X-Api-Key': 'header-secret-value' },
      description: 'ERP ledger',
    });
    await t.ok(admin, UPDATE, { id: subscription.id, input: { description: 'ERP ledger (EU)', headers: { 'X-Api-Key': 'header-secret-2' } } });
    await t.ok(admin, UPDATE, { id: subscription.id, input: { enabled: false } });
    await t.ok(admin, UPDATE, { id: subscription.id, input: { enabled: true } });
    const rotated = await t.ok<{ rotateWebhookSecret: { secret: string } }>(admin, ROTATE, { id: subscription.id, expire: 60 });
    const revealed = await t.ok<{ webhookSecrets: string[] }>(admin, REVEAL, { id: subscription.id });
    await t.ok(admin, DELETE, { id: subscription.id });

    const entries = (await log(admin, { filter: { targetId: subscription.id } })).nodes;
    expect(entries.map((e) => e.action)).toEqual([
      'subscription.deleted',
      'secret.revealed',
      'secret.rotated',
      'subscription.enabled',
      'subscription.disabled',
      'subscription.updated',
      'subscription.created',
    ]);
    for (const entry of entries) {
      expect(entry.actor).toEqual({ kind: 'API_KEY', name: null, apiKey: expect.objectContaining({ id: adminKeyId }) });
      expect(entry.environment).toBe('PRODUCTION');
      expect(entry.targetType).toBe('subscription');
    }
    const created = entries[6]!;
    expect(created.changes!.url).toEqual({ before: null, after: 'http://127.0.0.1:9/hook?token=&tenant=' });
    expect(created.changes!.headerNames).toEqual({ before: null, after: ['X-Api-Key'] });
    expect(created.changes!.channels).toEqual({ before: null, after: ['invoices'] });
    const updated = entries[5]!;
    expect(updated.changes).toEqual({
      description: { before: 'ERP ledger', after: 'ERP ledger (EU)' },
      headerNames: { before: ['X-Api-Key'], after: ['X-Api-Key'] },
    });
    expect(entries[4]!.changes!.enabled).toEqual({ before: true, after: false });
    expect(entries[3]!.changes!.enabled).toEqual({ before: false, after: true });
    expect(entries[0]!.changes!.url).toEqual({ before: 'http://127.0.0.1:9/hook?token=&tenant=', after: null });

    const everything = JSON.stringify((await sql.query('SELECT * FROM audit_log')).rows);
    for (const value of [secret, rotated.rotateWebhookSecret.secret, ...revealed.webhookSecrets, 'header-secret', 's3cr3t-query-value']) {
      expect(everything).not.toContain(value);
    }
  });

  it('records keys, event types, portal links, sign-ins, redeliveries and replays, and names the key behind a console session', async () => {
    const created = await t.ok<{ createApiKey: { apiKey: { id: string }; token: string } }>(
      admin,
      'mutation { createApiKey(name: "ERP sync", role: PUBLISHER) { apiKey { id } token } }',
    );
    await t.ok(admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: created.createApiKey.apiKey.id });
    await t.ok(admin, 'mutation { defineEventType(input: { name: "purchase_orders.approved", description: "Approved" }) { name } }');
    await t.ok(admin, 'mutation { defineEventType(input: { name: "purchase_orders.approved", description: "Approved by finance" }) { name } }');
    const { url } = (await t.ok<{ createPortalSession: { url: string } }>(admin, 'mutation { createPortalSession { url } }')).createPortalSession;
    // The page's button: a POST of the link, as the browser sends it.
    const opened = await fetch(url, { method: 'POST', redirect: 'manual' });
    const session = /#session=(hkc_[A-Za-z0-9_-]+)$/.exec(opened.headers.get('location')!)![1]!;
    const { subscription } = await createSubscription(t, session, { description: 'from the console' });

    const entries = (await log(admin, { first: 8 })).nodes;
    expect(entries.map((e) => e.action)).toEqual([
      'subscription.created',
      'console.signed_in',
      'portal_session.created',
      'event_type.defined',
      'event_type.defined',
      'api_key.revoked',
      'api_key.created',
      'subscription.deleted',
    ]);
    const adminKeyId = await keyIdOf(admin);
    expect(entries[0]!.targetId).toBe(subscription.id);
    expect(entries[0]!.actor).toEqual({ kind: 'CONSOLE_SESSION', name: null, apiKey: expect.objectContaining({ id: adminKeyId }) });
    expect(entries[1]!.actor.kind).toBe('CONSOLE_SESSION');
    expect(entries[2]!.actor.kind).toBe('API_KEY');
    expect(entries[3]!.changes).toEqual({ description: { before: 'Approved', after: 'Approved by finance' } });
    expect(entries[4]!.changes!.description).toEqual({ before: null, after: 'Approved' });
    expect(entries[6]!.changes!.role).toEqual({ before: null, after: 'PUBLISHER' });
    expect(JSON.stringify(entries)).not.toContain(created.createApiKey.token);

    const [delivery] = (
      await sql.query(
        `INSERT INTO events (id, account_id, environment, type, data) VALUES (gen_random_uuid(), $1, 'PRODUCTION', 'invoices.paid', '{}') RETURNING id`,
        [accountId],
      )
    ).rows as Array<{ id: string }>;
    const [row] = (
      await sql.query(
        `INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, status, next_attempt_at)
         VALUES (gen_random_uuid(), $1, 'PRODUCTION', $2, $3, 'FAILED', now()) RETURNING id`,
        [accountId, delivery!.id, subscription.id],
      )
    ).rows as Array<{ id: string }>;
    await t.ok(admin, 'mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', { id: row!.id });
    await sql.query(`UPDATE deliveries SET status = 'FAILED' WHERE id = $1`, [row!.id]);
    await t.ok(admin, 'mutation($id: ID!, $since: DateTime!) { replayFailedDeliveries(subscriptionId: $id, since: $since) }', {
      id: subscription.id,
      since: new Date(Date.now() - 3600_000).toISOString(),
    });
    await t.ok(admin, 'mutation($id: ID!) { unblockOrderingKey(subscriptionId: $id, orderingKey: "LEDGER-1") }', { id: subscription.id });
    const [unblocked, replayed, redelivered] = (await log(admin, { first: 3 })).nodes;
    expect(redelivered).toMatchObject({ action: 'delivery.redelivered', targetType: 'delivery', targetId: row!.id });
    expect(replayed).toMatchObject({ action: 'deliveries.replayed', targetId: subscription.id, changes: { deliveries: 1 } });
    expect(unblocked).toMatchObject({
      action: 'ordering_key.unblocked',
      targetId: subscription.id,
      changes: { orderingKey: 'LEDGER-1', released: false, waiting: 0 },
    });
  });

  it('is read by ADMIN and VIEWER of the environment, newest first, filtered and paged; a PUBLISHER is refused', async () => {
    const viewer = await createKey(t, admin, 'VIEWER');
    const publisher = await createKey(t, admin, 'PUBLISHER');
    const staging = await createKey(t, admin, 'ADMIN', 'STAGING');
    expect(errorOf(await t.gql(publisher, LOG)).code).toBe('FORBIDDEN');
    expect(errorOf(await t.gql(publisher, VERIFY)).code).toBe('FORBIDDEN');

    const all = (await log(viewer, { first: 500 })).nodes;
    expect(all.length).toBeGreaterThan(10);
    const times = all.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(all.every((e) => e.environment === 'PRODUCTION')).toBe(true);

    const first = await log(viewer, { first: 3 });
    const second = await log(viewer, { first: 3, after: first.pageInfo.endCursor });
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect([...first.nodes, ...second.nodes].map((e) => e.id)).toEqual(all.slice(0, 6).map((e) => e.id));

    const keys = (await log(viewer, { filter: { action: 'api_key.created' }, first: 500 })).nodes;
    expect(keys.length).toBeGreaterThanOrEqual(4);
    expect(keys.every((e) => e.action === 'api_key.created')).toBe(true);
    const middle = all[5]!.at;
    const since = (await log(viewer, { filter: { since: middle }, first: 500 })).nodes;
    const until = (await log(viewer, { filter: { until: middle }, first: 500 })).nodes;
    expect(since.length + until.length).toBe(all.length);
    expect(since.every((e) => e.at >= middle) && until.every((e) => e.at < middle)).toBe(true);

    // STAGING has its own log and chain: this account's STAGING ADMIN sees none of the PRODUCTION entries.
    await createSubscription(t, staging, {});
    const stagingLog = (await log(staging)).nodes;
    expect(stagingLog.map((e) => e.action)).toEqual(['subscription.created']);
    expect(await verify(staging)).toMatchObject({ entries: 1, intact: true });

    const mutations = (
      await t.ok<{ __schema: { mutationType: { fields: Array<{ name: string }> } } }>(admin, '{ __schema { mutationType { fields { name } } } }')
    ).__schema.mutationType.fields;
    expect(mutations.filter((f) => /audit/i.test(f.name))).toEqual([]);
  });

  it('chains each entry to the one before with an HMAC under a key derived from the master key', async () => {
    const keys = deriveAuditKeys(MASTER_KEY);
    const rows = (await sql.query(`SELECT * FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' ORDER BY seq`, [accountId]))
      .rows as Array<Record<string, unknown>>;
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
    let previous = '';
    for (const r of rows) {
      const canonical = canonicalJson({
        account: accountId,
        action: r.action,
        actor: { apiKeyId: r.actor_api_key_id, kind: r.actor_kind, name: r.actor_name, sessionId: r.actor_session_id },
        at: (r.at as Date).toISOString(),
        changes: r.changes,
        environment: 'PRODUCTION',
        id: r.id,
        target: { id: r.target_id, type: r.target_type },
      });
      const expected = createHmac('sha256', keys.entry)
        .update(chainMessage(Number(r.seq), previous, canonical))
        .digest('hex');
      expect(r.hash).toBe(expected);
      previous = r.hash as string;
    }
    expect(await verify()).toEqual({ entries: rows.length, intact: true, headHash: previous, firstBrokenEntryId: null });
  });

  describe('verifyAuditLog finds a row changed, deleted or inserted without the master key', () => {
    const rows = async () =>
      (await sql.query(`SELECT * FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' ORDER BY seq`, [accountId])).rows as Array<
        Record<string, unknown> & { id: string; seq: string }
      >;

    it('a changed field', async () => {
      const target = (await rows())[3]!;
      await sql.query(`UPDATE audit_log SET changes = '{"description":{"before":"x","after":"y"}}' WHERE id = $1`, [target.id]);
      expect(await verify()).toMatchObject({ intact: false, firstBrokenEntryId: target.id });
      await sql.query(`UPDATE audit_log SET changes = $2 WHERE id = $1`, [target.id, JSON.stringify(target.changes)]);
      expect((await verify()).intact).toBe(true);
      await sql.query(`UPDATE audit_log SET actor_api_key_id = NULL WHERE id = $1`, [target.id]);
      expect(await verify()).toMatchObject({ intact: false, firstBrokenEntryId: target.id });
      await sql.query(`UPDATE audit_log SET actor_api_key_id = $2 WHERE id = $1`, [target.id, target.actor_api_key_id]);
    });

    it('a deleted row, and one put in its place with a made-up hash', async () => {
      const all = await rows();
      const [victim, next] = [all[4]!, all[5]!];
      await sql.query(`DELETE FROM audit_log WHERE id = $1`, [victim.id]);
      expect(await verify()).toMatchObject({ intact: false, firstBrokenEntryId: next.id });
      await sql.query(`INSERT INTO audit_log SELECT (json_populate_record(NULL::audit_log, $1::json)).*`, [
        JSON.stringify({ ...victim, action: 'subscription.updated', hash: 'ab'.repeat(32) }),
      ]);
      expect(await verify()).toMatchObject({ intact: false, firstBrokenEntryId: victim.id });
      await sql.query(`DELETE FROM audit_log WHERE id = $1`, [victim.id]);
      await sql.query(`INSERT INTO audit_log SELECT (json_populate_record(NULL::audit_log, $1::json)).*`, [JSON.stringify(victim)]);
      expect((await verify()).intact).toBe(true);
    });

    it('the newest entries cut off, head and all: headHash kept outside shows it', async () => {
      const before = await verify();
      const all = await rows();
      const last = all[all.length - 1]!;
      await sql.query(`DELETE FROM audit_log WHERE id = $1`, [last.id]);
      expect((await verify()).intact).toBe(false);
      const previous = all[all.length - 2]!;
      await sql.query(`UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE account_id = $1 AND environment = 'PRODUCTION'`, [
        accountId,
        previous.seq,
        previous.hash,
      ]);
      const cut = await verify();
      expect(cut.intact).toBe(true);
      expect(cut.headHash).not.toBe(before.headHash);
      await sql.query(`INSERT INTO audit_log SELECT (json_populate_record(NULL::audit_log, $1::json)).*`, [JSON.stringify(last)]);
      await sql.query(`UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE account_id = $1 AND environment = 'PRODUCTION'`, [
        accountId,
        last.seq,
        last.hash,
      ]);
      expect(await verify()).toEqual(before);
    });
  });

  it('writes an entry in the transaction of its change: neither exists without the other', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    const count = async () => Number((await sql.query(`SELECT count(*) FROM audit_log WHERE target_id = $1`, [subscription.id])).rows[0].count);
    expect(await count()).toBe(1);
    // The entry cannot be written: the change goes back too.
    await sql.query(`ALTER TABLE audit_log ADD CONSTRAINT no_deletes_today CHECK (action <> 'subscription.deleted') NOT VALID`);
    try {
      expect((await t.gql(admin, DELETE, { id: subscription.id })).errors).toBeDefined();
    } finally {
      await sql.query(`ALTER TABLE audit_log DROP CONSTRAINT no_deletes_today`);
    }
    const [row] = (await sql.query(`SELECT deleted_at FROM webhook_subscriptions WHERE id = $1`, [subscription.id])).rows;
    expect(row.deleted_at).toBeNull();
    expect(await count()).toBe(1);
    // A change that fails leaves no entry.
    expect(errorOf(await t.gql(admin, UPDATE, { id: subscription.id, input: { channels: ['no_such_channel'] } })).code).toBe('BAD_USER_INPUT');
    expect(await count()).toBe(1);
  });

  it('keeps one chain per account and environment under concurrent changes, and a held chain does not hold up another account', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.ok(admin, UPDATE, { id: subscription.id, input: { description: `change ${i}` } })));
    await Promise.all(Array.from({ length: 10 }, () => createSubscription(t, admin, {})));
    const verification = await verify();
    expect(verification.intact).toBe(true);
    const seqs = (
      await sql.query(`SELECT seq FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' ORDER BY seq`, [accountId])
    ).rows.map((r: { seq: string }) => Number(r.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    // A transaction of this account appends and stays open: its chain is held, another account's is not.
    const other = await createAccount(t, 'Other Co');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let appended!: () => void;
    const holding = new Promise<void>((resolve) => (appended = resolve));
    const held = t.app.db.transaction(async (manager) => {
      await t.app.services.audit.record(manager, { accountId, environment: Environment.PRODUCTION }, systemActor('test'), {
        action: AUDIT_ACTIONS.endpointHeld,
        targetType: 'subscription',
        targetId: subscription.id,
      });
      appended();
      await gate;
    });
    await holding;
    const started = performance.now();
    await createSubscription(t, other.adminToken, {});
    const otherMs = performance.now() - started;
    let sameDone = false;
    const same = t.ok(admin, UPDATE, { id: subscription.id, input: { description: 'waits' } }).then(() => (sameDone = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(sameDone).toBe(false);
    release();
    await held;
    await same;
    expect(otherMs).toBeLessThan(1000);
    expect((await verify()).intact).toBe(true);
  });

  it('records what the delivery engine reports about an endpoint, as Hookline itself', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    const failingSince = new Date('2026-11-01T00:00:00.000Z');
    await t.app.db.transaction((manager) =>
      t.app.services.audit.recordEndpointChange(manager, {
        accountId,
        environment: Environment.PRODUCTION,
        subscriptionId: subscription.id,
        action: AUDIT_ACTIONS.endpointDisabled,
        reason: '410 Gone',
        consecutiveFailures: 1,
        failingSince,
        lastStatus: 410,
      }),
    );
    const [entry] = (await log(admin, { first: 1 })).nodes;
    expect(entry).toMatchObject({
      action: 'endpoint.disabled',
      targetType: 'subscription',
      targetId: subscription.id,
      actor: { kind: 'SYSTEM', name: 'delivery-engine', apiKey: null },
      changes: { reason: '410 Gone', consecutiveFailures: 1, failingSince: failingSince.toISOString(), lastStatus: 410 },
    });
    expect((await verify()).intact).toBe(true);
  });

  it('exports the account as JSON lines in canonical form, from which an auditor with the key recomputes every hash (hookline audit-export)', async () => {
    const result = await runCli(['audit-export', '--account', accountId], {
      DATABASE_URL: t.database.url,
      HOOKLINE_MASTER_KEY: MASTER_KEY.toString('base64'),
      LOG_LEVEL: 'silent',
    });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const [{ count }] = (await sql.query(`SELECT count(*)::int AS count FROM audit_log WHERE account_id = $1`, [accountId])).rows;
    expect(lines).toHaveLength(count);
    expect(result.stderr).toContain(`exported ${count} audit entries`);
    const keys = deriveAuditKeys(MASTER_KEY);
    const previous = new Map<string, string>();
    for (const line of lines) {
      const { seq, hash, keyId, ...entry } = JSON.parse(line) as Record<string, unknown> & { seq: number; hash: string; environment: string };
      expect(line).toBe(canonicalJson({ ...entry, seq, hash, keyId }));
      expect(keyId).toBe(keys.keyId);
      const expected = createHmac('sha256', keys.entry)
        .update(chainMessage(seq, previous.get(entry.environment as string) ?? '', canonicalJson(entry)))
        .digest('hex');
      expect(hash).toBe(expected);
      previous.set(entry.environment as string, hash);
    }
    expect([...previous.keys()].sort()).toEqual(['PRODUCTION', 'STAGING']);
    expect(previous.get('PRODUCTION')).toBe((await verify()).headHash);
  });

  describe('checkpoints and retention', () => {
    const scope = () => ({ accountId, environment: Environment.PRODUCTION });
    const service = () => new AuditService(t.app.db, [MASTER_KEY], undefined, 5);

    it('verifies from the newest checkpoint, ignores a forged one, and still finds a change behind a checkpoint', async () => {
      const audit = service();
      const first = await audit.verify(scope());
      expect(first.intact).toBe(true);
      const checkpoints = (await sql.query(`SELECT seq, mac FROM audit_checkpoints WHERE account_id = $1 ORDER BY seq`, [accountId])).rows;
      expect(checkpoints.length).toBeGreaterThan(3);
      expect(await audit.verify(scope())).toEqual(first);

      // A checkpoint made without the key is ignored.
      await sql.query(
        `INSERT INTO audit_checkpoints (account_id, environment, seq, hash, key_id, mac, swept_at)
                       SELECT account_id, environment, seq + 1, 'ff', key_id, mac, now() FROM audit_checkpoints WHERE account_id = $1 AND seq = $2`,
        [accountId, checkpoints[1].seq],
      );
      expect(await audit.verify(scope())).toEqual(first);

      // A row changed behind every checkpoint is found by the sweep of the older stretches.
      const [old] = (
        await sql.query(`SELECT id, target_id FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' AND seq = 2`, [accountId])
      ).rows;
      await sql.query(`UPDATE audit_log SET target_id = 'someone-else' WHERE id = $1`, [old.id]);
      expect(await audit.verify(scope())).toMatchObject({ intact: false, firstBrokenEntryId: old.id });
      await sql.query(`UPDATE audit_log SET target_id = $2 WHERE id = $1`, [old.id, old.target_id]);
      expect((await audit.verify(scope())).intact).toBe(true);
    });

    it('removes only the oldest entries past retention and verifies from the first one kept', async () => {
      const audit = service();
      const before = await audit.verify(scope());
      const total = before.entries;
      const all = (await sql.query(`SELECT id, at FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' ORDER BY seq`, [accountId]))
        .rows as Array<{ id: string; at: Date }>;
      // As if 400 days had passed since the 10th entry.
      const now = new Date(all[9]!.at.getTime() + 400 * 86_400_000 + 1);
      await audit.purge(400, () => true, now);
      const after = await audit.verify(scope());
      expect(after).toMatchObject({ intact: true, entries: total - 10, headHash: before.headHash });
      const kept = (await sql.query(`SELECT id FROM audit_log WHERE account_id = $1 AND environment = 'PRODUCTION' ORDER BY seq`, [accountId])).rows;
      expect(kept[0].id).toBe(all[10]!.id);
      expect((await verify()).intact).toBe(true);

      // Deleting more of the oldest without the key is found.
      await sql.query(`DELETE FROM audit_log WHERE id = $1`, [all[10]!.id]);
      expect(await audit.verify(scope())).toMatchObject({ intact: false, firstBrokenEntryId: all[11]!.id });

      await sql.query(`DELETE FROM audit_checkpoints WHERE account_id = $1`, [accountId]);
    });

    it('finds a log whose every entry was removed, checkpoint or not', async () => {
      const gone = await createAccount(t, 'Gone Co');
      const goneScope = { accountId: gone.accountId, environment: Environment.PRODUCTION };
      const audit = new AuditService(t.app.db, [MASTER_KEY], undefined, 1);
      expect((await audit.verify(goneScope)).intact).toBe(true);
      await sql.query(`DELETE FROM audit_log WHERE account_id = $1`, [gone.accountId]);
      expect(await audit.verify(goneScope)).toMatchObject({ entries: 0, intact: false, firstBrokenEntryId: null });
    });

    it('leaves checkpoints in maintenance for every log that grew past the last one', async () => {
      const grown = await createAccount(t, 'Grown Co');
      for (let i = 0; i < 6; i++) await createSubscription(t, grown.adminToken, {});
      const checkpoints = async () =>
        (await sql.query(`SELECT seq FROM audit_checkpoints WHERE account_id = $1 ORDER BY seq`, [grown.accountId])).rows.map((r: { seq: string }) =>
          Number(r.seq),
        );
      expect(await checkpoints()).toEqual([]);
      await service().maintain(400, 10_000);
      // One at every fifth entry, and one at the head that the next run moves on.
      expect(await checkpoints()).toEqual([5, 7]);
      await createSubscription(t, grown.adminToken, {});
      await service().maintain(400, 10_000);
      expect(await checkpoints()).toEqual([5, 8]);
      expect((await service().verify({ accountId: grown.accountId, environment: Environment.PRODUCTION })).intact).toBe(true);
    });

    it('keeps the newest entry of a log whatever its age', async () => {
      const other = await createAccount(t, 'Old Co');
      await createSubscription(t, other.adminToken, {});
      const audit = service();
      const otherScope = { accountId: other.accountId, environment: Environment.PRODUCTION };
      const head = await audit.verify(otherScope);
      expect(head.entries).toBe(2);
      await audit.purge(1, () => true, new Date(Date.now() + 10 * 86_400_000));
      expect(await audit.verify(otherScope)).toEqual({ ...head, entries: 1 });
    });
  });
});

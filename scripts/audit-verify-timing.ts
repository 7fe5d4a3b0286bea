// How long verifyAuditLog takes on a long log: builds a chain of --entries
// entries (default 100,000) in a fresh database on DATABASE_URL's server,
// then times the first verification (no checkpoints yet: it checks every
// entry and leaves checkpoints), the next one (from the newest checkpoint,
// plus the sweep of older stretches within its budget), and one after a new
// entry. Drops the database at the end.
// tsx would drop the entities' decorator metadata, so compile it with tsc
// into a folder that resolves this project's packages, and run it on the
// project's Node (npx node):
//   npx tsc -p tsconfig.json --outDir /tmp/hookline-scripts && cp package.json /tmp/hookline-scripts/ && \
//   ln -s "$PWD/node_modules" /tmp/hookline-scripts/node_modules && \
//   DATABASE_URL=postgres://… npx node /tmp/hookline-scripts/scripts/audit-verify-timing.js --entries 1000000
import 'reflect-metadata';
import pg from 'pg';
import { AUDIT_ACTIONS, AuditActorKind, systemActor } from '../src/audit/actions.js';
import { canonicalForm, chainMessage, deriveAuditKeys, hmacHex } from '../src/audit/canonical.js';
import { AuditService } from '../src/audit/service.js';
import { createDataSource, runMigrations } from '../src/db/data-source.js';
import { Environment } from '../src/domain.js';
import { newId } from '../src/ids.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const at = process.argv.indexOf('--entries');
const entries = at > 0 ? Number(process.argv[at + 1]) : 100_000;
const masterKey = Buffer.alloc(32, 9);
const keys = deriveAuditKeys(masterKey);

const name = `hookline_audit_timing_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const dbUrl = new URL(url);
dbUrl.pathname = `/${name}`;
const db = createDataSource({ url: dbUrl.href, poolSize: 4 });
try {
  await db.initialize();
  await runMigrations(db);
  const accountId = newId();
  await db.query(`INSERT INTO accounts (id, name) VALUES ($1, 'Timing Co')`, [accountId]);
  const apiKeyId = newId();
  const scope = { accountId, environment: Environment.PRODUCTION };

  const built = performance.now();
  let previous = '';
  const BATCH = 5_000;
  for (let from = 1; from <= entries; from += BATCH) {
    const rows: unknown[][] = [[], [], [], [], [], [], [], []];
    for (let seq = from; seq < Math.min(from + BATCH, entries + 1); seq++) {
      const entry = {
        id: newId(),
        accountId,
        environment: Environment.PRODUCTION,
        at: new Date(Date.now() - (entries - seq) * 1000),
        actorKind: AuditActorKind.API_KEY,
        actorApiKeyId: apiKeyId,
        actorSessionId: null,
        actorName: null,
        action: AUDIT_ACTIONS.subscriptionUpdated,
        targetType: 'subscription',
        targetId: '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87',
        changes: { description: { before: `ERP ledger ${seq - 1}`, after: `ERP ledger ${seq}` } },
      };
      const hash = hmacHex(keys.entry, chainMessage(seq, previous, canonicalForm(entry)));
      previous = hash;
      for (const [i, v] of [entry.id, seq, entry.at, apiKeyId, entry.targetId, JSON.stringify(entry.changes), hash, keys.keyId].entries()) {
        rows[i]!.push(v);
      }
    }
    await db.query(
      `INSERT INTO audit_log (id, account_id, environment, seq, at, actor_kind, actor_api_key_id, action, target_type, target_id, changes, key_id, hash)
       SELECT r.id, $9, 'PRODUCTION', r.seq, r.at, 'API_KEY', r.key, 'subscription.updated', 'subscription', r.target, r.changes::jsonb, r.key_id, r.hash
       FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
         AS r(id, seq, at, key, target, changes, hash, key_id)`,
      [...rows, accountId],
    );
  }
  await db.query(`INSERT INTO audit_chain_heads (account_id, environment, seq, hash) VALUES ($1, 'PRODUCTION', $2, $3)`, [
    accountId,
    entries,
    previous,
  ]);
  await db.query('ANALYZE audit_log');
  console.log(`built ${entries} entries in ${((performance.now() - built) / 1000).toFixed(1)} s`);

  const audit = new AuditService(db, [masterKey]);
  const time = async (label: string) => {
    const started = performance.now();
    const result = await audit.verify(scope);
    console.log(`${label}: ${Math.round(performance.now() - started)} ms`, result);
  };
  await time('first verification, no checkpoints yet');
  await time('second verification, from the newest checkpoint');
  await db.transaction((manager) =>
    audit.record(manager, scope, systemActor('timing'), { action: AUDIT_ACTIONS.endpointHeld, targetType: 'subscription', targetId: null }),
  );
  await time('after one more entry');
} finally {
  await db.destroy().catch(() => undefined);
  if (process.argv.includes('--keep')) console.log(`kept database ${name}`);
  else await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.end();
}

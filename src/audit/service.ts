import type { DataSource, EntityManager } from 'typeorm';
import { ApiKeyEntity } from '../db/entities/api-key.js';
import { Environment, type Scope } from '../domain.js';
import { InputError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { keysetPage, type Page } from '../pagination.js';
import { AUDIT_ACTIONS, systemActor, type AuditActor, type AuditRecord } from './actions.js';
import {
  canonicalForm,
  canonicalJson,
  canonicalObject,
  chainMessage,
  checkpointMessage,
  deriveAuditKeys,
  hexEqual,
  hmacHex,
  hmacPads,
  Hmac,
  ENTRY_DOMAIN,
  type AuditKeys,
} from './canonical.js';
import { AuditCheckpointEntity, AuditEntryEntity } from './entities.js';

export interface AuditFilter {
  action?: string | null;
  targetId?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/** What the delivery engine reports when an endpoint's state changes. */
export interface EndpointChange {
  accountId: string;
  environment: Environment;
  subscriptionId: string;
  action: typeof AUDIT_ACTIONS.endpointHeld | typeof AUDIT_ACTIONS.endpointRecovered | typeof AUDIT_ACTIONS.endpointDisabled;
  /** Why, in words a person reads: e.g. "410 Gone", "failing for 5 days". */
  reason?: string;
  consecutiveFailures?: number;
  failingSince?: Date | null;
  lastStatus?: number | null;
}

export interface AuditVerification {
  /** Entries kept in the log of this account and environment. */
  entries: number;
  intact: boolean;
  headHash: string | null;
  firstBrokenEntryId: string | null;
}

/** A checkpoint is written once this many entries lie past the newest one. */
export const CHECKPOINT_EVERY = 10_000;
/** verify spends what is left of this on checking older stretches again (see sweep). */
export const VERIFY_BUDGET_MS = 1_200;
const SWEEP_STRETCH_MS = 250;
/** What one maintenance run spends at most on re-checking one log's older stretches. */
const MAINTENANCE_SWEEP_MS = 5_000;
/** Entries read per statement while verifying or exporting. */
const BATCH = 5_000;
/** Entries deleted per chain and transaction by retention. */
const RETENTION_STEP = 5_000;

interface Point {
  seq: number;
  hash: string;
}

interface WalkResult {
  broken: { id: string | null; seq: number } | null;
  last: Point;
  count: number;
}

/**
 * The audit log: entries appended in the transaction of the change they
 * record, read newest first, verified against the HMAC chain, exported,
 * checkpointed and, past retention, trimmed from the oldest end.
 */
export class AuditService {
  /** Keys by master key id, the current one first. */
  private readonly keys = new Map<string, AuditKeys>();
  /** The entry key of each, ready to hash many entries. */
  private readonly entryMacs = new Map<string, Hmac>();
  private readonly current: AuditKeys;
  private readonly pads: { inner: Buffer; outer: Buffer };

  constructor(
    private readonly db: DataSource,
    masterKeys: readonly Buffer[],
    private readonly logger?: Logger,
    private readonly checkpointEvery = CHECKPOINT_EVERY,
  ) {
    for (const key of masterKeys) {
      const derived = deriveAuditKeys(key);
      if (!this.keys.has(derived.keyId)) this.keys.set(derived.keyId, derived);
      if (!this.entryMacs.has(derived.keyId)) this.entryMacs.set(derived.keyId, new Hmac(derived.entry));
    }
    this.current = [...this.keys.values()][0]!;
    this.pads = hmacPads(this.current.entry);
  }

  /**
   * Appends an entry to the chain of the scope, in the caller's transaction,
   * in one statement: it moves the chain head on (locking its row until the
   * caller commits, so that entries of one chain take their places in commit
   * order and the chain cannot fork) and inserts the entry with the hash the
   * database computed from the head's previous hash. Call it last in the
   * transaction, so that the head is held as briefly as possible.
   *
   * The entry key reaches the database as the statement's HMAC blocks
   * (never stored): someone who can turn on the server's statement logging
   * with parameters could learn it and rewrite entries newer than the newest
   * checkpoint. Checkpoints are sealed with a key that never leaves this
   * process, and maintenance checkpoints every log that grew each run, so
   * that such a rewrite reaches back no further than that.
   */
  async record(manager: EntityManager, scope: Scope, actor: AuditActor, record: AuditRecord): Promise<void> {
    // Through JSON once, so that what is hashed is what jsonb gives back.
    const changes = record.changes == null ? null : (JSON.parse(JSON.stringify(record.changes)) as Record<string, unknown>);
    const entry = {
      id: newId(),
      accountId: scope.accountId,
      environment: scope.environment,
      at: new Date(),
      actorKind: actor.kind,
      actorApiKeyId: actor.apiKeyId,
      actorSessionId: actor.sessionId,
      actorName: actor.name,
      action: record.action,
      targetType: record.targetType,
      targetId: record.targetId,
      changes,
    };
    const mac = `encode(sha256($12::bytea || sha256($11::bytea || convert_to($13 || chr(10) || %SEQ% || chr(10) || %PREV% || chr(10) || $14, 'UTF8'))), 'hex')`;
    await manager.query(
      `WITH head AS (
         INSERT INTO audit_chain_heads AS h (account_id, environment, seq, hash)
         VALUES ($2, $3, 1, ${mac.replace('%SEQ%', `'1'`).replace('%PREV%', `''`)})
         ON CONFLICT (account_id, environment) DO UPDATE
         SET seq = h.seq + 1, hash = ${mac.replace('%SEQ%', '(h.seq + 1)::text').replace('%PREV%', 'h.hash')}
         RETURNING seq, hash
       )
       INSERT INTO audit_log (id, account_id, environment, seq, at, actor_kind, actor_api_key_id, actor_session_id, actor_name,
                              action, target_type, target_id, changes, key_id, hash)
       SELECT $1, $2, $3, head.seq, $4, $5, $6, $7, $8, $9, $10, $15, $16::jsonb, $17, head.hash FROM head`,
      [
        entry.id,
        entry.accountId,
        entry.environment,
        entry.at,
        entry.actorKind,
        entry.actorApiKeyId,
        entry.actorSessionId,
        entry.actorName,
        entry.action,
        entry.targetType,
        this.pads.inner,
        this.pads.outer,
        ENTRY_DOMAIN,
        canonicalForm(entry),
        entry.targetId,
        changes === null ? null : JSON.stringify(changes),
        this.current.keyId,
      ],
    );
  }

  /**
   * For the delivery engine, in the transaction that changes the endpoint's
   * health: the endpoint was held, recovered or disabled, with the figures
   * behind it. The actor is Hookline's delivery engine.
   */
  async recordEndpointChange(manager: EntityManager, change: EndpointChange): Promise<void> {
    const { accountId, environment, subscriptionId, action, ...figures } = change;
    const changes = Object.fromEntries(Object.entries(figures).filter(([, v]) => v !== undefined));
    await this.record(manager, { accountId, environment }, systemActor('delivery-engine'), {
      action,
      targetType: 'subscription',
      targetId: subscriptionId,
      changes,
    });
  }

  /** Like record, in a transaction of its own: for acts that change nothing else (e.g. revealing a secret). */
  async recordAlone(scope: Scope, actor: AuditActor, record: AuditRecord): Promise<void> {
    await this.db.transaction((manager) => this.record(manager, scope, actor, record));
  }

  /** Entries of the scope, newest first, keyset-paginated on their place in the chain. */
  async list(scope: Scope, filter: AuditFilter, first: number, after?: string | null): Promise<Page<AuditEntryEntity>> {
    const query = this.db
      .getRepository(AuditEntryEntity)
      .createQueryBuilder('a')
      .where('a.account_id = :accountId AND a.environment = :environment', scope);
    if (filter.action) query.andWhere('a.action = :action', { action: filter.action });
    if (filter.targetId) query.andWhere('a.target_id = :targetId', { targetId: filter.targetId });
    if (filter.since) query.andWhere('a.at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('a.at < :until', { until: filter.until });
    // Ordered by the place in the chain; the cursor is an entry's id, whose place is looked up.
    return keysetPage(query, 'a', first, after, {
      column: 'a.seq',
      after: 'a.seq < (SELECT c.seq FROM audit_log c WHERE c.id = :cursor AND c.account_id = :accountId AND c.environment = :environment)',
    });
  }

  /**
   * The keys that acted in entries of the account (or operator keys, which
   * create accounts), by id; revoked ones included, as an entry outlives its key.
   */
  async actorKeys(scope: Scope, ids: readonly string[]): Promise<ApiKeyEntity[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.db
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .where('k.id IN (:...ids)', { ids: valid })
      .andWhere('(k.account_id = :accountId OR k.account_id IS NULL)', { accountId: scope.accountId })
      .getMany();
  }

  /**
   * Checks the chain of the scope. Entries after the newest valid checkpoint
   * are all checked (maintenance keeps that stretch short), the head must be
   * the newest entry, and the time left of the budget goes to checking older
   * stretches between checkpoints again, least recently checked first, so
   * that a change behind a checkpoint is found too: by this call when the
   * budget reaches it, by maintenance or later calls otherwise.
   */
  async verify(scope: Scope, budgetMs = VERIFY_BUDGET_MS, { checkpointHead = false } = {}): Promise<AuditVerification> {
    const started = performance.now();
    const [bounds] = (await this.db.query(
      `SELECT count(*)::int AS entries, min(seq)::float8 AS first, max(seq)::float8 AS last FROM audit_log WHERE account_id = $1 AND environment = $2`,
      [scope.accountId, scope.environment],
    )) as Array<{ entries: number; first: number | null; last: number | null }>;
    const [head] = (await this.db.query(`SELECT seq::float8 AS seq, hash FROM audit_chain_heads WHERE account_id = $1 AND environment = $2`, [
      scope.accountId,
      scope.environment,
    ])) as Point[];
    const entries = bounds!.entries;
    if (!head && entries === 0) return { entries: 0, intact: true, headHash: null, firstBrokenEntryId: null };
    const broken = (id: string | null): AuditVerification => ({ entries, intact: false, headHash: head?.hash ?? null, firstBrokenEntryId: id });
    // Retention keeps a log's newest entry: a head without entries means they were all removed.
    if (entries === 0) return broken(null);

    const checkpoints = await this.validCheckpoints(scope);
    const first = bounds!.first ?? (head ? head.seq + 1 : 1);
    const last = bounds!.last ?? 0;
    // Where the kept entries start: the chain's beginning, or the checkpoint retention left at the last entry it deleted.
    const anchor: Point | undefined = first === 1 ? { seq: 0, hash: '' } : checkpoints.find((c) => c.seq === first - 1);
    if (!anchor) return broken(await this.idAt(scope, first));

    const start = [...checkpoints].reverse().find((c) => c.seq >= anchor.seq && c.seq <= last) ?? anchor;
    if (start.seq >= first) {
      const [row] = (await this.db.query(`SELECT id, hash FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq = $3`, [
        scope.accountId,
        scope.environment,
        start.seq,
      ])) as Array<{ id: string; hash: string }>;
      if (!row) return broken(await this.idAfter(scope, start.seq));
      if (!hexEqual(row.hash, start.hash)) return broken(row.id);
    }
    const tail = await this.walk(scope, start, last, true);
    if (tail.broken) return broken(tail.broken.id);
    // Entries cut from the end, or the head moved back: the newest entries no longer match the head.
    if (!head || head.seq !== tail.last.seq || !hexEqual(head.hash, tail.last.hash)) {
      return broken(head && head.seq < tail.last.seq ? await this.idAt(scope, head.seq + 1) : null);
    }

    if (checkpointHead && tail.last.seq > start.seq) await this.moveHeadCheckpoint(scope, tail.last, start, anchor);

    const swept = await this.sweep(scope, anchor, () => budgetMs - (performance.now() - started));
    if (swept) return broken(swept);
    return { entries, intact: true, headHash: head.hash, firstBrokenEntryId: null };
  }

  /**
   * Checks the stretches between consecutive checkpoints again, least
   * recently checked first, while time is left. The id of the first broken
   * entry found, or null.
   */
  private async sweep(scope: Scope, anchor: Point, timeLeft: () => number): Promise<string | null> {
    const rows = await this.db.getRepository(AuditCheckpointEntity).find({
      where: { accountId: scope.accountId, environment: scope.environment },
      order: { seq: 'ASC' },
    });
    const valid = rows.filter((c) => this.checkpointValid(c) && c.seq > anchor.seq);
    const segments = valid.map((c, i) => ({ from: i === 0 ? anchor : valid[i - 1]!, to: c }));
    segments.sort((a, b) => a.to.sweptAt.getTime() - b.to.sweptAt.getTime());
    for (const { from, to } of segments) {
      // A stretch of CHECKPOINT_EVERY entries takes about this long to check.
      if (timeLeft() < SWEEP_STRETCH_MS) break;
      const result = await this.walk(scope, from, to.seq, false);
      if (result.broken) return result.broken.id;
      if (result.last.seq !== to.seq || !hexEqual(result.last.hash, to.hash)) return this.idAt(scope, to.seq);
      await this.db.query(`UPDATE audit_checkpoints SET swept_at = now() WHERE account_id = $1 AND environment = $2 AND seq = $3`, [
        scope.accountId,
        scope.environment,
        to.seq,
      ]);
    }
    return null;
  }

  /**
   * Recomputes the chain after `from` up to `to`; the first entry that does
   * not match (a changed row, or one whose place shows a row inserted or
   * deleted before it). With checkpointing, an intact stretch leaves a
   * checkpoint at every multiple of CHECKPOINT_EVERY.
   */
  private async walk(scope: Scope, from: Point, to: number, checkpointing: boolean): Promise<WalkResult> {
    let previous = from;
    let count = 0;
    while (previous.seq < to) {
      // A closed range of places rather than a LIMIT: the planner then reads the chain's index, not the whole table.
      const rows = (await this.db.query(
        `SELECT id, seq::float8 AS seq, at, actor_kind, actor_api_key_id, actor_session_id, actor_name, action, target_type, target_id, changes, key_id, hash
         FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq > $3 AND seq <= $4 ORDER BY seq`,
        [scope.accountId, scope.environment, previous.seq, Math.min(to, previous.seq + BATCH)],
      )) as EntryRow[];
      // A whole range missing: the first entry after it is where the chain breaks.
      if (rows.length === 0) return { broken: { id: await this.idAfter(scope, previous.seq), seq: previous.seq + 1 }, last: previous, count };
      for (const row of rows) {
        const mac = this.entryMacs.get(row.key_id);
        const expected = mac && row.seq === previous.seq + 1 ? mac.hex(chainMessage(row.seq, previous.hash, canonicalForm(fromRow(scope, row)))) : '';
        if (!expected || !hexEqual(expected, row.hash)) return { broken: { id: row.id, seq: row.seq }, last: previous, count };
        previous = { seq: row.seq, hash: row.hash };
        count++;
        if (checkpointing && row.seq % this.checkpointEvery === 0) await this.writeCheckpoint(scope, previous);
      }
    }
    return { broken: null, last: previous, count };
  }

  /**
   * A checkpoint at the verified head, replacing the previous one of its
   * kind (one that is neither on a CHECKPOINT_EVERY boundary nor retention's
   * anchor), so that a log has one such checkpoint beside its regular ones.
   */
  private async moveHeadCheckpoint(scope: Scope, head: Point, previous: Point, anchor: Point): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.writeCheckpoint(scope, head, manager);
      if (previous.seq > anchor.seq && previous.seq % this.checkpointEvery !== 0) {
        await manager.query(`DELETE FROM audit_checkpoints WHERE account_id = $1 AND environment = $2 AND seq = $3`, [
          scope.accountId,
          scope.environment,
          previous.seq,
        ]);
      }
    });
  }

  private checkpointValid(c: { accountId: string; environment: string; seq: number; hash: string; keyId: string; mac: string }): boolean {
    const keys = this.keys.get(c.keyId);
    return !!keys && hexEqual(hmacHex(keys.checkpoint, checkpointMessage(c.accountId, c.environment, c.seq, c.hash)), c.mac);
  }

  /** Checkpoints whose MAC holds, oldest first; a forged one is ignored, so verification only starts earlier. */
  private async validCheckpoints(scope: Scope): Promise<Point[]> {
    const rows = await this.db.getRepository(AuditCheckpointEntity).find({
      where: { accountId: scope.accountId, environment: scope.environment },
      order: { seq: 'ASC' },
    });
    return rows.filter((c) => this.checkpointValid(c)).map((c) => ({ seq: c.seq, hash: c.hash }));
  }

  private async writeCheckpoint(scope: Scope, point: Point, manager: EntityManager = this.db.manager): Promise<void> {
    const mac = hmacHex(this.current.checkpoint, checkpointMessage(scope.accountId, scope.environment, point.seq, point.hash));
    await manager.query(
      `INSERT INTO audit_checkpoints (account_id, environment, seq, hash, key_id, mac, swept_at) VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (account_id, environment, seq) DO UPDATE SET hash = EXCLUDED.hash, key_id = EXCLUDED.key_id, mac = EXCLUDED.mac`,
      [scope.accountId, scope.environment, point.seq, point.hash, this.current.keyId, mac],
    );
  }

  private async idAt(scope: Scope, seq: number): Promise<string | null> {
    const [row] = (await this.db.query(`SELECT id FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq = $3`, [
      scope.accountId,
      scope.environment,
      seq,
    ])) as Array<{ id: string }>;
    return row?.id ?? (await this.idAfter(scope, seq));
  }

  private async idAfter(scope: Scope, seq: number): Promise<string | null> {
    const [row] = (await this.db.query(`SELECT id FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq > $3 ORDER BY seq LIMIT 1`, [
      scope.accountId,
      scope.environment,
      seq,
    ])) as Array<{ id: string }>;
    return row?.id ?? null;
  }

  /**
   * Writes every entry of the account (both environments, each chain in
   * order) as one JSON line: the canonical object with its chain fields
   * `seq`, `hash` and `keyId` beside it, keys sorted. Returns how many.
   */
  async export(accountId: string, write: (line: string) => void | Promise<void>): Promise<number> {
    if (!isUuid(accountId)) throw InputError.field('account', 'must be an account id');
    let total = 0;
    for (const environment of [Environment.PRODUCTION, Environment.STAGING]) {
      const scope = { accountId, environment };
      const [bounds] = (await this.db.query(
        `SELECT min(seq)::float8 AS first, max(seq)::float8 AS last FROM audit_log WHERE account_id = $1 AND environment = $2`,
        [accountId, environment],
      )) as Array<{ first: number | null; last: number | null }>;
      if (bounds?.first == null || bounds.last == null) continue;
      for (let after = bounds.first - 1; after < bounds.last; after += BATCH) {
        const rows = (await this.db.query(
          `SELECT id, seq::float8 AS seq, at, actor_kind, actor_api_key_id, actor_session_id, actor_name, action, target_type, target_id, changes, key_id, hash
           FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq > $3 AND seq <= $4 ORDER BY seq`,
          [accountId, environment, after, after + BATCH],
        )) as EntryRow[];
        for (const row of rows) {
          await write(canonicalJson({ ...canonicalObject(fromRow(scope, row)), seq: row.seq, hash: row.hash, keyId: row.key_id }));
        }
        total += rows.length;
      }
    }
    return total;
  }

  /**
   * Maintenance: retention, then every chain that grew since its newest
   * checkpoint is verified and checkpointed at its head, so that verify
   * stays within its time whatever the log's length, and so that entries
   * older than the last maintenance run are vouched for by a checkpoint,
   * whose key never leaves this process (the entry key goes to the database
   * with each appending statement; see record).
   */
  async maintain(retentionDays: number, budgetMs: number, shouldStop: () => boolean = () => false, now = new Date()): Promise<void> {
    const until = Date.now() + budgetMs;
    const timeLeft = () => Date.now() < until && !shouldStop();
    await this.purge(retentionDays, timeLeft, now);
    const chains = (await this.db.query(
      `SELECT h.account_id, h.environment FROM audit_chain_heads h
       WHERE h.seq > coalesce((SELECT max(c.seq) FROM audit_checkpoints c WHERE c.account_id = h.account_id AND c.environment = h.environment), 0)`,
    )) as Array<{ account_id: string; environment: Environment }>;
    for (const chain of chains) {
      if (!timeLeft()) break;
      const scope = { accountId: chain.account_id, environment: chain.environment };
      // The time left (up to a share per log) also re-checks older stretches, least recently checked first.
      const result = await this.verify(scope, Math.min(MAINTENANCE_SWEEP_MS, until - Date.now()), { checkpointHead: true });
      if (!result.intact) this.logger?.warn({ ...scope, firstBrokenEntryId: result.firstBrokenEntryId }, 'the audit log does not verify');
    }
  }

  /**
   * Deletes entries older than the retention period, oldest first, keeping
   * each chain's newest entry. Before a stretch goes, it is verified and a
   * checkpoint is left at its last entry, in the deleting transaction, so
   * that the chain verifies from the first entry kept. A stretch that does
   * not verify is kept, with a warning: it is the evidence.
   */
  async purge(retentionDays: number, timeLeft: () => boolean = () => true, now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
    const chains = (await this.db.query(
      `SELECT h.account_id, h.environment FROM audit_chain_heads h
       WHERE EXISTS (SELECT 1 FROM audit_log a WHERE a.account_id = h.account_id AND a.environment = h.environment
                     AND a.seq = (SELECT min(seq) FROM audit_log m WHERE m.account_id = h.account_id AND m.environment = h.environment)
                     AND a.at < $1 AND a.seq < h.seq)`,
      [cutoff],
    )) as Array<{ account_id: string; environment: Environment }>;
    let deleted = 0;
    for (const chain of chains) {
      const scope = { accountId: chain.account_id, environment: chain.environment };
      while (timeLeft()) {
        const step = await this.purgeStep(scope, cutoff);
        if (step < 0) break;
        deleted += step;
        if (step < RETENTION_STEP) break;
      }
    }
    if (deleted > 0) this.logger?.info({ entries: deleted, retentionDays }, 'old audit entries purged');
    return deleted;
  }

  /** One stretch of one chain; the number of entries deleted, or −1 when the stretch does not verify. */
  private async purgeStep(scope: Scope, cutoff: Date): Promise<number> {
    const [bounds] = (await this.db.query(
      `SELECT min(seq)::float8 AS first, max(seq)::float8 AS last FROM audit_log WHERE account_id = $1 AND environment = $2`,
      [scope.accountId, scope.environment],
    )) as Array<{ first: number | null; last: number | null }>;
    if (bounds?.first == null || bounds.last == null) return 0;
    // The oldest entries, in chain order, up to the first one still within retention.
    const oldest = (await this.db.query(
      `SELECT seq::float8 AS seq, at < $5 AS expired FROM audit_log
       WHERE account_id = $1 AND environment = $2 AND seq >= $3 AND seq < $4 ORDER BY seq`,
      [scope.accountId, scope.environment, bounds.first, Math.min(bounds.last, bounds.first + RETENTION_STEP), cutoff],
    )) as Array<{ seq: number; expired: boolean }>;
    const kept = oldest.findIndex((r) => !r.expired);
    const cut = { seq: kept === 0 ? null : (oldest[(kept < 0 ? oldest.length : kept) - 1]?.seq ?? null) };
    if (cut.seq === null) return 0;
    const checkpoints = await this.validCheckpoints(scope);
    const anchor = bounds.first === 1 ? { seq: 0, hash: '' } : checkpoints.find((c) => c.seq === bounds.first! - 1);
    const walked = anchor ? await this.walk(scope, anchor, cut.seq!, false) : undefined;
    if (!walked || walked.broken || walked.last.seq !== cut.seq) {
      this.logger?.warn({ ...scope }, 'audit entries past retention kept: their stretch of the chain does not verify');
      return -1;
    }
    return this.db.transaction(async (manager) => {
      await this.writeCheckpoint(scope, walked.last, manager);
      const result = (await manager.query(`DELETE FROM audit_log WHERE account_id = $1 AND environment = $2 AND seq <= $3`, [
        scope.accountId,
        scope.environment,
        walked.last.seq,
      ])) as [unknown[], number];
      await manager.query(`DELETE FROM audit_checkpoints WHERE account_id = $1 AND environment = $2 AND seq < $3`, [
        scope.accountId,
        scope.environment,
        walked.last.seq,
      ]);
      return result[1];
    });
  }
}

interface EntryRow {
  id: string;
  seq: number;
  at: Date;
  actor_kind: string;
  actor_api_key_id: string | null;
  actor_session_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: Record<string, unknown> | null;
  key_id: string;
  hash: string;
}

function fromRow(scope: Scope, row: EntryRow) {
  return {
    id: row.id,
    accountId: scope.accountId,
    environment: scope.environment,
    at: row.at,
    actorKind: row.actor_kind,
    actorApiKeyId: row.actor_api_key_id,
    actorSessionId: row.actor_session_id,
    actorName: row.actor_name,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    changes: row.changes,
  };
}

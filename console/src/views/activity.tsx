import { useEffect, useRef, useState } from 'preact/hooks';
import { gql } from '../api';
import { ErrorMessage, Loading } from '../common';
import { localToIso, when } from '../format';

interface Entry {
  id: string;
  at: string;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, unknown> | null;
  actor: { kind: string; name: string | null; apiKey: { name: string; prefix: string } | null };
}

interface Verification {
  entries: number;
  intact: boolean;
  headHash: string | null;
  firstBrokenEntryId: string | null;
}

/** The actions the log records; the filter offers these. */
const ACTIONS = [
  'subscription.created',
  'subscription.updated',
  'subscription.deleted',
  'subscription.enabled',
  'subscription.disabled',
  'secret.rotated',
  'secret.revealed',
  'api_key.created',
  'api_key.revoked',
  'api_key.rate_limit_set',
  'console.signed_in',
  'console.signed_out',
  'event_type.defined',
  'portal_session.created',
  'delivery.redelivered',
  'deliveries.replayed',
  'ordering_key.unblocked',
  'endpoint.held',
  'endpoint.recovered',
  'endpoint.disabled',
  'account.created',
];

function Actor({ actor }: { actor: Entry['actor'] }) {
  if (actor.kind === 'SYSTEM') return <span>Hookline ({actor.name ?? 'system'})</span>;
  const key = actor.apiKey ? (
    <>
      {actor.apiKey.name} <code>{actor.apiKey.prefix}…</code>
    </>
  ) : (
    'a deleted key'
  );
  return actor.kind === 'CONSOLE_SESSION' ? <span>Console session, link made by {key}</span> : <span>API key {key}</span>;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function Changes({ changes }: { changes: Entry['changes'] }) {
  if (!changes || Object.keys(changes).length === 0) return <span class="hint">—</span>;
  return (
    <ul class="changes">
      {Object.entries(changes).map(([field, value]) => {
        const change = value as { before?: unknown; after?: unknown } | null;
        const isChange = change !== null && typeof change === 'object' && 'before' in change && 'after' in change;
        return (
          <li key={field}>
            <code>{field}</code>:{' '}
            {isChange ? (
              <>
                <del>{show(change.before)}</del> → <ins>{show(change.after)}</ins>
              </>
            ) : (
              show(value)
            )}
          </li>
        );
      })}
    </ul>
  );
}

function VerificationStatus() {
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<unknown>(null);
  const check = () => {
    setResult(null);
    setError(null);
    gql<{ verifyAuditLog: Verification }>('{ verifyAuditLog { entries intact headHash firstBrokenEntryId } }').then(
      (d) => setResult(d.verifyAuditLog),
      (e: unknown) => setError(e),
    );
  };
  useEffect(check, []);
  return (
    <div class="verification" role="status" aria-label="Audit log verification">
      {!result && !error && <p>Checking the log…</p>}
      <ErrorMessage error={error} />
      {result?.intact && (
        <p class="ok">
          The log verifies: {result.entries} entries, none changed, inserted or removed. Head hash <code>{result.headHash ?? '—'}</code> (keep it to
          check later that no newest entries were cut off).
        </p>
      )}
      {result && !result.intact && (
        <p class="error">
          The log does not verify:{' '}
          {result.firstBrokenEntryId ? (
            <>
              entry <code>{result.firstBrokenEntryId}</code> does not match its hash.
            </>
          ) : (
            'its newest entries are missing.'
          )}
        </p>
      )}
      {(result || error) && (
        <button type="button" class="secondary small" onClick={check}>
          Check again
        </button>
      )}
    </div>
  );
}

export function ActivityView() {
  const [action, setAction] = useState('');
  const [target, setTarget] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [page, setPage] = useState<{ nodes: Entry[]; endCursor: string | null; hasNextPage: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Filters change faster than answers come: only the answer to the latest request is shown.
  const latest = useRef(0);

  const load = async (after: string | null) => {
    const request = ++latest.current;
    setError(null);
    try {
      const d = await gql<{ auditLog: { nodes: Entry[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } }>(
        `query($filter: AuditFilter, $after: String) { auditLog(filter: $filter, first: 50, after: $after) {
          nodes { id at action targetType targetId changes actor { kind name apiKey { name prefix } } } pageInfo { endCursor hasNextPage } } }`,
        { filter: { action: action || null, targetId: target.trim() || null, since: localToIso(since), until: localToIso(until) }, after },
      );
      if (request !== latest.current) return;
      const nodes = after && page ? [...page.nodes, ...d.auditLog.nodes] : d.auditLog.nodes;
      setPage({ nodes, ...d.auditLog.pageInfo });
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(null), [action, target, since, until]);

  return (
    <section>
      <h1>Activity</h1>
      <p class="hint">
        Every change to this account in this environment: who made it, when, and what changed. Secrets and header values are never recorded.
      </p>
      <VerificationStatus />
      <div class="filters">
        <div class="field">
          <label for="activity-action">Action</label>
          <select id="activity-action" value={action} onChange={(e) => setAction(e.currentTarget.value)}>
            <option value="">Any action</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="activity-target">Target id</label>
          <input id="activity-target" value={target} onChange={(e) => setTarget(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="activity-since">From</label>
          <input id="activity-since" type="datetime-local" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="activity-until">Until</label>
          <input id="activity-until" type="datetime-local" value={until} onChange={(e) => setUntil(e.currentTarget.value)} />
        </div>
      </div>
      <ErrorMessage error={error} />
      {!page && !error && <Loading />}
      {page && page.nodes.length === 0 && <p>No entries match.</p>}
      {page && page.nodes.length > 0 && (
        <table aria-label="Audit log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Changes</th>
            </tr>
          </thead>
          <tbody>
            {page.nodes.map((e) => (
              <tr key={e.id}>
                <td>{when(e.at)}</td>
                <td>
                  <Actor actor={e.actor} />
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.targetType} {e.targetId && <code>{e.targetId}</code>}
                </td>
                <td>
                  <Changes changes={e.changes} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page?.hasNextPage && (
        <button type="button" class="secondary" onClick={() => void load(page.endCursor)}>
          Load more
        </button>
      )}
    </section>
  );
}

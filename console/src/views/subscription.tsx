import { useEffect, useRef, useState } from 'preact/hooks';
import { gql, messageOf } from '../api';
import type { Session } from '../app';
import { ErrorMessage, handle, Loading, ShownOnce, StatusBadge } from '../common';
import { isoToLocal, localToIso, ms, percent, STATUSES, statusWord, when } from '../format';
import { DeliveryCharts, type Bucket } from './chart';
import { DeliveryRow, type ListedDelivery } from './deliveries';
import { SubscriptionForm, type SubscriptionFields } from './form';
import { HEALTH_FIELDS, HealthBadge, type EndpointHealth } from './health';
import { BLOCKED_FIELDS, BlockedKeys, orderingMeaning, orderingWord, type BlockedKey } from './ordering';
import { HowToPull, idleExpiry, KindBadge, kindMeaning, lastPulled } from './pull';

interface Detail extends SubscriptionFields {
  enabled: boolean;
  disabledReason: string | null;
  environment: string;
  createdAt: string;
  secrets: Array<{ id: string; hint: string; createdAt: string; expiresAt: string | null }>;
  stats: {
    total: number;
    succeeded: number;
    failed: number;
    pending: number;
    successRate: number | null;
    latencyP50Ms: number | null;
    latencyP95Ms: number | null;
    lastSuccessAt: string | null;
    lastFailureAt: string | null;
  };
  endpointHealth: EndpointHealth;
  blockedOrderingKeys: BlockedKey[];
  lastPulledAt: string | null;
  expireAfterIdleSeconds: number | null;
}

const RANGES = [
  { key: '1h', label: 'Last hour', seconds: 3600, bucket: 60 },
  { key: '24h', label: 'Last 24 hours', seconds: 86_400, bucket: 3600 },
  { key: '7d', label: 'Last 7 days', seconds: 7 * 86_400, bucket: 6 * 3600 },
] as const;

const SETTLED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const POLL_MS = 1000;

export function SubscriptionDetail({ id, session }: { id: string; session: Session }) {
  const [sub, setSub] = useState<Detail | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const [rotated, setRotated] = useState<string | null>(null);
  const [range, setRange] = useState<(typeof RANGES)[number]['key']>('24h');
  const [buckets, setBuckets] = useState<Bucket[] | null>(null);
  const [reload, setReload] = useState(0);
  const refresh = () => setReload((n) => n + 1);

  useEffect(() => {
    gql<{ webhookSubscription: Detail | null }>(
      `query($id: ID!) { webhookSubscription(id: $id) {
        id url kind lastPulledAt expireAfterIdleSeconds description channels events payloadFormat retrySchedule headers rateLimitPerSecond enabled disabledReason environment createdAt
        secrets { id hint createdAt expiresAt }
        stats { total succeeded failed pending successRate latencyP50Ms latencyP95Ms lastSuccessAt lastFailureAt }
        maxInFlight ordering ${BLOCKED_FIELDS} ${HEALTH_FIELDS} } }`,
      { id },
    ).then(
      (d) => setSub(d.webhookSubscription),
      (e: unknown) => setError(e),
    );
  }, [id, reload]);

  useEffect(() => {
    const r = RANGES.find((x) => x.key === range)!;
    gql<{ webhookSubscription: { statsSeries: Bucket[] } | null }>(
      `query($id: ID!, $since: DateTime!, $bucket: Int!) { webhookSubscription(id: $id) {
        statsSeries(since: $since, bucketSeconds: $bucket) { start succeeded failed pending cancelled attempts latencyP50Ms latencyP95Ms } } }`,
      { id, since: new Date(Date.now() - r.seconds * 1000).toISOString(), bucket: r.bucket },
    ).then(
      (d) => setBuckets(d.webhookSubscription?.statsSeries ?? []),
      (e: unknown) => setError(e),
    );
  }, [id, range, reload]);

  if (sub === undefined) return error ? <ErrorMessage error={error} /> : <Loading />;
  if (sub === null) return <p role="alert">This subscription does not exist (or belongs to another account or environment).</p>;

  const act = async (query: string, variables: Record<string, unknown>, after?: (data: Record<string, unknown>) => void) => {
    setError(null);
    try {
      const data = await gql<Record<string, unknown>>(query, variables);
      after?.(data);
      refresh();
    } catch (e) {
      setError(e);
    }
  };

  const pull = sub.kind === 'PULL';
  return (
    <section>
      <p>
        <a href="#/webhooks">← Webhooks</a>
      </p>
      <h1 class="url-heading">{sub.url}</h1>
      {sub.description && <p>{sub.description}</p>}
      <dl class="facts">
        <dt>State</dt>
        <dd>
          {sub.enabled ? <span class="badge ok">Enabled</span> : <span class="badge off">Disabled</span>}
          {sub.disabledReason && <span class="hint"> {sub.disabledReason}</span>}
        </dd>
        <dt>Kind</dt>
        <dd>
          <KindBadge kind={sub.kind} /> <span class="hint">{kindMeaning(sub.kind)}</span>
        </dd>
        {pull ? (
          <>
            <dt>Waiting deliveries</dt>
            <dd>
              {sub.stats.pending} <span class="hint">pending or retrying; a pulled delivery counts until its consumer acknowledges it</span>
            </dd>
            <dt>Last pulled</dt>
            <dd>{lastPulled(sub.lastPulledAt)}</dd>
            <dt>Idle expiry</dt>
            <dd>{idleExpiry(sub.expireAfterIdleSeconds)}</dd>
          </>
        ) : (
          <>
            <dt>Endpoint health</dt>
            <dd>
              <HealthBadge health={sub.endpointHealth} detailed />
            </dd>
          </>
        )}
        <dt>Channels</dt>
        <dd>{sub.channels.join(', ')}</dd>
        <dt>Events</dt>
        <dd>{sub.events.length ? sub.events.join(', ') : 'Every event of its channels'}</dd>
        <dt>Payload format</dt>
        <dd>{sub.payloadFormat}</dd>
        <dt>Retry schedule</dt>
        <dd>{sub.retrySchedule.length ? sub.retrySchedule.map((s) => `${s} s`).join(', ') : 'No retries'}</dd>
        {!pull && (
          <>
            <dt>Rate limit</dt>
            <dd>{sub.rateLimitPerSecond ? `${sub.rateLimitPerSecond} per second` : 'None'}</dd>
            <dt>Most in flight</dt>
            <dd>{sub.maxInFlight ?? 'The default (10)'}</dd>
          </>
        )}
        <dt>Ordering</dt>
        <dd>
          {orderingWord(sub.ordering)}: <span class="hint">{orderingMeaning(sub.ordering)}</span>
        </dd>
        {!pull && (
          <>
            <dt>Custom headers</dt>
            <dd>{sub.headers ? Object.keys(sub.headers).join(', ') : 'None'}</dd>
          </>
        )}
        <dt>Signing secrets</dt>
        <dd>
          {sub.secrets.map((s) => (
            <div key={s.id}>
              <code>…{s.hint}</code> <span class="hint">since {when(s.createdAt)}</span>
              {s.expiresAt && <span class="hint">, expires {when(s.expiresAt)}</span>}
            </div>
          ))}
        </dd>
      </dl>
      {session.canWrite && (
        <div class="actions">
          <SendTestEvent id={sub.id} onDone={refresh} />
          <button type="button" class="secondary" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Edit
          </button>
          <button
            type="button"
            class="secondary"
            onClick={handle(
              async () =>
                // Nobody pulls from a disabled pull subscription, so its waiting deliveries end with it.
                (!pull ||
                  !sub.enabled ||
                  sub.stats.pending === 0 ||
                  confirm(`Disable it? Its ${sub.stats.pending} waiting ${sub.stats.pending === 1 ? 'delivery is' : 'deliveries are'} cancelled.`)) &&
                act(`mutation($id: ID!, $input: UpdateWebhookSubscriptionInput!) { updateWebhookSubscription(id: $id, input: $input) { id } }`, {
                  id: sub.id,
                  input: { enabled: !sub.enabled },
                }),
            )}
          >
            {sub.enabled ? 'Disable' : 'Enable'}
          </button>
          <button
            type="button"
            class="secondary"
            onClick={handle(
              async () =>
                confirm('Rotate the signing secret? The current one keeps signing beside the new one for 24 hours.') &&
                act(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: sub.id }, (d) =>
                  setRotated((d.rotateWebhookSecret as { secret: string }).secret),
                ),
            )}
          >
            Rotate secret
          </button>
          <button
            type="button"
            class="danger"
            onClick={handle(
              async () =>
                confirm(`Delete the subscription to ${sub.url}? Its pending deliveries are cancelled.`) &&
                act(`mutation($id: ID!) { deleteWebhookSubscription(id: $id) }`, { id: sub.id }, () => {
                  location.hash = '#/webhooks';
                }),
            )}
          >
            Delete
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
      {rotated && <ShownOnce label="New signing secret" value={rotated} />}
      {editing && (
        <SubscriptionForm
          existing={sub}
          onCancel={() => setEditing(false)}
          onSaved={() => {
            setEditing(false);
            refresh();
          }}
        />
      )}
      {pull && <HowToPull id={sub.id} channels={sub.channels} events={sub.events} />}
      {sub.ordering === 'PER_KEY' && (
        <BlockedKeys subscriptionId={sub.id} blocked={sub.blockedOrderingKeys} canWrite={session.canWrite} onChanged={refresh} />
      )}

      <h2>Performance</h2>
      <div class="tiles">
        <Tile label="Success rate" value={percent(sub.stats.successRate)} />
        <Tile label="Latency p50" value={ms(sub.stats.latencyP50Ms)} />
        <Tile label="Latency p95" value={ms(sub.stats.latencyP95Ms)} />
        <Tile label="Deliveries" value={String(sub.stats.total)} />
        <Tile label="Succeeded" value={String(sub.stats.succeeded)} />
        <Tile label="Failed" value={String(sub.stats.failed)} />
        <Tile label="Pending" value={String(sub.stats.pending)} />
        <Tile label="Last success" value={when(sub.stats.lastSuccessAt)} />
        <Tile label="Last failure" value={when(sub.stats.lastFailureAt)} />
      </div>
      <div class="field inline">
        <label for="chart-range">Chart range</label>
        <select id="chart-range" value={range} onChange={(e) => setRange(e.currentTarget.value as typeof range)}>
          {RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
        </select>
      </div>
      {buckets ? <DeliveryCharts buckets={buckets} /> : <Loading />}

      <Deliveries subscriptionId={sub.id} session={session} reload={reload} onRefresh={refresh} />
      {session.canWrite && <Replay subscriptionId={sub.id} onDone={refresh} />}
    </section>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile">
      <div class="tile-label">{label}</div>
      <div class="tile-value">{value}</div>
    </div>
  );
}

interface TestDelivery {
  id: string;
  status: string;
  attempts: Array<{ responseStatus: number | null; durationMs: number; error: string | null }>;
}

/** Sends a test event and follows its delivery until it settles, without a reload. */
function SendTestEvent({ id, onDone }: { id: string; onDone: () => void }) {
  const [delivery, setDelivery] = useState<TestDelivery | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const poll = async (deliveryId: string) => {
    try {
      const d = await gql<{ delivery: TestDelivery | null }>(
        `query($id: ID!) { delivery(id: $id) { id status attempts { responseStatus durationMs error } } }`,
        { id: deliveryId },
      );
      if (d.delivery) setDelivery(d.delivery);
      if (d.delivery && (SETTLED.has(d.delivery.status) || d.delivery.status === 'RETRYING')) onDone();
      else timer.current = window.setTimeout(() => void poll(deliveryId), POLL_MS);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const send = async () => {
    clearTimeout(timer.current);
    setError(null);
    setDelivery(null);
    try {
      const d = await gql<{ sendTestEvent: TestDelivery }>(
        `mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id status attempts { responseStatus durationMs error } } }`,
        { id },
      );
      setDelivery(d.sendTestEvent);
      timer.current = window.setTimeout(() => void poll(d.sendTestEvent.id), POLL_MS / 2);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const last = delivery?.attempts[delivery.attempts.length - 1];
  return (
    <>
      <button type="button" onClick={handle(send)}>
        Send test event
      </button>
      <div class="test-result" role="status" aria-live="polite" aria-label="Test event result">
        {error && <span class="error">{error}</span>}
        {delivery && (
          <>
            Test event: <StatusBadge status={delivery.status} />
            {last && (
              <span class="hint">
                {' '}
                {last.responseStatus !== null ? `HTTP ${last.responseStatus}` : last.error} in {last.durationMs} ms
              </span>
            )}
          </>
        )}
      </div>
    </>
  );
}

function Deliveries({
  subscriptionId,
  session,
  reload,
  onRefresh,
}: {
  subscriptionId: string;
  session: Session;
  reload: number;
  onRefresh: () => void;
}) {
  const [status, setStatus] = useState('');
  const [eventType, setEventType] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [eventNames, setEventNames] = useState<string[]>([]);
  const [page, setPage] = useState<{ nodes: ListedDelivery[]; totalCount: number; endCursor: string | null; hasNextPage: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Filters change faster than answers come: only the answer to the latest request is shown.
  const latest = useRef(0);

  useEffect(() => {
    gql<{ eventNames: string[] }>('{ eventNames }').then(
      (d) => setEventNames(d.eventNames),
      () => undefined,
    );
  }, []);

  const load = async (after: string | null) => {
    const request = ++latest.current;
    setError(null);
    try {
      const filter = {
        subscriptionId,
        status: status || null,
        eventType: eventType || null,
        since: localToIso(since),
        until: localToIso(until),
      };
      const d = await gql<{
        deliveries: { nodes: ListedDelivery[]; totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
      }>(
        `query($filter: DeliveryFilter, $after: String) { deliveries(filter: $filter, first: 25, after: $after) {
          nodes { id status attemptCount createdAt lastAttemptAt nextAttemptAt sequence event { id type orderingKey } } totalCount pageInfo { endCursor hasNextPage } } }`,
        { filter, after },
      );
      if (request !== latest.current) return;
      const nodes = after && page ? [...page.nodes, ...d.deliveries.nodes] : d.deliveries.nodes;
      setPage({ nodes, totalCount: d.deliveries.totalCount, ...d.deliveries.pageInfo });
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(null), [subscriptionId, status, eventType, since, until, reload]);

  return (
    <section aria-labelledby="deliveries-heading">
      <div class="heading-row">
        <h2 id="deliveries-heading">Recent deliveries</h2>
        <button type="button" class="secondary" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      <div class="filters">
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusWord(s)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-type">Event type</label>
          <select id="filter-type" value={eventType} onChange={(e) => setEventType(e.currentTarget.value)}>
            <option value="">Any type</option>
            {eventNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-since">From</label>
          <input id="filter-since" type="datetime-local" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="filter-until">Until</label>
          <input id="filter-until" type="datetime-local" value={until} onChange={(e) => setUntil(e.currentTarget.value)} />
        </div>
      </div>
      <ErrorMessage error={error} />
      {!page && !error && <Loading />}
      {page && (
        <>
          <p class="hint">
            {page.totalCount} {page.totalCount === 1 ? 'delivery' : 'deliveries'}
          </p>
          {page.nodes.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Event</th>
                  <th scope="col">Created</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Next attempt</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.nodes.map((d) => (
                  <DeliveryRow key={d.id} delivery={d} canWrite={session.canWrite} onChanged={onRefresh} />
                ))}
              </tbody>
            </table>
          )}
          {page.hasNextPage && (
            <button type="button" class="secondary" onClick={() => void load(page.endCursor)}>
              Load more
            </button>
          )}
        </>
      )}
    </section>
  );
}

function Replay({ subscriptionId, onDone }: { subscriptionId: string; onDone: () => void }) {
  const [since, setSince] = useState(isoToLocal(new Date(Date.now() - 24 * 3600 * 1000)));
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      class="replay"
      aria-label="Replay failed deliveries"
      onSubmit={handle(async (e: Event) => {
        e.preventDefault();
        setError(null);
        setResult(null);
        try {
          const iso = localToIso(since);
          if (!iso) throw new Error('Choose the time from which failed deliveries are replayed');
          const d = await gql<{ replayFailedDeliveries: number }>(
            `mutation($id: ID!, $since: DateTime!) { replayFailedDeliveries(subscriptionId: $id, since: $since) }`,
            { id: subscriptionId, since: iso },
          );
          setResult(`${d.replayFailedDeliveries} failed ${d.replayFailedDeliveries === 1 ? 'delivery' : 'deliveries'} queued again.`);
          onDone();
        } catch (err) {
          setError(err);
        }
      })}
    >
      <h2>Replay failed deliveries</h2>
      <div class="field inline">
        <label for="replay-since">Failed deliveries created since</label>
        <input id="replay-since" type="datetime-local" required value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        <button type="submit">Replay failed deliveries</button>
      </div>
      {result && <p role="status">{result}</p>}
      <ErrorMessage error={error} />
    </form>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { gql } from '../api';
import { ErrorMessage, Loading, StatusBadge } from '../common';
import { json, localToIso, when } from '../format';

interface ListedEvent {
  id: string;
  type: string;
  createdAt: string;
  idempotencyKey: string | null;
}

interface EventDetail extends ListedEvent {
  data: unknown;
  orderingKey: string | null;
  sequence: number | null;
  deliveries: Array<{ id: string; status: string; attemptCount: number; sequence: number | null; subscription: { id: string; url: string } }>;
}

export function EventsView({ id }: { id?: string }) {
  return id ? <EventPage key={id} id={id} /> : <EventList />;
}

function EventList() {
  const [type, setType] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [names, setNames] = useState<string[]>([]);
  const [page, setPage] = useState<{ nodes: ListedEvent[]; totalCount: number; endCursor: string | null; hasNextPage: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Filters change faster than answers come: only the answer to the latest request is shown.
  const latest = useRef(0);

  useEffect(() => {
    gql<{ eventNames: string[] }>('{ eventNames }').then(
      (d) => setNames(d.eventNames),
      () => undefined,
    );
  }, []);

  const load = async (after: string | null) => {
    const request = ++latest.current;
    setError(null);
    try {
      const d = await gql<{ events: { nodes: ListedEvent[]; totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean } } }>(
        `query($filter: EventFilter, $after: String) { events(filter: $filter, first: 25, after: $after) {
          nodes { id type createdAt idempotencyKey } totalCount pageInfo { endCursor hasNextPage } } }`,
        { filter: { type: type || null, since: localToIso(since), until: localToIso(until) }, after },
      );
      if (request !== latest.current) return;
      const nodes = after && page ? [...page.nodes, ...d.events.nodes] : d.events.nodes;
      setPage({ nodes, totalCount: d.events.totalCount, ...d.events.pageInfo });
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(null), [type, since, until]);

  return (
    <section>
      <h1>Events</h1>
      <div class="filters">
        <div class="field">
          <label for="events-type">Event type</label>
          <select id="events-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">Any type</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="events-since">From</label>
          <input id="events-since" type="datetime-local" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="events-until">Until</label>
          <input id="events-until" type="datetime-local" value={until} onChange={(e) => setUntil(e.currentTarget.value)} />
        </div>
      </div>
      <ErrorMessage error={error} />
      {!page && !error && <Loading />}
      {page && (
        <>
          <p class="hint">{page.totalCount} events, newest first</p>
          {page.nodes.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Created</th>
                  <th scope="col">Idempotency key</th>
                </tr>
              </thead>
              <tbody>
                {page.nodes.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <a href={`#/events/${e.id}`}>{e.type}</a>
                    </td>
                    <td>{when(e.createdAt)}</td>
                    <td>{e.idempotencyKey ?? '—'}</td>
                  </tr>
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

function EventPage({ id }: { id: string }) {
  const [event, setEvent] = useState<EventDetail | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    gql<{ event: EventDetail | null }>(
      `query($id: ID!) { event(id: $id) { id type createdAt idempotencyKey orderingKey sequence data
        deliveries { id status attemptCount sequence subscription { id url } } } }`,
      { id },
    ).then(
      (d) => setEvent(d.event),
      (e: unknown) => setError(e),
    );
  }, [id]);
  if (event === undefined) return error ? <ErrorMessage error={error} /> : <Loading />;
  if (event === null) return <p role="alert">This event does not exist (or belongs to another account or environment).</p>;
  return (
    <section>
      <p>
        <a href="#/events">← Events</a>
      </p>
      <h1>{event.type}</h1>
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{event.id}</code>
        </dd>
        <dt>Created</dt>
        <dd>{when(event.createdAt)}</dd>
        <dt>Idempotency key</dt>
        <dd>{event.idempotencyKey ?? '—'}</dd>
        <dt>Ordering key</dt>
        <dd>
          {event.orderingKey === null ? (
            '—'
          ) : (
            <>
              <code>{event.orderingKey}</code> <span class="hint">#{event.sequence} of its key</span>
            </>
          )}
        </dd>
      </dl>
      <h2>Data</h2>
      <pre class="body">{json(event.data)}</pre>
      <h2>Deliveries</h2>
      {event.deliveries.length === 0 ? (
        <p>No subscription received this event.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Subscription</th>
              <th scope="col">Attempts</th>
              <th scope="col">Sequence</th>
            </tr>
          </thead>
          <tbody>
            {event.deliveries.map((d) => (
              <tr key={d.id}>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>
                  <a href={`#/webhooks/${d.subscription.id}`}>{d.subscription.url}</a>
                </td>
                <td>{d.attemptCount}</td>
                <td>{d.sequence ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

import { useState } from 'preact/hooks';
import { gql } from '../api';
import { ErrorMessage, handle, StatusBadge } from '../common';
import { when } from '../format';

export const ORDERINGS = ['PER_KEY', 'NONE'] as const;

const WORDS: Record<string, string> = { PER_KEY: 'Per key', NONE: 'None' };
/** Lower case: it follows the word and a colon. */
const MEANING: Record<string, string> = {
  PER_KEY:
    'deliveries of events with the same ordering key arrive one at a time, in order; a failed one holds back the later ones of its key until it is redelivered or the key is unblocked',
  NONE: 'every delivery is sent when it is due, in parallel with the others',
};

export function orderingWord(ordering: string): string {
  return WORDS[ordering] ?? ordering;
}

export function orderingMeaning(ordering: string): string {
  return MEANING[ordering] ?? '';
}

export interface BlockedKey {
  orderingKey: string;
  since: string;
  waiting: number;
  failedDelivery: { id: string; status: string; sequence: number | null; event: { id: string; type: string } };
}

/** The server lists at most this many, the longest blocked first. */
const BLOCKED_SHOWN = 50;

export const BLOCKED_FIELDS = `blockedOrderingKeys(first: ${BLOCKED_SHOWN}) { orderingKey since waiting failedDelivery { id status sequence event { id type } } }`;

/** The ordering keys held back by a FAILED delivery, each with Unblock for an ADMIN. */
export function BlockedKeys({
  subscriptionId,
  blocked,
  canWrite,
  onChanged,
}: {
  subscriptionId: string;
  blocked: BlockedKey[];
  canWrite: boolean;
  onChanged: () => void;
}) {
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const unblock = async (key: BlockedKey) => {
    const waits = `${key.waiting} ${key.waiting === 1 ? 'delivery' : 'deliveries'}`;
    if (!confirm(`Unblock the key ${key.orderingKey}? The ${waits} waiting go on without the failed one, which is no longer sent before them.`)) {
      return;
    }
    setResult(null);
    setError(null);
    try {
      const d = await gql<{ unblockOrderingKey: number }>(
        `mutation($id: ID!, $key: String!) { unblockOrderingKey(subscriptionId: $id, orderingKey: $key) }`,
        {
          id: subscriptionId,
          key: key.orderingKey,
        },
      );
      const n = d.unblockOrderingKey;
      setResult(`Unblocked ${key.orderingKey}: ${n} ${n === 1 ? 'delivery goes' : 'deliveries go'} on.`);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="blocked-heading">
      <h2 id="blocked-heading">Blocked ordering keys</h2>
      {blocked.length === 0 ? (
        <p>No ordering key is blocked.</p>
      ) : (
        <>
          <p class="hint">
            {canWrite
              ? 'A failed delivery holds back the later deliveries of its key. Redeliver it (in Recent deliveries) to send it again first, or unblock the key to let the waiting ones go on without it.'
              : 'A failed delivery holds back the later deliveries of its key until an admin redelivers it or unblocks the key.'}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Ordering key</th>
                <th scope="col">Blocked since</th>
                <th scope="col">Waiting</th>
                <th scope="col">Failed delivery</th>
                {canWrite && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {blocked.map((b) => (
                <tr key={b.orderingKey}>
                  <td>
                    <code>{b.orderingKey}</code>
                  </td>
                  <td>{when(b.since)}</td>
                  <td>{b.waiting}</td>
                  <td>
                    <StatusBadge status={b.failedDelivery.status} />{' '}
                    <a href={`#/events/${b.failedDelivery.event.id}`}>{b.failedDelivery.event.type}</a>
                    {b.failedDelivery.sequence !== null && <span class="hint"> #{b.failedDelivery.sequence}</span>}
                    <div class="hint">
                      <code>{b.failedDelivery.id}</code>
                    </div>
                  </td>
                  {canWrite && (
                    <td>
                      <button type="button" class="secondary small" aria-label={`Unblock ${b.orderingKey}`} onClick={handle(() => unblock(b))}>
                        Unblock
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          {blocked.length === BLOCKED_SHOWN && <p class="hint">The {BLOCKED_SHOWN} keys blocked longest are shown; there may be more.</p>}
        </>
      )}
      {result && <p role="status">{result}</p>}
      <ErrorMessage error={error} />
    </section>
  );
}

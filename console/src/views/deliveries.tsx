import { useState } from 'preact/hooks';
import { gql, messageOf } from '../api';
import { handle, StatusBadge } from '../common';
import { when } from '../format';

export interface ListedDelivery {
  id: string;
  status: string;
  attemptCount: number;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  /** 1, 2, 3, … among the deliveries of its ordering key to the subscription; null without a key. */
  sequence: number | null;
  event: { id: string; type: string; orderingKey: string | null };
  subscription?: { id: string; url: string };
}

interface Attempt {
  id: string;
  number: number;
  startedAt: string;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  succeeded: boolean;
}

/** A delivery as a table row, whose attempts open below it. */
export function DeliveryRow({
  delivery,
  canWrite,
  onChanged,
  showSubscription = false,
}: {
  delivery: ListedDelivery;
  canWrite: boolean;
  onChanged: () => void;
  showSubscription?: boolean;
}) {
  const [attempts, setAttempts] = useState<Attempt[] | null>(null);
  const [open, setOpen] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const columns = showSubscription ? 7 : 6;

  const toggle = async () => {
    if (open) return setOpen(false);
    setOpen(true);
    try {
      const d = await gql<{ delivery: { attempts: Attempt[] } | null }>(
        `query($id: ID!) { delivery(id: $id) { attempts { id number startedAt durationMs responseStatus responseBody error succeeded } } }`,
        { id: delivery.id },
      );
      setAttempts(d.delivery?.attempts ?? []);
    } catch (e) {
      setMessage(messageOf(e));
    }
  };

  const redeliver = async () => {
    setMessage(null);
    try {
      await gql(`mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }`, { id: delivery.id });
      setMessage('Queued again.');
      onChanged();
    } catch (e) {
      setMessage(messageOf(e));
    }
  };

  return (
    <>
      <tr>
        <td>
          <StatusBadge status={delivery.status} />
        </td>
        {showSubscription && (
          <td>{delivery.subscription ? <a href={`#/webhooks/${delivery.subscription.id}`}>{delivery.subscription.url}</a> : '—'}</td>
        )}
        <td>
          <a href={`#/events/${delivery.event.id}`}>{delivery.event.type}</a>
          {delivery.sequence !== null && (
            <div class="hint">
              Key <code>{delivery.event.orderingKey}</code>, #{delivery.sequence}
            </div>
          )}
        </td>
        <td>{when(delivery.createdAt)}</td>
        <td>{delivery.attemptCount}</td>
        <td>{when(delivery.nextAttemptAt)}</td>
        <td class="row-actions">
          <button type="button" class="secondary small" aria-expanded={open} onClick={handle(toggle)}>
            {open ? 'Hide attempts' : 'Attempts'}
          </button>
          {canWrite && (
            <button type="button" class="secondary small" onClick={handle(redeliver)}>
              Redeliver
            </button>
          )}
          {message && <span role="status">{message}</span>}
        </td>
      </tr>
      {open && (
        <tr class="attempts-row">
          <td colSpan={columns}>
            {!attempts && <p>Loading attempts…</p>}
            {attempts && attempts.length === 0 && <p>No attempt yet.</p>}
            {attempts && attempts.length > 0 && (
              <table class="attempts">
                <caption class="visually-hidden">Attempts of delivery {delivery.id}</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Started</th>
                    <th scope="col">Status code</th>
                    <th scope="col">Duration</th>
                    <th scope="col">Error</th>
                    <th scope="col">Response body</th>
                  </tr>
                </thead>
                <tbody>
                  {attempts.map((a) => (
                    <tr key={a.id}>
                      <td>{a.number}</td>
                      <td>{when(a.startedAt)}</td>
                      <td>
                        <span class={a.succeeded ? 'badge ok' : 'badge status-failed'}>{a.responseStatus ?? 'none'}</span>
                      </td>
                      <td>{a.durationMs} ms</td>
                      <td>{a.error ?? ''}</td>
                      <td>{a.responseBody ? <pre class="body">{a.responseBody}</pre> : <span class="hint">empty</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <p class="hint">
              Delivery id (the <code>webhook-id</code> header): <code>{delivery.id}</code>
            </p>
          </td>
        </tr>
      )}
    </>
  );
}

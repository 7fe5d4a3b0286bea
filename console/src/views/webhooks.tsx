import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api';
import type { Session } from '../app';
import { ErrorMessage, Loading, ShownOnce } from '../common';
import { SubscriptionForm } from './form';
import { HEALTH_FIELDS, HealthBadge, type EndpointHealth } from './health';
import { KindBadge, lastPulled, type SubscriptionKind } from './pull';

interface ListedSubscription {
  id: string;
  url: string;
  kind: SubscriptionKind;
  lastPulledAt: string | null;
  stats: { pending: number };
  description: string | null;
  channels: string[];
  payloadFormat: string;
  enabled: boolean;
  disabledReason: string | null;
  endpointHealth: EndpointHealth;
}

export function WebhooksView({ session }: { session: Session }) {
  const [subs, setSubs] = useState<ListedSubscription[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);

  const load = () =>
    gql<{ webhookSubscriptions: ListedSubscription[] }>(
      `{ webhookSubscriptions { id url kind lastPulledAt stats { pending } description channels payloadFormat enabled disabledReason ${HEALTH_FIELDS} } }`,
    ).then(
      (d) => setSubs(d.webhookSubscriptions),
      (e: unknown) => setError(e),
    );
  useEffect(() => void load(), []);

  return (
    <section>
      <div class="heading-row">
        <h1>Webhooks</h1>
        {session.canWrite && !creating && (
          <button
            type="button"
            onClick={() => {
              setCreated(null);
              setCreating(true);
            }}
          >
            New subscription
          </button>
        )}
      </div>
      {created && (
        <ShownOnce label="Signing secret" value={created.secret}>
          <p>
            Your endpoint (or pull consumer) verifies each delivery's <code>webhook-signature</code> with it.{' '}
            <a href={`#/webhooks/${created.id}`}>Open the subscription</a>
          </p>
        </ShownOnce>
      )}
      {creating && (
        <SubscriptionForm
          onCancel={() => setCreating(false)}
          onSaved={({ id, secret }) => {
            setCreating(false);
            setCreated({ id, secret: secret! });
            void load();
          }}
        />
      )}
      <ErrorMessage error={error} />
      {!subs && !error && <Loading />}
      {subs && subs.length === 0 && <p>No subscriptions yet.{session.canWrite ? ' Create one to start receiving events.' : ''}</p>}
      {subs && subs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Channels</th>
              <th scope="col">Format</th>
              <th scope="col">State</th>
              <th scope="col">Health</th>
            </tr>
          </thead>
          <tbody>
            {subs.map((s) => (
              <tr key={s.id}>
                <td>
                  <KindBadge kind={s.kind} /> <a href={`#/webhooks/${s.id}`}>{s.url}</a>
                  {s.description && <div class="hint">{s.description}</div>}
                </td>
                <td>{s.channels.join(', ')}</td>
                <td>{s.payloadFormat}</td>
                <td>
                  {s.enabled ? (
                    <span class="badge ok">Enabled</span>
                  ) : (
                    <>
                      <span class="badge off">Disabled</span>
                      {s.disabledReason && <div class="hint">{s.disabledReason}</div>}
                    </>
                  )}
                </td>
                <td>
                  {s.kind === 'PULL' ? (
                    <span class="hint">
                      {s.stats.pending} waiting · last pulled {lastPulled(s.lastPulledAt)}
                    </span>
                  ) : (
                    <HealthBadge health={s.endpointHealth} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

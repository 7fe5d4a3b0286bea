import { when } from '../format';

/** PUSH: Hookline POSTs to the URL. PULL: a consumer fetches the deliveries, so there is no endpoint to watch. */
export type SubscriptionKind = 'PUSH' | 'PULL';

const KIND_WORDS: Record<SubscriptionKind, string> = { PUSH: 'Push', PULL: 'Pull' };
const KIND_MEANING: Record<SubscriptionKind, string> = {
  PUSH: 'Hookline POSTs each delivery to the URL',
  PULL: 'A consumer fetches the deliveries with pullDeliveries and acknowledges them: no public URL needed',
};

export function KindBadge({ kind }: { kind: SubscriptionKind }) {
  return (
    <span class={`badge kind-${kind.toLowerCase()}`} title={KIND_MEANING[kind]}>
      {KIND_WORDS[kind] ?? kind}
    </span>
  );
}

export function kindMeaning(kind: SubscriptionKind): string {
  return KIND_MEANING[kind] ?? '';
}

/** "Never pulled" reads better than an empty time for a subscription whose consumer has not started yet. */
export function lastPulled(at: string | null): string {
  return at ? when(at) : 'Never';
}

/** Idle expiry in the largest whole unit, as the CLI's --expire-after-idle takes seconds. */
export function idleExpiry(seconds: number | null): string {
  if (seconds === null) return 'Never: it stays until it is deleted';
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  const [size, word] = units.find(([size]) => seconds % size === 0) ?? [1, 'second'];
  const n = seconds / size;
  return `After ${n} ${word}${n === 1 ? '' : 's'} without a pull`;
}

/** The calls a consumer makes, with this subscription's id in them, and the CLI loop for local development. */
export function HowToPull({ id, channels, events }: { id: string; channels: string[]; events: string[] }) {
  const pull = `query {
  pullDeliveries(subscriptionId: "${id}", first: 100, waitSeconds: 20) {
    delivery { id event { type } }
    leaseToken
    headers
    body
  }
}`;
  const ack = `mutation {
  acknowledgeDeliveries(subscriptionId: "${id}", results: [
    { deliveryId: "…", leaseToken: "…", status: 200 }
  ])
}`;
  const listen = `npx hookline listen --forward-to http://localhost:3000/webhooks --channels ${channels.join(',')}${
    events.length ? ` --events ${events.join(',')}` : ''
  }`;
  return (
    <section class="how-to-pull" aria-labelledby="how-to-pull-heading">
      <h2 id="how-to-pull-heading">How to pull</h2>
      <p>
        A consumer with an ADMIN or PUBLISHER key fetches the waiting deliveries; each is leased to it for 60 seconds. The headers and body are what a
        push would have sent, signature included: verify them with any Standard Webhooks library and this subscription's secret.
      </p>
      <pre class="body" aria-label="Pull deliveries">
        {pull}
      </pre>
      <p>
        Then it reports each result with the lease it got: a 2xx status means delivered; anything else is a failed attempt, retried on the schedule. A
        lease that is not acknowledged within 60 seconds lapses, and the delivery is offered again.
      </p>
      <pre class="body" aria-label="Acknowledge deliveries">
        {ack}
      </pre>
      <p>
        On a laptop, <code>hookline listen</code> forwards deliveries of the same channels to a local URL, through a temporary subscription of its
        own:
      </p>
      <pre class="body" aria-label="hookline listen">
        {listen}
      </pre>
    </section>
  );
}

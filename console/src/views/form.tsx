import { useEffect, useState } from 'preact/hooks';
import { ApiError, gql } from '../api';
import { ErrorMessage, handle } from '../common';
import { orderingMeaning, ORDERINGS, orderingWord } from './ordering';
import type { SubscriptionKind } from './pull';

export interface Channel {
  name: string;
  label: string;
  actions: string[];
  exclusive: boolean;
}

export interface SubscriptionFields {
  id: string;
  url: string;
  kind: SubscriptionKind;
  description: string | null;
  channels: string[];
  events: string[];
  payloadFormat: string;
  retrySchedule: number[];
  headers: Record<string, string> | null;
  rateLimitPerSecond: number | null;
  maxInFlight: number | null;
  ordering: string;
}

const DEFAULT_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];
const SAVED = `id url kind description channels events payloadFormat retrySchedule headers rateLimitPerSecond ordering enabled disabledReason`;

function sameSchedule(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** "Name: value" lines as a headers object; throws with the line that is wrong. */
function parseHeaders(text: string): Record<string, string> | null {
  const headers: Record<string, string> = {};
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .forEach((line, i) => {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ApiError(`Custom headers, line ${i + 1}: write "Name: value"`, 'BAD_USER_INPUT');
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    });
  return Object.keys(headers).length ? headers : null;
}

function parseWaits(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const waits = parts.map(Number);
  if (waits.some((w) => !Number.isInteger(w) || w < 0)) {
    throw new ApiError('Retry schedule: the waits are whole numbers of seconds, separated by commas', 'BAD_USER_INPUT');
  }
  return waits;
}

/**
 * The create and edit form. `existing` edits; without it the form creates
 * and hands the new subscription and its secret to onSaved.
 */
export function SubscriptionForm({
  existing,
  onSaved,
  onCancel,
}: {
  existing?: SubscriptionFields;
  onSaved: (result: { id: string; secret?: string }) => void;
  onCancel: () => void;
}) {
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [kind, setKind] = useState<SubscriptionKind>(existing?.kind ?? 'PUSH');
  const pull = kind === 'PULL';
  const [url, setUrl] = useState(existing?.url ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [chosen, setChosen] = useState<string[]>(existing?.channels ?? []);
  const [events, setEvents] = useState<string[]>(existing?.events ?? []);
  const [format, setFormat] = useState(existing?.payloadFormat ?? 'ENVELOPE');
  const initialSchedule = existing?.retrySchedule ?? DEFAULT_SCHEDULE;
  const [scheduleKind, setScheduleKind] = useState(
    initialSchedule.length === 0 ? 'none' : sameSchedule(initialSchedule, DEFAULT_SCHEDULE) ? 'default' : 'custom',
  );
  const [waits, setWaits] = useState(sameSchedule(initialSchedule, DEFAULT_SCHEDULE) ? '' : initialSchedule.join(', '));
  const [headers, setHeaders] = useState(
    Object.entries(existing?.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  );
  const [rateLimit, setRateLimit] = useState(existing?.rateLimitPerSecond?.toString() ?? '');
  const [maxInFlight, setMaxInFlight] = useState(existing?.maxInFlight?.toString() ?? '');
  const [ordering, setOrdering] = useState(existing?.ordering ?? 'PER_KEY');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    gql<{ channels: Channel[] }>('{ channels { name label actions exclusive } }').then(
      (d) => setChannels(d.channels),
      (e: unknown) => setError(e),
    );
  }, []);

  const exclusiveChosen = (channels ?? []).filter((c) => c.exclusive && chosen.includes(c.name));
  const conflict = exclusiveChosen.length > 0 && chosen.length > 1;
  const eventChoices = (channels ?? []).filter((c) => chosen.includes(c.name)).flatMap((c) => c.actions.map((a) => `${c.name}.${a}`));

  const toggleChannel = (name: string, on: boolean) => {
    const next = on ? [...chosen, name] : chosen.filter((c) => c !== name);
    setChosen(next);
    setEvents(events.filter((e) => next.includes(e.split('.')[0]!)));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const retrySchedule = scheduleKind === 'default' ? DEFAULT_SCHEDULE : scheduleKind === 'none' ? [] : parseWaits(waits);
      const input: Record<string, unknown> = {
        description: description.trim() || null,
        channels: chosen,
        events,
        payloadFormat: format,
        retrySchedule,
        ordering,
      };
      // A pull subscription has no endpoint: nothing to send headers to, pace or cap.
      if (!pull) {
        Object.assign(input, {
          url: url.trim(),
          headers: parseHeaders(headers),
          rateLimitPerSecond: rateLimit.trim() ? Number(rateLimit) : null,
          maxInFlight: maxInFlight.trim() ? Number(maxInFlight) : null,
        });
      }
      if (existing) {
        const d = await gql<{ updateWebhookSubscription: { id: string } }>(
          `mutation($id: ID!, $input: UpdateWebhookSubscriptionInput!) { updateWebhookSubscription(id: $id, input: $input) { ${SAVED} } }`,
          { id: existing.id, input },
        );
        onSaved({ id: d.updateWebhookSubscription.id });
      } else if (pull) {
        const d = await gql<{ createPullSubscription: { subscription: { id: string }; secret: string } }>(
          `mutation($input: CreatePullSubscriptionInput!) { createPullSubscription(input: $input) { subscription { ${SAVED} } secret } }`,
          { input },
        );
        onSaved({ id: d.createPullSubscription.subscription.id, secret: d.createPullSubscription.secret });
      } else {
        if (secret.trim()) input.sharedSecret = secret.trim();
        const d = await gql<{ createWebhookSubscription: { subscription: { id: string }; secret: string } }>(
          `mutation($input: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $input) { subscription { ${SAVED} } secret } }`,
          { input },
        );
        onSaved({ id: d.createWebhookSubscription.subscription.id, secret: d.createWebhookSubscription.secret });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="subscription-form" onSubmit={handle(submit)} aria-label={existing ? 'Edit subscription' : 'New subscription'}>
      <h2>{existing ? 'Edit subscription' : 'New subscription'}</h2>
      {!existing && (
        <fieldset>
          <legend>Delivery</legend>
          <label class="checkbox">
            <input type="radio" name="kind" value="PUSH" checked={!pull} onChange={() => setKind('PUSH')} />
            Push: Hookline POSTs each delivery to your endpoint
          </label>
          <label class="checkbox">
            <input type="radio" name="kind" value="PULL" checked={pull} onChange={() => setKind('PULL')} />
            Pull, without an endpoint: your consumer fetches the deliveries and acknowledges them (behind a firewall, on a laptop)
          </label>
        </fieldset>
      )}
      {!pull && (
        <div class="field">
          <label for="sub-url">URL</label>
          <input
            id="sub-url"
            type="url"
            required
            placeholder="https://erp.example.com/webhooks"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </div>
      )}
      <div class="field">
        <label for="sub-description">Description</label>
        <input id="sub-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </div>
      <fieldset>
        <legend>Channels</legend>
        {!channels && <p>Loading channels…</p>}
        <div class="checkbox-grid">
          {(channels ?? []).map((c) => (
            <label key={c.name} class="checkbox" title={c.label}>
              <input type="checkbox" checked={chosen.includes(c.name)} onChange={(e) => toggleChannel(c.name, e.currentTarget.checked)} />
              {c.name}
            </label>
          ))}
        </div>
        {conflict && (
          <p class="warning" role="alert" id="exclusive-rule">
            {exclusiveChosen.map((c) => c.name).join(', ')} is exclusive: a subscription that has it has no other channel. Unsubscribe from the other
            channels first, or make a separate subscription for {exclusiveChosen[0]!.name}.
          </p>
        )}
      </fieldset>
      {eventChoices.length > 0 && (
        <fieldset>
          <legend>Events</legend>
          <p class="hint">Leave all unchecked to receive every event of the chosen channels.</p>
          <div class="checkbox-grid">
            {eventChoices.map((name) => (
              <label key={name} class="checkbox">
                <input
                  type="checkbox"
                  checked={events.includes(name)}
                  onChange={(e) => setEvents(e.currentTarget.checked ? [...events, name] : events.filter((x) => x !== name))}
                />
                {name}
              </label>
            ))}
          </div>
        </fieldset>
      )}
      <div class="field">
        <label for="sub-format">Payload format</label>
        <select id="sub-format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
          <option value="ENVELOPE">Envelope (JSON with event, message, data)</option>
          <option value="FLAT">Flat (JSON, data at top level)</option>
          <option value="XML">XML</option>
        </select>
      </div>
      <fieldset>
        <legend>Retry schedule</legend>
        {(
          [
            ['default', 'Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h'],
            ['none', 'No retries: a single attempt'],
            ['custom', 'Custom waits'],
          ] as const
        ).map(([kind, text]) => (
          <label key={kind} class="checkbox">
            <input type="radio" name="schedule" value={kind} checked={scheduleKind === kind} onChange={() => setScheduleKind(kind)} />
            {text}
          </label>
        ))}
        {scheduleKind === 'custom' && (
          <div class="field">
            <label for="sub-waits">Waits in seconds, before each retry</label>
            <input id="sub-waits" placeholder="10, 60, 600" value={waits} onInput={(e) => setWaits(e.currentTarget.value)} />
          </div>
        )}
      </fieldset>
      {!pull && (
        <>
          <div class="field">
            <label for="sub-headers">Custom headers</label>
            <textarea id="sub-headers" rows={3} placeholder="X-Tenant: acme" value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />
            <p class="hint">One "Name: value" per line, sent with every delivery.</p>
          </div>
          <div class="field">
            <label for="sub-rate">Rate limit (deliveries per second)</label>
            <input
              id="sub-rate"
              type="number"
              min={1}
              placeholder="No limit"
              value={rateLimit}
              onInput={(e) => setRateLimit(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="sub-in-flight">Most deliveries in flight at once</label>
            <input
              id="sub-in-flight"
              type="number"
              min={1}
              max={1000}
              placeholder="10 (the default)"
              value={maxInFlight}
              onInput={(e) => setMaxInFlight(e.currentTarget.value)}
            />
          </div>
        </>
      )}
      <fieldset>
        <legend>Ordering</legend>
        {ORDERINGS.map((kind) => (
          <label key={kind} class="checkbox">
            <input type="radio" name="ordering" value={kind} checked={ordering === kind} onChange={() => setOrdering(kind)} />
            {orderingWord(kind)}
            {kind === 'PER_KEY' ? ' (the default)' : ''}: {orderingMeaning(kind)}
          </label>
        ))}
      </fieldset>
      {!existing && !pull && (
        <div class="field">
          <label for="sub-secret">Signing secret (optional)</label>
          <input
            id="sub-secret"
            autoComplete="off"
            placeholder="whsec_… (generated when empty)"
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </div>
      )}
      <ErrorMessage error={error} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {existing ? 'Save' : 'Create'}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

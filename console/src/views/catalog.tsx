import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api';
import { ErrorMessage, Loading } from '../common';
import { json } from '../format';
import type { Channel } from './form';

interface EventType {
  name: string;
  channel: string;
  description: string;
  schema: unknown;
  example: unknown;
}

export function CatalogView() {
  const [data, setData] = useState<{ channels: Channel[]; eventTypes: EventType[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    gql<{ channels: Channel[]; eventTypes: EventType[] }>(
      '{ channels { name label actions exclusive } eventTypes { name channel description schema example } }',
    ).then(setData, (e: unknown) => setError(e));
  }, []);
  if (!data) return error ? <ErrorMessage error={error} /> : <Loading />;
  const needle = filter.trim().toLowerCase();
  const types = data.eventTypes.filter((t) => !needle || t.name.toLowerCase().includes(needle) || t.description.toLowerCase().includes(needle));
  const channels = data.channels.filter((c) => !needle || c.name.includes(needle) || types.some((t) => t.channel === c.name));
  return (
    <section>
      <h1>Catalog</h1>
      <p>The channels a subscription can choose and the events in each. An exclusive channel cannot share a subscription with any other.</p>
      <div class="field inline">
        <label for="catalog-filter">Filter</label>
        <input
          id="catalog-filter"
          type="search"
          placeholder="invoices, paid, ledger…"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
      </div>
      {channels.map((c) => (
        <section key={c.name} class="channel" aria-labelledby={`channel-${c.name}`}>
          <h2 id={`channel-${c.name}`}>
            {c.name} <span class="hint">{c.label}</span> {c.exclusive && <span class="badge warn">Exclusive</span>}
          </h2>
          {(types.some((t) => t.channel === c.name) ? types : data.eventTypes)
            .filter((t) => t.channel === c.name)
            .map((t) => (
              <details key={t.name}>
                <summary>
                  <code>{t.name}</code> — {t.description}
                </summary>
                <div class="schema-pair">
                  <div>
                    <h3>JSON Schema</h3>
                    {t.schema ? <pre class="body">{json(t.schema)}</pre> : <p class="hint">Any data</p>}
                  </div>
                  <div>
                    <h3>Example</h3>
                    {t.example ? <pre class="body">{json(t.example)}</pre> : <p class="hint">None</p>}
                  </div>
                </div>
              </details>
            ))}
        </section>
      ))}
    </section>
  );
}

import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api';
import { ErrorMessage, handle, Loading, ShownOnce } from '../common';
import { when } from '../format';

interface ApiKey {
  id: string;
  name: string;
  role: string;
  environment: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const FIELDS = 'id name role environment prefix createdAt lastUsedAt revokedAt';

export function KeysView() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('VIEWER');
  const [environment, setEnvironment] = useState('');
  const [created, setCreated] = useState<string | null>(null);

  const load = () =>
    gql<{ apiKeys: ApiKey[] }>(`{ apiKeys { ${FIELDS} } }`).then(
      (d) => setKeys(d.apiKeys),
      (e: unknown) => setError(e),
    );
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setCreated(null);
    try {
      const d = await gql<{ createApiKey: { token: string } }>(
        `mutation($name: String!, $role: Role!, $env: Environment) { createApiKey(name: $name, role: $role, environment: $env) { token apiKey { ${FIELDS} } } }`,
        { name, role, env: environment || null },
      );
      setCreated(d.createApiKey.token);
      setName('');
      void load();
    } catch (err) {
      setError(err);
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke the key "${key.name}"? Anything using it stops working at once.`)) return;
    setError(null);
    try {
      await gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: key.id });
      void load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>API keys</h1>
      <form class="inline-form" onSubmit={handle(create)} aria-label="New API key">
        <div class="field">
          <label for="key-name">Name</label>
          <input id="key-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="key-role">Role</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="ADMIN">ADMIN: manages everything</option>
            <option value="PUBLISHER">PUBLISHER: publishes events</option>
            <option value="VIEWER">VIEWER: reads only</option>
          </select>
        </div>
        <div class="field">
          <label for="key-env">Environment</label>
          <select id="key-env" value={environment} onChange={(e) => setEnvironment(e.currentTarget.value)}>
            <option value="">This one</option>
            <option value="STAGING">Staging</option>
            <option value="PRODUCTION">Production</option>
          </select>
        </div>
        <button type="submit">Create key</button>
      </form>
      {created && <ShownOnce label="New API key" value={created} />}
      <ErrorMessage error={error} />
      {!keys && !error && <Loading />}
      {keys && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Environment</th>
              <th scope="col">Prefix</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} class={k.revokedAt ? 'revoked' : undefined}>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>{k.environment}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{when(k.createdAt)}</td>
                <td>{when(k.lastUsedAt)}</td>
                <td>
                  {k.revokedAt ? (
                    <span class="hint">Revoked {when(k.revokedAt)}</span>
                  ) : (
                    <button type="button" class="danger small" onClick={handle(() => revoke(k))} aria-label={`Revoke ${k.name}`}>
                      Revoke
                    </button>
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

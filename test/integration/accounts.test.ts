import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';

const VIEWER = '{ viewer { role environment account { id name } apiKey { id prefix revokedAt } } }';

describe('accounts, API keys and roles', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers the viewer query with the bootstrap operator token', async () => {
    const data = await t.ok<{ viewer: { role: string; account: unknown; apiKey: { prefix: string } } }>(t.operatorToken, VIEWER);
    expect(data.viewer.role).toBe('OPERATOR');
    expect(data.viewer.account).toBeNull();
    expect(t.operatorToken.startsWith(data.viewer.apiKey.prefix)).toBe(true);
  });

  it('rejects a missing, malformed or unknown token with UNAUTHENTICATED', async () => {
    for (const token of [undefined, 'hkl_not-a-real-token-but-long-enough-to-look-like-one']) {
      const result = await t.gql(token, VIEWER);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data).toBeNull();
    }
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: VIEWER }),
    });
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('lets only an operator create accounts, and gives the account a PRODUCTION admin token', async () => {
    const { adminToken, accountId } = await createAccount(t, 'Ledgerly');
    const viewer = await t.ok<{ viewer: { role: string; environment: string; account: { id: string; name: string } } }>(adminToken, VIEWER);
    expect(viewer.viewer).toMatchObject({ role: 'ADMIN', environment: 'PRODUCTION', account: { id: accountId, name: 'Ledgerly' } });

    const denied = await t.gql(adminToken, 'mutation { createAccount(name: "x") { adminToken } }');
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('enforces roles on key management', async () => {
    const { adminToken } = await createAccount(t);
    const publisher = await createKey(t, adminToken, 'PUBLISHER');
    const viewer = await createKey(t, adminToken, 'VIEWER');
    for (const token of [publisher, viewer]) {
      const create = await t.gql(token, 'mutation { createApiKey(name: "n", role: ADMIN) { token } }');
      expect(create.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const list = await t.gql(token, '{ apiKeys { id } }');
      expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // Every role may ask who it is.
      const me = await t.gql(token, VIEWER);
      expect(me.errors).toBeUndefined();
    }
    const escalate = await t.gql(adminToken, 'mutation { createApiKey(name: "n", role: OPERATOR) { token } }');
    expect(escalate.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('shows a token once and stores only its hash', async () => {
    const { adminToken } = await createAccount(t);
    const token = await createKey(t, adminToken, 'VIEWER');
    expect(token.length).toBeGreaterThanOrEqual(43);
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      const dump = await client.query(`SELECT row_to_json(k)::text AS row FROM api_keys k`);
      const text = dump.rows.map((r: { row: string }) => r.row).join('\n');
      expect(text).not.toContain(token);
      expect(text).not.toContain(adminToken);
      expect(text).not.toContain(t.operatorToken);
    } finally {
      await client.end();
    }
    const list = await t.ok<{ apiKeys: Array<Record<string, unknown>> }>(adminToken, '{ apiKeys { id name prefix } }');
    expect(JSON.stringify(list)).not.toContain(token);
  });

  it('makes a revoked key UNAUTHENTICATED at once', async () => {
    const { adminToken } = await createAccount(t);
    const token = await createKey(t, adminToken, 'PUBLISHER');
    const me = await t.ok<{ viewer: { apiKey: { id: string } } }>(token, VIEWER);
    const revoked = await t.ok<{ revokeApiKey: { revokedAt: string | null } }>(
      adminToken,
      'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: me.viewer.apiKey.id },
    );
    expect(revoked.revokeApiKey.revokedAt).not.toBeNull();
    const after = await t.gql(token, VIEWER);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('keeps keys of one account and environment out of reach of the others', async () => {
    const a = await createAccount(t, 'A');
    const b = await createAccount(t, 'B');
    const aStagingAdmin = await createKey(t, a.adminToken, 'ADMIN', 'STAGING');
    const aKey = await t.ok<{ viewer: { apiKey: { id: string } } }>(a.adminToken, VIEWER);

    const bList = await t.ok<{ apiKeys: Array<{ id: string }> }>(b.adminToken, '{ apiKeys { id } }');
    expect(bList.apiKeys.map((k) => k.id)).not.toContain(aKey.viewer.apiKey.id);
    const stagingList = await t.ok<{ apiKeys: Array<{ id: string; environment: string }> }>(aStagingAdmin, '{ apiKeys { id environment } }');
    expect(stagingList.apiKeys.every((k) => k.environment === 'STAGING')).toBe(true);

    const revokeByOtherAccount = await t.gql(b.adminToken, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: aKey.viewer.apiKey.id });
    expect(revokeByOtherAccount.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // The account's own STAGING key is told it may not, rather than that the key does not exist.
    const revokeByStaging = await t.gql(aStagingAdmin, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: aKey.viewer.apiKey.id });
    expect(revokeByStaging.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const malformed = await t.gql(b.adminToken, 'mutation { revokeApiKey(id: "not-a-uuid") { id } }');
    expect(malformed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // a's key still works
    expect((await t.gql(a.adminToken, VIEWER)).errors).toBeUndefined();
  });

  it('names the field of bad input and shows no internals', async () => {
    const result = await t.gql(t.operatorToken, 'mutation { createAccount(name: "   ") { adminToken } }');
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'name' }] });
    const coercion = await t.gql(t.operatorToken, 'mutation($r: Role!) { createApiKey(name: "x", role: $r) { token } }', { r: 'KING' });
    expect(coercion.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(coercion)).not.toMatch(/stacktrace|at .*\.js:\d+/);
  });
});

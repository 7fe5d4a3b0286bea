import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';

const CREATE =
  'mutation($role: Role!, $env: Environment) { createApiKey(name: "k", role: $role, environment: $env) { apiKey { id environment } token } }';
const LIST = 'query($env: Environment) { apiKeys(environment: $env) { id environment } }';
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';
const WHO = '{ viewer { environment apiKey { id } } }';

describe('environments are a wall for API keys', () => {
  let t: TestApp;
  let productionAdmin: string;
  let stagingAdmin: string;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: productionAdmin } = await createAccount(t, 'Walled'));
    stagingAdmin = await createKey(t, productionAdmin, 'ADMIN', 'STAGING');
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function keyId(token: string): Promise<string> {
    return (await t.ok<{ viewer: { apiKey: { id: string } } }>(token, WHO)).viewer.apiKey.id;
  }

  it('lets a STAGING key create no PRODUCTION key of any role', async () => {
    const before = await t.ok<{ apiKeys: unknown[] }>(productionAdmin, LIST);
    for (const role of ['ADMIN', 'PUBLISHER', 'VIEWER']) {
      const result = await t.gql(stagingAdmin, CREATE, { role, env: 'PRODUCTION' });
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result.data).toBeNull();
    }
    const after = await t.ok<{ apiKeys: unknown[] }>(productionAdmin, LIST);
    expect(after.apiKeys).toHaveLength(before.apiKeys.length);

    // Its own environment is the default and allowed.
    const own = await t.ok<{ createApiKey: { apiKey: { environment: string }; token: string } }>(stagingAdmin, CREATE, { role: 'PUBLISHER' });
    expect(own.createApiKey.apiKey.environment).toBe('STAGING');
    const viewer = await t.ok<{ viewer: { environment: string } }>(own.createApiKey.token, WHO);
    expect(viewer.viewer.environment).toBe('STAGING');
  });

  it('lists for a STAGING key only STAGING keys, and refuses to list PRODUCTION ones', async () => {
    const listed = await t.ok<{ apiKeys: Array<{ id: string; environment: string }> }>(stagingAdmin, LIST);
    expect(listed.apiKeys.length).toBeGreaterThan(0);
    expect(listed.apiKeys.every((k) => k.environment === 'STAGING')).toBe(true);
    expect(listed.apiKeys.map((k) => k.id)).not.toContain(await keyId(productionAdmin));

    const denied = await t.gql(stagingAdmin, LIST, { env: 'PRODUCTION' });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(denied.data).toBeNull();
  });

  it('lets a STAGING key revoke no PRODUCTION key', async () => {
    const publisher = await createKey(t, productionAdmin, 'PUBLISHER', 'PRODUCTION');
    for (const id of [await keyId(publisher), await keyId(productionAdmin)]) {
      const result = await t.gql(stagingAdmin, REVOKE, { id });
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await t.gql(publisher, WHO)).errors).toBeUndefined();
    expect((await t.gql(productionAdmin, WHO)).errors).toBeUndefined();
  });

  it('lets a PRODUCTION ADMIN manage the keys of both environments', async () => {
    const all = await t.ok<{ apiKeys: Array<{ environment: string }> }>(productionAdmin, LIST);
    expect(new Set(all.apiKeys.map((k) => k.environment))).toEqual(new Set(['PRODUCTION', 'STAGING']));
    const staging = await t.ok<{ apiKeys: Array<{ environment: string }> }>(productionAdmin, LIST, { env: 'STAGING' });
    expect(staging.apiKeys.length).toBeGreaterThan(0);
    expect(staging.apiKeys.every((k) => k.environment === 'STAGING')).toBe(true);

    const created = await t.ok<{ createApiKey: { apiKey: { id: string; environment: string }; token: string } }>(productionAdmin, CREATE, {
      role: 'VIEWER',
      env: 'STAGING',
    });
    expect(created.createApiKey.apiKey.environment).toBe('STAGING');
    const revoked = await t.ok<{ revokeApiKey: { revokedAt: string | null } }>(productionAdmin, REVOKE, { id: created.createApiKey.apiKey.id });
    expect(revoked.revokeApiKey.revokedAt).not.toBeNull();
    expect((await t.gql(created.createApiKey.token, WHO)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lets a STAGING ADMIN revoke STAGING keys', async () => {
    const token = await createKey(t, stagingAdmin, 'VIEWER', 'STAGING');
    await t.ok(stagingAdmin, REVOKE, { id: await keyId(token) });
    expect((await t.gql(token, WHO)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('gives an OPERATOR key no environment, and keeps other accounts NOT_FOUND', async () => {
    const operatorStaging = await t.gql(t.operatorToken, CREATE, { role: 'OPERATOR', env: 'STAGING' });
    expect(operatorStaging.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'environment' }] });

    const other = await createAccount(t, 'Elsewhere');
    const result = await t.gql(other.adminToken, REVOKE, { id: await keyId(stagingAdmin) });
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const listed = await t.ok<{ apiKeys: Array<{ id: string }> }>(other.adminToken, LIST, { env: 'STAGING' });
    expect(listed.apiKeys).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const key = Buffer.alloc(32, 1).toString('base64');

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      nodeEnv: 'development',
      databaseUrl: undefined,
      port: 4000,
      dataDir: '.hookline',
      allowPrivateUrls: true,
      workerConcurrency: 100,
      deliveryTimeoutMs: 15_000,
    });
  });

  it('turns private URLs off and requires a master key in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/HOOKLINE_MASTER_KEY is required/);
    const config = loadConfig({ NODE_ENV: 'production', HOOKLINE_MASTER_KEY: key });
    expect(config.allowPrivateUrls).toBe(false);
    expect(config.masterKey?.length).toBe(32);
  });

  it('requires a master key with an external database, and allows private endpoints only with the embedded one or when asked', () => {
    const url = 'postgres://db.internal/hookline';
    expect(() => loadConfig({ DATABASE_URL: url })).toThrow(/HOOKLINE_MASTER_KEY is required when DATABASE_URL is set/);
    expect(loadConfig({ DATABASE_URL: url, HOOKLINE_MASTER_KEY: key }).allowPrivateUrls).toBe(false);
    expect(loadConfig({ DATABASE_URL: url, HOOKLINE_MASTER_KEY: key, NODE_ENV: 'development' }).allowPrivateUrls).toBe(false);
    expect(loadConfig({ DATABASE_URL: url, HOOKLINE_MASTER_KEY: key, HOOKLINE_ALLOW_PRIVATE_URLS: 'true' }).allowPrivateUrls).toBe(true);
    expect(loadConfig({}).allowPrivateUrls).toBe(true);
    expect(loadConfig({ HOOKLINE_ALLOW_PRIVATE_URLS: 'false' }).allowPrivateUrls).toBe(false);
  });

  it('reads previous master keys and quotas', () => {
    const other = Buffer.alloc(32, 2).toString('base64');
    const config = loadConfig({ HOOKLINE_MASTER_KEY: key, HOOKLINE_MASTER_KEY_PREVIOUS: `${other}, ${key}` });
    expect(config.previousMasterKeys.map((k) => k.toString('base64'))).toEqual([other, key]);
    expect(() => loadConfig({ HOOKLINE_MASTER_KEY_PREVIOUS: 'c2hvcnQ=' })).toThrow(/HOOKLINE_MASTER_KEY_PREVIOUS must be one or more 32-byte keys/);
    expect(loadConfig({})).toMatchObject({ maxSubscriptions: 100, maxEventTypes: 200, schemaCheckMs: 2000 });
    expect(loadConfig({ HOOKLINE_SCHEMA_CHECK_MS: '250' }).schemaCheckMs).toBe(250);
    expect(() => loadConfig({ HOOKLINE_SCHEMA_CHECK_MS: '10' })).toThrow(/HOOKLINE_SCHEMA_CHECK_MS must be between 50 and 60000/);
    expect(loadConfig({ HOOKLINE_MAX_SUBSCRIPTIONS: '5', HOOKLINE_MAX_EVENT_TYPES: '7' })).toMatchObject({ maxSubscriptions: 5, maxEventTypes: 7 });
  });

  it.each([
    ['PORT', 'eighty', /PORT must be a whole number/],
    ['PORT', '70000', /PORT must be between 0 and 65535/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres/],
    ['HOOKLINE_BOOTSTRAP_TOKEN', 'short', /HOOKLINE_BOOTSTRAP_TOKEN must be at least 32 characters/],
    ['HOOKLINE_MASTER_KEY', 'c2hvcnQ=', /HOOKLINE_MASTER_KEY must be 32 bytes/],
    ['HOOKLINE_ALLOW_PRIVATE_URLS', 'maybe', /HOOKLINE_ALLOW_PRIVATE_URLS must be true or false/],
    ['HOOKLINE_WORKER_CONCURRENCY', '0', /HOOKLINE_WORKER_CONCURRENCY must be between 1 and 1000/],
    ['HOOKLINE_DELIVERY_TIMEOUT_MS', '-5', /HOOKLINE_DELIVERY_TIMEOUT_MS must be a whole number/],
    ['NODE_ENV', 'staging', /NODE_ENV must be development, production or test/],
  ])('rejects %s=%s with a message naming the variable', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toMatch(message);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });
});

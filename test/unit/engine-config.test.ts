import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('delivery engine settings', () => {
  it('have the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({ workerPort: 4001, defaultMaxInFlight: 10, dnsTimeoutMs: 5_000, retentionDays: 30 });
  });

  it('are read from the environment', () => {
    expect(
      loadConfig({ HOOKLINE_WORKER_PORT: '0', HOOKLINE_DEFAULT_MAX_IN_FLIGHT: '3', HOOKLINE_DNS_TIMEOUT_MS: '800', HOOKLINE_RETENTION_DAYS: '7' }),
    ).toMatchObject({ workerPort: 0, defaultMaxInFlight: 3, dnsTimeoutMs: 800, retentionDays: 7 });
  });

  it.each([
    ['HOOKLINE_WORKER_PORT', '70000', /HOOKLINE_WORKER_PORT must be between 0 and 65535/],
    ['HOOKLINE_DEFAULT_MAX_IN_FLIGHT', '0', /HOOKLINE_DEFAULT_MAX_IN_FLIGHT must be between 1 and 1000/],
    ['HOOKLINE_DNS_TIMEOUT_MS', 'soon', /HOOKLINE_DNS_TIMEOUT_MS must be a whole number/],
    ['HOOKLINE_RETENTION_DAYS', '0', /HOOKLINE_RETENTION_DAYS must be between 1 and 3650/],
  ])('refuse a bad %s naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});

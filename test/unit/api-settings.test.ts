import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('API request limits and metrics settings', () => {
  it('have the documented defaults', () => {
    expect(loadConfig({}).api).toEqual({
      rateLimitPerKey: 100,
      rateLimitPerAddress: 20,
      rateLimitWindowSeconds: 1,
      trustProxyHops: 0,
      metricsPort: undefined,
      metricsToken: undefined,
    });
  });

  it('read every variable', () => {
    const token = 'metrics-token-long-enough';
    const api = loadConfig({
      HOOKLINE_RATE_LIMIT_PER_KEY: '500',
      HOOKLINE_RATE_LIMIT_PER_ADDRESS: '7',
      HOOKLINE_RATE_LIMIT_WINDOW_SECONDS: '60',
      HOOKLINE_TRUST_PROXY_HOPS: '1',
      HOOKLINE_METRICS_PORT: '9464',
      HOOKLINE_METRICS_TOKEN: token,
    }).api;
    expect(api).toEqual({ rateLimitPerKey: 500, rateLimitPerAddress: 7, rateLimitWindowSeconds: 60, trustProxyHops: 1, metricsPort: 9464, metricsToken: token });
  });

  it.each([
    ['HOOKLINE_RATE_LIMIT_PER_KEY', '0', /HOOKLINE_RATE_LIMIT_PER_KEY must be between 1/],
    ['HOOKLINE_RATE_LIMIT_PER_ADDRESS', 'many', /HOOKLINE_RATE_LIMIT_PER_ADDRESS must be a whole number/],
    ['HOOKLINE_RATE_LIMIT_WINDOW_SECONDS', '7200', /HOOKLINE_RATE_LIMIT_WINDOW_SECONDS must be between 1 and 3600/],
    ['HOOKLINE_TRUST_PROXY_HOPS', '-1', /HOOKLINE_TRUST_PROXY_HOPS must be a whole number/],
    ['HOOKLINE_METRICS_PORT', '4000', /HOOKLINE_METRICS_PORT must differ from PORT/],
    ['HOOKLINE_METRICS_TOKEN', 'short', /HOOKLINE_METRICS_TOKEN must be at least 16 characters/],
  ])('refuses %s=%s, naming it', (variable, value, message) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(message);
  });
});

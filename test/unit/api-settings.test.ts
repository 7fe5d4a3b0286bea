import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('API request limits and metrics settings', () => {
  it('have the documented defaults', () => {
    expect(loadConfig({}).api).toEqual({
      rateLimitPerKey: 100,
      rateLimitPerKeyCeiling: 1000,
      rateLimitPerAddress: 20,
      rateLimitWindowSeconds: 1,
      trustProxyHops: 0,
      metricsPort: undefined,
      metricsToken: undefined,
      metricsBindAddress: undefined,
      bindAddress: undefined,
      frameAncestors: "'self'",
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
      HOOKLINE_RATE_LIMIT_PER_KEY_CEILING: '5000',
      HOOKLINE_BIND_ADDRESS: '10.0.0.5',
      HOOKLINE_METRICS_BIND_ADDRESS: '[::1]',
      HOOKLINE_FRAME_ANCESTORS: "'self'  https://erp.example.com https://*.example.org:8443",
    }).api;
    expect(api).toEqual({
      rateLimitPerKey: 500,
      rateLimitPerKeyCeiling: 5000,
      rateLimitPerAddress: 7,
      rateLimitWindowSeconds: 60,
      trustProxyHops: 1,
      metricsPort: 9464,
      metricsToken: token,
      metricsBindAddress: '::1',
      bindAddress: '10.0.0.5',
      frameAncestors: "'self' https://erp.example.com https://*.example.org:8443",
    });
  });

  it('binds the metrics port where the other ports are unless told otherwise, and reads the DNS servers', () => {
    const config = loadConfig({ HOOKLINE_BIND_ADDRESS: '127.0.0.1', HOOKLINE_DNS_SERVERS: '127.0.0.1:5353, [::1]:53,10.0.0.2' });
    expect(config.bindAddress).toBe('127.0.0.1');
    expect(config.api.metricsBindAddress).toBe('127.0.0.1');
    expect(config.dnsServers).toEqual(['127.0.0.1:5353', '[::1]:53', '10.0.0.2']);
    expect(loadConfig({}).dnsServers).toBeUndefined();
  });

  it.each([
    ['HOOKLINE_RATE_LIMIT_PER_KEY', '0', /HOOKLINE_RATE_LIMIT_PER_KEY must be between 1/],
    ['HOOKLINE_RATE_LIMIT_PER_ADDRESS', 'many', /HOOKLINE_RATE_LIMIT_PER_ADDRESS must be a whole number/],
    ['HOOKLINE_RATE_LIMIT_WINDOW_SECONDS', '7200', /HOOKLINE_RATE_LIMIT_WINDOW_SECONDS must be between 1 and 3600/],
    ['HOOKLINE_TRUST_PROXY_HOPS', '-1', /HOOKLINE_TRUST_PROXY_HOPS must be a whole number/],
    ['HOOKLINE_METRICS_PORT', '4000', /HOOKLINE_METRICS_PORT must differ from PORT/],
    ['HOOKLINE_METRICS_TOKEN', 'short', /HOOKLINE_METRICS_TOKEN must be at least 16 characters/],
    ['HOOKLINE_RATE_LIMIT_PER_KEY_CEILING', '0', /HOOKLINE_RATE_LIMIT_PER_KEY_CEILING must be between 1/],
    ['HOOKLINE_BIND_ADDRESS', 'not an address!', /HOOKLINE_BIND_ADDRESS must be an IP address or a host name/],
    ['HOOKLINE_FRAME_ANCESTORS', '*', /HOOKLINE_FRAME_ANCESTORS must be 'self', 'none', or origins/],
    ['HOOKLINE_FRAME_ANCESTORS', 'https://erp.example.com; script-src *', /HOOKLINE_FRAME_ANCESTORS must be/],
    ['HOOKLINE_DNS_SERVERS', 'dns.example.com', /HOOKLINE_DNS_SERVERS must be IP addresses/],
  ])('refuses %s=%s, naming it', (variable, value, message) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import { headersProblems, redactHeaderValues, urlProblem } from '../../src/subscriptions/validation.js';

describe('urlProblem', () => {
  it.each(['https://example.com/webhooks', 'http://127.0.0.1:8080/hook', 'https://[2606:4700::1111]/x?y=1'])('accepts %s', (url) => {
    expect(urlProblem(url)).toBeUndefined();
  });

  it.each([
    ['not a URL', 'example.com/webhooks', /absolute URL/],
    ['another scheme', 'ftp://example.com/', /http or https/],
    ['a javascript: URL', 'javascript:alert(1)', /http or https/],
    ['credentials', 'https://user:pass@example.com/', /credentials/],
  ])('refuses %s', (_what, url, message) => {
    expect(urlProblem(url)).toMatch(message);
  });
});

describe('headersProblems', () => {
  it('accepts ordinary headers, authorization included', () => {
    expect(headersProblems({ authorization: 'Bearer abc', 'X-Tenant': 'acme', 'x-empty': '' })).toEqual([]);
    expect(headersProblems({})).toEqual([]);
  });

  it.each([
    'content-type',
    'Content-Type',
    'user-agent',
    'webhook-id',
    'Webhook-Timestamp',
    'webhook-signature',
    'host',
    'content-length',
    'transfer-encoding',
    'connection',
  ])('refuses %s, which Hookline or its HTTP client sets', (name) => {
    expect(headersProblems({ [name]: 'x' })).toEqual([`${name} is set by Hookline and cannot be overridden`]);
  });

  it.each([
    ['a space in a name', { 'x tenant': 'a' }, /not a valid header name/],
    ['a colon in a name', { 'x-tenant:': 'a' }, /not a valid header name/],
    ['an empty name', { '': 'a' }, /not a valid header name/],
    ['CR LF in a value', { 'x-a': 'a\r\nx-injected: 1' }, /characters HTTP forbids/],
    ['NUL in a value', { 'x-a': 'a\u0000b' }, /characters HTTP forbids/],
    ['a non-string value', { 'x-a': 5 }, /must be a string/],
    ['a name given twice', { 'X-A': '1', 'x-a': '2' }, /more than once/],
    ['an overlong value', { 'x-a': 'v'.repeat(4097) }, /at most 4096/],
    ['an array', ['x-a'], /must be an object/],
    ['a string', 'x-a: 1', /must be an object/],
  ])('refuses %s', (_what, headers, message) => {
    const problems = headersProblems(headers);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });

  it('refuses more than 20 headers', () => {
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v']));
    expect(headersProblems(many)).toEqual(['must have at most 20 headers']);
    expect(headersProblems(Object.fromEntries(Object.entries(many).slice(0, 20)))).toEqual([]);
  });

  it('escapes a bad name in its message', () => {
    expect(headersProblems({ 'x\r\ny': 'a' })[0]).toContain('x\\r\\ny');
  });
});

describe('redactHeaderValues', () => {
  it('keeps the names and hides the values', () => {
    expect(redactHeaderValues({ authorization: 'Bearer secret', 'x-tenant': 'acme' })).toEqual({
      authorization: '[redacted]',
      'x-tenant': '[redacted]',
    });
    expect(redactHeaderValues(null)).toBeNull();
  });
});

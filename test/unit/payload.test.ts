import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { Environment, PayloadFormat } from '../../src/domain.js';
import { MAX_XML_DATA_DEPTH, buildPayload, isSafeXmlName, type PayloadInput } from '../../src/delivery-engine/payload.js';

const input: PayloadInput = {
  event: 'invoices.paid',
  message: 'Invoice paid.',
  idempotencyKey: '01936f3e-8c1a-7c3e-9a2b-0c4d5e6f7a8b',
  environment: Environment.PRODUCTION,
  timestamp: new Date('2026-11-23T10:00:00.000Z'),
  data: { invoiceId: 'INV12345', amount: 1250.5, paid: true, note: null },
};

function withData(data: unknown): PayloadInput {
  return { ...input, data };
}

describe('ENVELOPE', () => {
  it('is the documented envelope, keys in order, environment in lower case', () => {
    const { body, contentType } = buildPayload(PayloadFormat.ENVELOPE, input);
    expect(contentType).toBe('application/json');
    expect(body).toBe(
      '{"event":"invoices.paid","message":"Invoice paid.","idempotency_key":"01936f3e-8c1a-7c3e-9a2b-0c4d5e6f7a8b",' +
        '"environment":"production","timestamp":"2026-11-23T10:00:00.000Z",' +
        '"data":{"invoiceId":"INV12345","amount":1250.5,"paid":true,"note":null}}',
    );
  });

  it('says staging for the staging environment', () => {
    const parsed = JSON.parse(buildPayload(PayloadFormat.ENVELOPE, { ...input, environment: Environment.STAGING }).body);
    expect(parsed.environment).toBe('staging');
  });

  it('always has a data field, null when there is none', () => {
    expect(JSON.parse(buildPayload(PayloadFormat.ENVELOPE, withData(undefined)).body)).toHaveProperty('data', null);
    expect(JSON.parse(buildPayload(PayloadFormat.ENVELOPE, withData([1, 2])).body).data).toEqual([1, 2]);
  });
});

describe('FLAT', () => {
  it('puts the event type first and spreads the data', () => {
    const { body, contentType } = buildPayload(PayloadFormat.FLAT, input);
    expect(contentType).toBe('application/json');
    expect(body).toBe('{"event":"invoices.paid","invoiceId":"INV12345","amount":1250.5,"paid":true,"note":null}');
  });

  it('keeps the event type when data has its own event key', () => {
    const parsed = JSON.parse(buildPayload(PayloadFormat.FLAT, withData({ event: 'ledgers.deleted', id: 7 })).body);
    expect(parsed).toEqual({ event: 'invoices.paid', id: 7 });
    expect(Object.keys(parsed)).toEqual(['event', 'id']);
  });

  it('puts data that is not an object under data', () => {
    expect(JSON.parse(buildPayload(PayloadFormat.FLAT, withData([1, 2])).body)).toEqual({ event: 'invoices.paid', data: [1, 2] });
    expect(JSON.parse(buildPayload(PayloadFormat.FLAT, withData('text')).body)).toEqual({ event: 'invoices.paid', data: 'text' });
    expect(JSON.parse(buildPayload(PayloadFormat.FLAT, withData(null)).body)).toEqual({ event: 'invoices.paid', data: null });
    expect(JSON.parse(buildPayload(PayloadFormat.FLAT, withData(undefined)).body)).toEqual({ event: 'invoices.paid', data: null });
  });

  it('keeps a "__proto__" key of data parsed from JSON as an ordinary key', () => {
    const data = JSON.parse('{"__proto__":{"polluted":true},"id":1}');
    const body = buildPayload(PayloadFormat.FLAT, withData(data)).body;
    expect(body).toBe('{"event":"invoices.paid","__proto__":{"polluted":true},"id":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('XML', () => {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    trimValues: false,
    ignoreDeclaration: false,
  });
  const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false, parseTagValue: false, trimValues: false });

  function build(data: unknown) {
    const { body, contentType } = buildPayload(PayloadFormat.XML, withData(data));
    expect(contentType).toBe('application/xml');
    expect(XMLValidator.validate(body)).toBe(true);
    return { body, parsed: parser.parse(body) as { '?xml': Record<string, string>; webhook: Record<string, unknown> } };
  }

  it('is the envelope as <webhook>, with an XML declaration', () => {
    const { body, parsed } = build({ invoiceId: 'INV12345', amount: 1250.5, paid: true, note: null });
    expect(body.startsWith('<?xml version="1.0" encoding="UTF-8"?><webhook>')).toBe(true);
    expect(parsed['?xml']).toEqual({ '@_version': '1.0', '@_encoding': 'UTF-8' });
    expect(parsed.webhook).toEqual({
      event: 'invoices.paid',
      message: 'Invoice paid.',
      idempotency_key: '01936f3e-8c1a-7c3e-9a2b-0c4d5e6f7a8b',
      environment: 'production',
      timestamp: '2026-11-23T10:00:00.000Z',
      data: { invoiceId: 'INV12345', amount: '1250.5', paid: 'true', note: '' },
    });
  });

  it('keeps the envelope order', () => {
    const doc = ordered.parse(build({ a: 1 }).body) as Array<Record<string, unknown>>;
    const webhook = doc.find((node) => 'webhook' in node)!.webhook as Array<Record<string, unknown>>;
    expect(webhook.map((node) => Object.keys(node)[0])).toEqual(['event', 'message', 'idempotency_key', 'environment', 'timestamp', 'data']);
  });

  it('nests objects and repeats arrays', () => {
    const { parsed } = build({
      customer: { name: 'Ama', address: { city: 'Accra' } },
      lines: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 2 },
      ],
      tags: ['x', 'y'],
      matrix: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(parsed.webhook.data).toEqual({
      customer: { name: 'Ama', address: { city: 'Accra' } },
      lines: [
        { sku: 'A', qty: '1' },
        { sku: 'B', qty: '2' },
      ],
      tags: ['x', 'y'],
      matrix: [{ item: ['1', '2'] }, { item: ['3', '4'] }],
    });
  });

  it('repeats <data> when data is an array and writes scalars as text', () => {
    expect(build([1, 2]).parsed.webhook.data).toEqual(['1', '2']);
    expect(build('plain').parsed.webhook.data).toBe('plain');
    expect(build(null).parsed.webhook.data).toBe('');
  });

  it('escapes text so that markup in data stays data', () => {
    const nasty = `</data><injected a="1"/>&amp; ' " ]]> <!-- -->`;
    const { body, parsed } = build({ note: nasty });
    expect(body).not.toContain('<injected');
    expect((parsed.webhook.data as Record<string, unknown>).note).toBe(nasty);
  });

  it('keeps line breaks and tabs (a conforming parser may give CRLF as LF)', () => {
    const { body, parsed } = build({ address: 'line 1\r\nline 2\n\tline 3' });
    expect(body).toContain('line 1\r\nline 2\n\tline 3');
    const address = (parsed.webhook.data as Record<string, unknown>).address as string;
    expect(address.replace(/\r\n/g, '\n')).toBe('line 1\nline 2\n\tline 3');
  });

  it('replaces characters that XML cannot carry', () => {
    const { parsed } = build({ raw: 'a\u0000b\u0007c\uFFFEd\uD800e' });
    expect((parsed.webhook.data as Record<string, unknown>).raw).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe');
  });

  it('turns keys that are not safe XML names into <entry key="...">, losing none', () => {
    const data = {
      'with space': 1,
      '1st': 2,
      'a:b': 3,
      '<tag>': 4,
      '"q"&': 5,
      '': 6,
      '#text': 7,
      '@_attr': 8,
      ':@': 9,
      '?xml': 10,
      xmlThing: 11,
      'emoji😀': 12,
      true: 13,
      größe: 14,
      'ok-name.v2': 15,
    };
    const { parsed } = build(data);
    const out = parsed.webhook.data as Record<string, unknown>;
    const entries = out.entry as Array<{ '@_key': string; '#text': string }>;
    const fromEntries = Object.fromEntries(entries.map((e) => [e['@_key'], Number(e['#text'])]));
    expect(fromEntries).toEqual({
      'with space': 1,
      '1st': 2,
      'a:b': 3,
      '<tag>': 4,
      '"q"&': 5,
      '': 6,
      '#text': 7,
      '@_attr': 8,
      ':@': 9,
      '?xml': 10,
      xmlThing: 11,
      'emoji😀': 12,
    });
    expect(out.true).toBe('13');
    expect(out['größe']).toBe('14');
    expect(out['ok-name.v2']).toBe('15');
  });

  it('turns names that object-mapping parsers refuse or rename into entries', () => {
    const data = JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":1,"prototype":2,"toString":3,"id":4}');
    const { parsed } = build(data);
    const out = parsed.webhook.data as Record<string, unknown>;
    const entries = out.entry as Array<Record<string, unknown>>;
    expect(entries.map((e) => e['@_key'])).toEqual(['__proto__', 'constructor', 'prototype', 'toString']);
    expect(entries[0]!.polluted).toBe('yes');
    expect(out.id).toBe('4');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('classifies names', () => {
    for (const name of ['a', '_a', 'invoiceId', 'a-b.c_d9', 'größe', 'données', 'entry']) expect(isSafeXmlName(name)).toBe(true);
    for (const name of ['', '9a', '-a', '.a', 'a b', 'a:b', 'xml', 'XMLish', 'a/b', 'a\u0000', 'ª', 'constructor', '__proto__', 'valueOf']) {
      expect(isSafeXmlName(name)).toBe(false);
    }
  });

  it('sends very deep data as JSON text below the depth limit instead of failing', () => {
    let deep: unknown = { leaf: 'bottom' };
    for (let i = 0; i < MAX_XML_DATA_DEPTH + 5; i++) deep = { n: deep };
    const { body } = build(deep);
    expect(body).toContain('{&quot;n&quot;:');
    expect(body).toContain('&quot;leaf&quot;:&quot;bottom&quot;');
  });

  it('is well-formed for arbitrary JSON', () => {
    const samples: unknown[] = [
      {},
      [],
      0,
      -0,
      1e21,
      false,
      [[[]]],
      { a: [] },
      { a: [null, { b: [1, [2, [3]]] }] },
      { 'x y': { 'p q': ['r', { '<': '>' }] } },
    ];
    for (const data of samples) build(data);
  });

  it('serialises Dates inside data the way JSON does', () => {
    const { parsed } = build({ at: new Date('2026-01-02T03:04:05.000Z') });
    expect((parsed.webhook.data as Record<string, unknown>).at).toBe('2026-01-02T03:04:05.000Z');
  });
});

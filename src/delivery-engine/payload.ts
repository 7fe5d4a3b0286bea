import { XMLBuilder } from 'fast-xml-parser';
import { PayloadFormat, type Environment } from '../domain.js';

/**
 * The body of a delivery in the subscription's format. Pure: the
 * same input gives the same bytes, which is what gets signed.
 */

export interface PayloadInput {
  /** The event type, e.g. `invoices.paid`. */
  event: string;
  /** The event type's human description. */
  message: string;
  /** The delivery id, the same as the webhook-id header, for receivers that de-duplicate on the body. */
  idempotencyKey: string;
  environment: Environment;
  /** When the event was published. */
  timestamp: Date;
  /** The event's data: any JSON value. */
  data: unknown;
  /** The event's ordering key and the delivery's sequence within it; both absent without a key. */
  orderingKey?: string | null;
  sequence?: number | null;
}

export interface Payload {
  body: string;
  contentType: string;
}

export function buildPayload(format: PayloadFormat, input: PayloadInput): Payload {
  switch (format) {
    case PayloadFormat.ENVELOPE:
      return { body: JSON.stringify(envelope(input)), contentType: 'application/json' };
    case PayloadFormat.FLAT:
      return { body: JSON.stringify(flat(input)), contentType: 'application/json' };
    case PayloadFormat.XML:
      return { body: xml(input), contentType: 'application/xml' };
    default:
      throw new Error(`unknown payload format: ${String(format satisfies never)}`);
  }
}

/** Data as the JSON formats send it: undefined (never valid JSON) becomes null so that the field is always present. */
function jsonData(data: unknown): unknown {
  return data === undefined ? null : data;
}

function envelope(input: PayloadInput) {
  // Key order is part of the contract: it is the order receivers see.
  return {
    event: input.event,
    message: input.message,
    idempotency_key: input.idempotencyKey,
    environment: input.environment.toLowerCase(),
    timestamp: input.timestamp.toISOString(),
    ...(input.orderingKey == null ? {} : { ordering_key: input.orderingKey, sequence: input.sequence ?? null }),
    data: jsonData(input.data),
  };
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `{ event, ...data }`. When data has its own `event` key, the event type
 * wins and data's value is dropped: receivers of the flat format route on
 * `event`, and a payload must not be able to pose as another event type.
 * Data that is not an object (an array, a string, null) goes under `data`.
 */
function flat(input: PayloadInput): Record<string, unknown> {
  const data = jsonData(input.data);
  if (!isJsonObject(data)) return { event: input.event, data };
  // A null-prototype object: data parsed from JSON may carry an own "__proto__"
  // key, which plain assignment would turn into a prototype change and lose.
  const body = Object.create(null) as Record<string, unknown>;
  body.event = input.event;
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'event') body[key] = value;
  }
  return body;
}

// ---------------------------------------------------------------------------
// XML
//
// The envelope becomes <webhook> with one element per field. Within data:
// - an object becomes nested elements, in the object's key order;
// - an array becomes one element per item, repeated under the array's key
//   (an empty array therefore produces no element); an array directly inside
//   an array becomes an element holding one <item> per inner item;
// - strings, numbers and booleans are text; null is an empty element;
// - a key that is not a safe XML element name becomes <entry key="the key">
//   so that no key can break the document and none is lost or merged with
//   another. Safe: an XML 1.0 NCName restricted to the Basic Multilingual
//   Plane (so that parsers of every edition of XML 1.0 accept it), not
//   starting with "xml" in any case (reserved by the XML specification);
//   colons are excluded because they would need a namespace declaration;
//   and not one of the names of Object.prototype's members or `prototype`,
//   because parsers that map XML onto JavaScript objects refuse or rename
//   them (fast-xml-parser rejects a whole document with <constructor>);
// - characters that XML 1.0 forbids even as references (control characters
//   other than tab, newline and carriage return; U+FFFE, U+FFFF; unpaired
//   surrogates) are replaced with U+FFFD. Line ends are written as they
//   are: an XML parser hands CRLF to the receiver as LF (XML 1.0 §2.11);
//   writing &#13; instead would survive that, but parsers that leave
//   character references alone (fast-xml-parser by default) would show it
//   literally;
// - below MAX_XML_DATA_DEPTH levels of nesting, the rest of a value is sent
//   as its JSON text, so that no event is undeliverable for its shape.
// ---------------------------------------------------------------------------

/** The element used for a key that is not a safe XML name; the key goes in its `key` attribute. */
export const XML_ENTRY_ELEMENT = 'entry';
/** Nesting levels of data rendered as elements; deeper values are sent as JSON text. */
export const MAX_XML_DATA_DEPTH = 64;

const NAME_START =
  'A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u0486\\u0488-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
// Combining marks (U+0300-U+036F) are name characters in their own right here, not parts of other characters.
// eslint-disable-next-line no-misleading-character-class
const SAFE_XML_NAME = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*$`);
const RESERVED_XML_PREFIX = /^xml/i;
const JAVASCRIPT_OBJECT_NAMES = new Set(['prototype', ...Object.getOwnPropertyNames(Object.prototype)]);
// Control characters are exactly what this pattern is for.
const XML_FORBIDDEN_CHARS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when a key can be used as an element name as it is. */
export function isSafeXmlName(key: string): boolean {
  return SAFE_XML_NAME.test(key) && !RESERVED_XML_PREFIX.test(key) && !JAVASCRIPT_OBJECT_NAMES.has(key);
}

function xmlText(value: string): string {
  return value.replace(XML_FORBIDDEN_CHARS, '\uFFFD');
}

/** A node in fast-xml-parser's preserveOrder form: `{ tag: children, ':@': attributes }` or `{ '#text': text }`. */
type OrderedNode = Record<string, unknown>;

function textNodes(text: string): OrderedNode[] {
  return text === '' ? [] : [{ '#text': xmlText(text) }];
}

/** The children of an element holding this value. */
function content(value: unknown, depth: number): OrderedNode[] {
  if (value === null || value === undefined) return [];
  if (depth >= MAX_XML_DATA_DEPTH && typeof value === 'object') return textNodes(JSON.stringify(value));
  if (Array.isArray(value)) return value.map((item) => element('item', item, depth + 1));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => elements(key, item, depth + 1));
  }
  return textNodes(String(value));
}

/** One element per item for an array, else one element. */
function elements(key: string, value: unknown, depth: number): OrderedNode[] {
  if (Array.isArray(value)) return value.map((item) => element(key, item, depth));
  return [element(key, value, depth)];
}

function element(key: string, value: unknown, depth: number): OrderedNode {
  const children = content(value, depth);
  if (isSafeXmlName(key)) return { [key]: children };
  return { [XML_ENTRY_ELEMENT]: children, ':@': { '@_key': xmlText(key) } };
}

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: false,
  // Escapes & < > ' " in text and attribute values.
  processEntities: true,
  // An attribute whose value is "true" would otherwise be written as a bare name, which is not XML.
  suppressBooleanAttributes: false,
  suppressEmptyNode: false,
  // webhook + data + MAX_XML_DATA_DEPTH levels, with room to spare.
  maxNestedTags: MAX_XML_DATA_DEPTH + 8,
});

function xml(input: PayloadInput): string {
  const fields = envelope(input);
  // Through JSON first so that XML carries exactly what the JSON formats would (Dates as strings, no undefined).
  const data: unknown = JSON.parse(JSON.stringify(fields.data));
  const webhook: OrderedNode[] = [
    ...elements('event', fields.event, 0),
    ...elements('message', fields.message, 0),
    ...elements('idempotency_key', fields.idempotency_key, 0),
    ...elements('environment', fields.environment, 0),
    ...elements('timestamp', fields.timestamp, 0),
    ...('ordering_key' in fields ? [...elements('ordering_key', fields.ordering_key, 0), ...elements('sequence', fields.sequence, 0)] : []),
    ...elements('data', data, 0),
  ];
  return builder.build([{ '?xml': [{ '#text': '' }], ':@': { '@_version': '1.0', '@_encoding': 'UTF-8' } }, { webhook }]) as string;
}

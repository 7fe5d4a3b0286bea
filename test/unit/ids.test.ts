import { parse, stringify } from 'uuid';
import { describe, expect, it } from 'vitest';
import { isUuid, newId } from '../../src/ids.js';

describe('newId', () => {
  it('makes valid, unique UUIDv7s in creation order, also many within one millisecond', () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, newId);
    const after = Date.now();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => isUuid(id) && id[14] === '7' && '89ab'.includes(id[19]!))).toBe(true);
    expect(ids.every((id, i) => i === 0 || ids[i - 1]! < id)).toBe(true);
    // Written digit by digit: the same text as the uuid package makes of the same bytes.
    expect(ids.every((id) => stringify(parse(id)) === id)).toBe(true);
    // The first 48 bits are the creation time in milliseconds.
    const msecs = parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16);
    expect(msecs).toBeGreaterThanOrEqual(before);
    expect(msecs).toBeLessThanOrEqual(after + 1);
  });
});

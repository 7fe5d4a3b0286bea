import { describe, expect, it } from 'vitest';
import { seriesBuckets } from '../../src/deliveries/stats-series.js';
import { InputError } from '../../src/errors.js';

const now = new Date('2026-12-01T12:34:56Z');

describe('seriesBuckets', () => {
  it('aligns intervals to the bucket and covers until', () => {
    const { startSeconds, count } = seriesBuckets({ since: new Date('2026-12-01T10:10:00Z'), until: now, bucketSeconds: 3600 }, now);
    expect(new Date(startSeconds * 1000).toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(count).toBe(3);
  });

  it('defaults to the 24 hours before until', () => {
    const { startSeconds, count } = seriesBuckets({ bucketSeconds: 3600 }, now);
    expect(new Date(startSeconds * 1000).toISOString()).toBe('2026-11-30T12:00:00.000Z');
    expect(count).toBe(25);
  });

  it('names the argument that is wrong', () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as InputError).fields.map((x) => x.field);
      }
      return [];
    };
    expect(fieldOf(() => seriesBuckets({ bucketSeconds: 30 }, now))).toEqual(['bucketSeconds']);
    expect(fieldOf(() => seriesBuckets({ bucketSeconds: 60.5 }, now))).toEqual(['bucketSeconds']);
    expect(fieldOf(() => seriesBuckets({ bucketSeconds: 60 }, now))).toEqual(['bucketSeconds']);
    expect(fieldOf(() => seriesBuckets({ since: now, until: now, bucketSeconds: 60 }, now))).toEqual(['since']);
  });
});

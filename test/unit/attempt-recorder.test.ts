import { describe, expect, it } from 'vitest';
import type { AttemptEntry } from '../../src/delivery-engine/attempt-store.js';
import { AttemptRecorder } from '../../src/delivery-engine/attempt-recorder.js';

/** Entries are opaque to the recorder but for their delivery id, which tags them here. */
const entry = (tag: string) => ({ context: { delivery: { id: tag } } }) as unknown as AttemptEntry;
const tags = (entries: readonly AttemptEntry[]) => entries.map((e) => e.context.delivery.id);

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe('AttemptRecorder (group commit)', () => {
  it('writes the attempts that end in one turn together, and those that end during a write in the next', async () => {
    const writes: string[][] = [];
    const firstWrite = deferred();
    const recorder = new AttemptRecorder(async (entries) => {
      writes.push(tags(entries));
      if (writes.length === 1) await firstWrite.promise;
    });
    const first = [recorder.record(entry('a')), recorder.record(entry('b'))];
    await new Promise((r) => setImmediate(r));
    const later = [recorder.record(entry('c')), recorder.record(entry('d')), recorder.record(entry('e'))];
    expect(writes).toEqual([['a', 'b']]);
    firstWrite.release();
    await Promise.all([...first, ...later]);
    expect(writes).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
  });

  it('writes a failed group again one attempt at a time, so that only the bad attempt fails', async () => {
    const writes: string[][] = [];
    const recorder = new AttemptRecorder(async (entries) => {
      writes.push(tags(entries));
      if (tags(entries).includes('bad')) throw new Error('invalid input');
    });
    const results = await Promise.allSettled([recorder.record(entry('a')), recorder.record(entry('bad')), recorder.record(entry('c'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('keeps a second attempt of the same delivery for the next group', async () => {
    const writes: string[][] = [];
    const recorder = new AttemptRecorder(async (entries) => {
      writes.push(tags(entries));
    });
    await Promise.all([recorder.record(entry('a')), recorder.record(entry('a')), recorder.record(entry('b'))]);
    expect(writes).toEqual([['a', 'b'], ['a']]);
  });

  it('rejects the attempts of a failed write only, and keeps going', async () => {
    let calls = 0;
    const recorder = new AttemptRecorder(async () => {
      calls += 1;
      if (calls === 1) throw new Error('connection lost');
    });
    const failed = recorder.record(entry('a'));
    await expect(failed).rejects.toThrow('connection lost');
    await expect(recorder.record(entry('b'))).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });

  it('writes a batch again once when PostgreSQL chose it as a deadlock victim', async () => {
    const writes: string[][] = [];
    const recorder = new AttemptRecorder(async (entries) => {
      writes.push(tags(entries));
      if (writes.length === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    });
    await recorder.record(entry('a'));
    expect(writes).toEqual([['a'], ['a']]);
  });

  it('caps a commit at 500 attempts', async () => {
    const sizes: number[] = [];
    const recorder = new AttemptRecorder(async (entries) => {
      sizes.push(entries.length);
    });
    await Promise.all(Array.from({ length: 1200 }, (_, i) => recorder.record(entry(String(i)))));
    expect(sizes).toEqual([500, 500, 200]);
  });
});

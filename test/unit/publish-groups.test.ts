import { describe, expect, it } from 'vitest';
import { PublishGroups, type GroupWrite } from '../../src/events/publish-groups.js';

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

const turn = () => new Promise((r) => setImmediate(r));

/**
 * A fake write: records each group as "scope:items", answers each item
 * upper-cased, waits for the gate of its group if one is set, and fails a
 * group holding a "bad" item.
 */
function recordingGroups() {
  const writes: string[] = [];
  const gates: Array<ReturnType<typeof deferred> | undefined> = [];
  const groups = new PublishGroups<string, string, string, { group: number }>(
    (scope) => scope,
    async (scope, items): Promise<GroupWrite<string, string, { group: number }>> => {
      const group = writes.push(`${scope}:${items.join(',')}`) - 1;
      await gates[group]?.promise;
      if (items.includes('bad')) throw new Error(`group ${group} failed`);
      return { results: new Map(items.map((item) => [item, item.toUpperCase()])), extra: { group } };
    },
    // An item's weight is its length: "big…" items weigh more than the others.
    { items: 1_000, weight: 5_000, weightOf: (item) => item.length },
  );
  return { writes, gates, groups };
}

describe('PublishGroups (group commit for publishing)', () => {
  it('writes a lone publish at once, with its own items', async () => {
    const { writes, groups } = recordingGroups();
    const written = await groups.store('k1', ['a', 'b']);
    expect(writes).toEqual(['k1:a,b']);
    expect([...written.results]).toEqual([
      ['a', 'A'],
      ['b', 'B'],
    ]);
  });

  it('has one write of a publisher under way at a time, and writes the publishes that wait meanwhile together', async () => {
    const { writes, gates, groups } = recordingGroups();
    gates[0] = deferred();
    const first = groups.store('k1', ['a']);
    const waiting = [groups.store('k1', ['c']), groups.store('k1', ['d', 'e']), groups.store('k1', ['f'])] as const;
    await turn();
    expect(writes).toEqual(['k1:a']);
    let settled = 0;
    for (const w of waiting) void w.then(() => (settled += 1));
    gates[0].release();
    await first;
    await turn();
    // The three waiting publishes went in one write as soon as the first ended.
    expect(writes).toEqual(['k1:a', 'k1:c,d,e,f']);
    const [c, de, f] = await Promise.all(waiting);
    expect(settled).toBe(3);
    // Each caller gets its own items' results, and what the write told all of them.
    expect([...de.results]).toEqual([
      ['d', 'D'],
      ['e', 'E'],
    ]);
    expect([...c.results]).toEqual([['c', 'C']]);
    expect([...f.results]).toEqual([['f', 'F']]);
    expect(c.extra).toEqual({ group: 1 });
  });

  it('never groups the publishes of different publishers', async () => {
    const { writes, gates, groups } = recordingGroups();
    gates[0] = deferred();
    const busy = groups.store('k1', ['a']);
    const other = groups.store('k2', ['x']);
    const waiting = groups.store('k1', ['c']);
    await other;
    expect(writes).toEqual(['k1:a', 'k2:x']);
    gates[0].release();
    await Promise.all([busy, waiting]);
    expect(writes).toEqual(['k1:a', 'k2:x', 'k1:c']);
  });

  it('writes a failed group again one publish at a time, so that only the failing publish fails', async () => {
    const { writes, gates, groups } = recordingGroups();
    gates[0] = deferred();
    const busy = groups.store('k1', ['a']);
    const good = groups.store('k1', ['c']);
    const bad = groups.store('k1', ['bad', 'd']);
    const alsoGood = groups.store('k1', ['e']);
    gates[0].release();
    await busy;
    await expect(bad).rejects.toThrow(/failed/);
    expect([...(await good).results]).toEqual([['c', 'C']]);
    expect([...(await alsoGood).results]).toEqual([['e', 'E']]);
    expect(writes).toEqual(['k1:a', 'k1:c,bad,d,e', 'k1:c', 'k1:bad,d', 'k1:e']);
  });

  it('puts no more items in one write than one call may carry, but always the first waiting publish', async () => {
    const { writes, gates, groups } = recordingGroups();
    gates[0] = deferred();
    const busy = groups.store('k1', ['a']);
    const big = Array.from({ length: 1_200 }, (_, n) => `big${n}`);
    const small = Array.from({ length: 600 }, (_, n) => `s${n}`);
    const waiting = [
      groups.store('k1', small),
      groups.store(
        'k1',
        small.map((s) => `t${s}`),
      ),
      groups.store('k1', big),
    ];
    gates[0].release();
    await Promise.all([busy, ...waiting]);
    const sizes = writes.slice(1).map((w) => w.split(':')[1]!.split(',').length);
    expect(sizes).toEqual([600, 600, 1_200]);
  });

  it('puts no more weight in one write than one call may carry', async () => {
    const { writes, gates, groups } = recordingGroups();
    gates[0] = deferred();
    const busy = groups.store('k1', ['a']);
    // Each of these weighs 2,000 (ten items of 200): two fit in a write of weight 5,000, the third waits.
    const heavy = (tag: string) => Array.from({ length: 10 }, (_, n) => `${tag}${n}`.padEnd(200, '.'));
    const waiting = [groups.store('k1', heavy('p')), groups.store('k1', heavy('q')), groups.store('k1', heavy('r'))];
    gates[0].release();
    await Promise.all([busy, ...waiting]);
    expect(writes.slice(1).map((w) => w.split(',').length)).toEqual([20, 10]);
  });
});

/**
 * Ordering per key at fan-out time, as pure functions: which keyed events
 * of a batch may be fanned out now, and the delivery sequences their
 * deliveries get.
 */

/** How far the fan-out has gone for one ordering key. */
export interface KeyProgress {
  fannedOutThrough: number;
}

export interface KeyedItem<T> {
  event: T;
  /** The key's identity: account, environment and ordering key. */
  key: string;
  sequence: number;
  /** It has waited long enough for earlier events of its key that never came: it goes, past them. */
  force?: boolean;
}

export interface GateDecision<T> {
  /** Next in line for their key: fan out now, in sequence order. */
  ready: Array<KeyedItem<T>>;
  /** An earlier event of the key has not been fanned out yet: look again later. */
  deferred: Array<KeyedItem<T>>;
  /** The keys' new marks, for those that moved. */
  fannedOutThrough: Map<string, number>;
}

/**
 * An event goes when every earlier event of its key has gone: its sequence
 * is one past the key's mark, or it follows one of this batch that is.
 * An event at or below the mark was fanned out already (its job came twice)
 * and is dropped. An event forced through (its predecessors never came, e.g.
 * one was dead-lettered) moves the mark past them.
 */
export function orderingGate<T>(items: ReadonlyArray<KeyedItem<T>>, progress: ReadonlyMap<string, KeyProgress>): GateDecision<T> {
  const byKey = new Map<string, Array<KeyedItem<T>>>();
  for (const item of items) {
    const list = byKey.get(item.key) ?? [];
    list.push(item);
    byKey.set(item.key, list);
  }
  const decision: GateDecision<T> = { ready: [], deferred: [], fannedOutThrough: new Map() };
  for (const [key, list] of byKey) {
    list.sort((x, y) => x.sequence - y.sequence);
    const start = progress.get(key)?.fannedOutThrough ?? 0;
    let through = start;
    for (const item of list) {
      if (item.sequence <= through) continue;
      if (item.sequence === through + 1 || item.force) {
        decision.ready.push(item);
        through = item.sequence;
      } else {
        decision.deferred.push(item);
      }
    }
    if (through !== start) decision.fannedOutThrough.set(key, through);
  }
  return decision;
}

export interface PairToSequence {
  eventId: string;
  accountId: string;
  environment: string;
  subscriptionId: string;
  /** The subscription's ordering is PER_KEY. */
  perKey: boolean;
  orderingKey: string | null;
  eventSequence: number | null;
}

export interface PairToInsert extends PairToSequence {
  /** 1, 2, 3, … per subscription and key; null without a key. */
  sequence: number | null;
  /** The first delivery of its subscription and key in this batch: whether it waits depends on the previous one in the table. */
  firstOfBatch: boolean;
}

/**
 * Numbers the keyed deliveries of each subscription and key after the last
 * sequence the counter had (`lastSequences`, by `subscriptionId/orderingKey`),
 * in the order of their events' sequences: without gaps, so that a receiver
 * that filters events sees none.
 */
export function sequenceDeliveries(pairs: readonly PairToSequence[], lastSequences: ReadonlyMap<string, number>): PairToInsert[] {
  const result: PairToInsert[] = [];
  const groups = new Map<string, PairToSequence[]>();
  for (const pair of pairs) {
    if (pair.orderingKey === null || pair.eventSequence === null) {
      result.push({ ...pair, sequence: null, firstOfBatch: true });
      continue;
    }
    const key = `${pair.subscriptionId}/${pair.orderingKey}`;
    const list = groups.get(key) ?? [];
    list.push(pair);
    groups.set(key, list);
  }
  for (const [key, list] of groups) {
    list.sort((x, y) => x.eventSequence! - y.eventSequence!);
    const last = lastSequences.get(key);
    if (last === undefined) throw new Error(`no delivery sequence was reserved for ${key}`);
    list.forEach((pair, i) => result.push({ ...pair, sequence: last + i + 1, firstOfBatch: i === 0 }));
  }
  return result;
}

/**
 * Transactions of one publisher under way at once; publishes that arrive meanwhile wait and go together.
 * One rather than two: measured, one gave the same rate or better with less CPU per delivery (docs/performance.md).
 */
const IN_FLIGHT_PER_PUBLISHER = 1;

/** How much one transaction may hold: a group never holds more than one call may carry, so that no statement grows past one call's. */
export interface GroupLimits<Item> {
  items: number;
  /** Of the items' weights (their data's size). */
  weight: number;
  weightOf: (item: Item) => number;
}

/** What writing a group answered: a result per item, and whatever else the write tells every caller. */
export interface GroupWrite<Item, Result, Extra> {
  results: Map<Item, Result>;
  extra: Extra;
}

interface Waiting<Item, Result, Extra> {
  items: readonly Item[];
  resolve: (written: GroupWrite<Item, Result, Extra>) => void;
  reject: (error: unknown) => void;
}

interface Queue<Scope, Item, Result, Extra> {
  scope: Scope;
  inFlight: number;
  waiting: Array<Waiting<Item, Result, Extra>>;
}

/**
 * Group commit for publishing. Each transaction costs PostgreSQL about the
 * same whether it stores one event or ten: pg-boss's job insert alone takes
 * half a millisecond a statement, and a statement of a hundred jobs hardly
 * more. So while a publisher (one account, environment and API key) has a
 * transaction under way, its next publishes wait and are written together
 * in one transaction as soon as it ends.
 * A publish alone goes at once. Each caller gets its own items' results,
 * and only once the transaction holding them has committed. A group that
 * fails is written again one caller at a time, so that one caller's
 * failure fails no other.
 */
export class PublishGroups<Scope, Item, Result, Extra> {
  private readonly queues = new Map<string, Queue<Scope, Item, Result, Extra>>();

  constructor(
    private readonly keyOf: (scope: Scope) => string,
    private readonly write: (scope: Scope, items: readonly Item[]) => Promise<GroupWrite<Item, Result, Extra>>,
    private readonly limits: GroupLimits<Item>,
  ) {}

  store(scope: Scope, items: readonly Item[]): Promise<GroupWrite<Item, Result, Extra>> {
    const key = this.keyOf(scope);
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { scope, inFlight: 0, waiting: [] };
      this.queues.set(key, queue);
    }
    const promise = new Promise<GroupWrite<Item, Result, Extra>>((resolve, reject) => queue.waiting.push({ items, resolve, reject }));
    this.next(key, queue);
    return promise;
  }

  /** Starts the next group of the queue if it has room, and forgets a queue with nothing left. */
  private next(key: string, queue: Queue<Scope, Item, Result, Extra>): void {
    if (queue.waiting.length === 0) {
      if (queue.inFlight === 0) this.queues.delete(key);
      return;
    }
    if (queue.inFlight >= IN_FLIGHT_PER_PUBLISHER) return;
    const group = this.take(queue);
    queue.inFlight += 1;
    void this.writeGroup(queue.scope, group).finally(() => {
      queue.inFlight -= 1;
      this.next(key, queue);
    });
  }

  /** The waiting callers, in order, whose items fit in one group within the limits; the first always. */
  private take(queue: Queue<Scope, Item, Result, Extra>): Array<Waiting<Item, Result, Extra>> {
    const { items: maxItems, weight: maxWeight, weightOf } = this.limits;
    let count = 0;
    let weight = 0;
    let taken = 0;
    for (const w of queue.waiting) {
      const itemsWeight = w.items.reduce((sum, item) => sum + weightOf(item), 0);
      if (taken > 0 && (count + w.items.length > maxItems || weight + itemsWeight > maxWeight)) break;
      count += w.items.length;
      weight += itemsWeight;
      taken += 1;
    }
    return queue.waiting.splice(0, taken);
  }

  private async writeGroup(scope: Scope, group: Array<Waiting<Item, Result, Extra>>): Promise<void> {
    try {
      const written = await this.write(
        scope,
        group.flatMap((w) => w.items),
      );
      for (const w of group) w.resolve({ results: new Map(w.items.map((item) => [item, written.results.get(item)!])), extra: written.extra });
    } catch (error) {
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      for (const w of group) await this.write(scope, w.items).then(w.resolve, w.reject);
    }
  }
}

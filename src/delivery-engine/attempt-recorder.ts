import type { AttemptEntry } from './attempt-store.js';

/** Attempts written in one commit at most; more wait for the next. */
const MAX_ATTEMPTS_PER_COMMIT = 500;

/**
 * Group writes under way at once. A group waits for its commit to reach
 * disk; with a second one under way meanwhile, an attempt that ends during
 * a write is written at once instead of after it, and its slot is free
 * sooner.
 */
const CONCURRENT_WRITES = 2;

/** PostgreSQL's deadlock_detected: the transaction was rolled back and may simply run again. */
const DEADLOCK = '40P01';

interface Waiting {
  entry: AttemptEntry;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for attempt records. A commit waits for the WAL to reach
 * disk; writing attempts one commit each makes that wait the limit of a
 * worker. The recorder writes the attempts that end in the same turn of the
 * event loop together, in up to two groups at once; attempts that end while
 * both are under way are written together in the next. `record` resolves
 * once the attempt is durable and rejects if it is not (its delivery's
 * lease then runs out and the delivery is attempted again). A group that
 * fails is written again one attempt at a time, so that one bad attempt
 * fails no other. Two attempts of one delivery are never written at once:
 * the second waits for a group after the first's.
 */
export class AttemptRecorder {
  private waiting: Waiting[] = [];
  /** A start of writes is due at the end of this turn of the event loop. */
  private due = false;
  private readonly writes = new Set<Promise<void>>();
  /** Deliveries whose attempt is being written. */
  private readonly writing = new Set<string>();

  constructor(private readonly write: (entries: readonly AttemptEntry[]) => Promise<void>) {}

  record(entry: AttemptEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      // Attempts that end in the same turn of the event loop join one group.
      if (this.due) return;
      this.due = true;
      setImmediate(() => {
        this.due = false;
        this.startWrites();
      });
    });
  }

  /** Resolves when every attempt handed over so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.due || this.writes.size > 0) {
      await Promise.all([...this.writes, new Promise((resolve) => setImmediate(resolve))]);
    }
  }

  private startWrites(): void {
    while (this.writes.size < CONCURRENT_WRITES) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      const write: Promise<void> = this.writeGroup(batch).finally(() => {
        for (const w of batch) this.writing.delete(w.entry.context.delivery.id);
        this.writes.delete(write);
        this.startWrites();
      });
      this.writes.add(write);
    }
  }

  private async writeGroup(batch: readonly Waiting[]): Promise<void> {
    try {
      await this.writeWithRetry(batch.map((w) => w.entry));
      for (const w of batch) w.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const w of batch) {
        await this.writeWithRetry([w.entry]).then(w.resolve, w.reject);
      }
    }
  }

  /**
   * The next group: one entry per delivery, none of a delivery whose attempt
   * is being written (a second one waits for a later group), at most
   * MAX_ATTEMPTS_PER_COMMIT.
   */
  private takeBatch(): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of this.waiting) {
      const id = w.entry.context.delivery.id;
      if (batch.length < MAX_ATTEMPTS_PER_COMMIT && !this.writing.has(id)) {
        this.writing.add(id);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    this.waiting = rest;
    return batch;
  }

  private async writeWithRetry(entries: readonly AttemptEntry[]): Promise<void> {
    try {
      await this.write(entries);
    } catch (error) {
      if (errorCode(error) !== DEADLOCK) throw error;
      await this.write(entries);
    }
  }
}

function errorCode(error: unknown): string | undefined {
  const { code, driverError } = (error ?? {}) as { code?: unknown; driverError?: { code?: unknown } };
  const value = code ?? driverError?.code;
  return typeof value === 'string' ? value : undefined;
}

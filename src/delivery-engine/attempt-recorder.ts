import type { AttemptEntry } from './attempt-store.js';

/** Attempts written in one commit at most; more wait for the next. */
const MAX_ATTEMPTS_PER_COMMIT = 500;

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
 * worker. The recorder writes the attempts that end while a commit is under
 * way together in the next one. `record` resolves once the attempt is
 * durable and rejects if it is not (its delivery's lease then runs out and
 * the delivery is attempted again). A group that fails is written again
 * one attempt at a time, so that one bad attempt fails no other.
 */
export class AttemptRecorder {
  private waiting: Waiting[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly write: (entries: readonly AttemptEntry[]) => Promise<void>) {}

  record(entry: AttemptEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      // Attempts that end in the same turn of the event loop join this commit.
      this.draining ??= new Promise<void>((done) => setImmediate(() => void this.drain().finally(done)));
    });
  }

  /** Resolves when every attempt handed over so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.writeWithRetry(batch.map((w) => w.entry));
          for (const w of batch) w.resolve();
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const w of batch) {
            await this.writeWithRetry([w.entry]).then(w.resolve, w.reject);
          }
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  /** The next group: one entry per delivery (a second one waits for the next group), at most MAX_ATTEMPTS_PER_COMMIT. */
  private takeBatch(): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const seen = new Set<string>();
    for (const w of this.waiting) {
      const id = w.entry.context.delivery.id;
      if (batch.length < MAX_ATTEMPTS_PER_COMMIT && !seen.has(id)) {
        seen.add(id);
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

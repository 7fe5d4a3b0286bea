import type { AttemptEntry } from '../deliveries/service.js';

/** Attempts written in one transaction at most; more wait for the next. */
const MAX_ATTEMPTS_PER_COMMIT = 500;

/** PostgreSQL's deadlock_detected: the transaction was rolled back and may simply run again. */
const DEADLOCK = '40P01';

interface Waiting {
  entry: AttemptEntry;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for attempt records. Every attempt is recorded before its
 * job is completed, and a commit waits for the WAL to reach disk; writing
 * attempts one transaction each makes that wait the limit of a worker. The
 * recorder writes the attempts that end while a commit is under way
 * together in the next one. `record` resolves once the attempt is durable
 * and rejects if it is not (its job then fails and pg-boss runs it again).
 */
export class AttemptRecorder {
  private waiting: Waiting[] = [];
  private draining = false;

  constructor(private readonly write: (entries: readonly AttemptEntry[]) => Promise<void>) {}

  record(entry: AttemptEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Attempts that end in the same turn of the event loop join this commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_ATTEMPTS_PER_COMMIT);
      try {
        await this.writeWithRetry(batch.map((w) => w.entry));
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.draining = false;
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

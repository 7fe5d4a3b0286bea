import { Worker } from 'node:worker_threads';
import type { FieldError } from '../errors.js';
import type { SchemaRequest, SchemaResponse } from './schema-worker.js';

/** A check of tenant data or a tenant schema that did not finish within the deadline. */
export class SchemaCheckTimeout extends Error {
  constructor(readonly deadlineMs: number) {
    super(`the schema check did not finish within ${deadlineMs} ms`);
    this.name = 'SchemaCheckTimeout';
  }
}

export interface SchemaCheckerOptions {
  /** Threads that check at once. */
  threads?: number;
  /** CPU time a check of data may take; a check that runs longer is ended, with its thread. */
  deadlineMs?: number;
  /** CPU time compiling a schema may take (bounded by the schema's caps, so a larger allowance). */
  compileDeadlineMs?: number;
  /** Heap of each thread: a check that would need more ends its thread, not the process. */
  maxHeapMb?: number;
}

type RequestBody = SchemaRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
type Job = { owner: string; request: RequestBody; resolve: (value: unknown) => void; reject: (error: Error) => void };

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  started: boolean;
  job?: Job & { id: number; timer: NodeJS.Timeout | undefined; limitMs: number; cpuStart: number; wallStart: number };
}

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './schema-worker.ts' : './schema-worker.js', import.meta.url);

/**
 * Tenant JSON Schemas are compiled and applied in worker threads, with a
 * deadline per check: patterns already run in linear time and schemas are
 * capped, but what a schema costs on the largest data it can meet is not
 * bounded tightly enough to run on the event loop that serves everyone.
 */
export class SchemaChecker {
  private readonly threads: number;
  private readonly deadlineMs: number;
  private readonly compileDeadlineMs: number;
  private readonly maxHeapMb: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: SchemaCheckerOptions = {}) {
    this.threads = options.threads ?? 2;
    this.deadlineMs = options.deadlineMs ?? 2_000;
    this.compileDeadlineMs = options.compileDeadlineMs ?? Math.max(this.deadlineMs, 5_000);
    this.maxHeapMb = options.maxHeapMb ?? 96;
  }

  /** Why a value cannot serve as an event type's schema; empty when it can. `owner` is whose check it is (the account). */
  async schemaProblems(schema: unknown, owner: string): Promise<string[]> {
    return (await this.run(owner, { kind: 'problems', schema })) as string[];
  }

  /** The data's problems under the schema, with paths below `prefix`. */
  async validate(schema: object, data: unknown, prefix: string, owner: string): Promise<FieldError[]> {
    return (await this.run(owner, { kind: 'validate', schema, data, prefix })) as FieldError[];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the schema checker is closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private run(owner: string, request: RequestBody): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the schema checker is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ owner, request, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Starts queued checks on free threads, at most one per owner at a time:
   * an account whose checks are slow waits for its own, and leaves the
   * other threads to the other accounts.
   */
  private dispatch(): void {
    for (;;) {
      const running = new Set(this.slots.flatMap((s) => (s.job ? [s.job.owner] : [])));
      const index = this.queue.findIndex((job) => !running.has(job.owner));
      if (index < 0) return;
      // All threads start together, and an ended one is replaced at once, so
      // that a check seldom waits for a thread to start.
      while (this.slots.length < this.threads) this.spawn();
      const slot = this.slots.find((s) => !s.job);
      if (!slot) return;
      const [job] = this.queue.splice(index, 1) as [Job];
      const id = this.nextId++;
      const busy = slot;
      slot.job = { ...job, id, timer: undefined, limitMs: this.compileDeadlineMs, cpuStart: 0, wallStart: 0 };
      // The deadline counts from when the thread has the check: starting a
      // thread is not the check's cost, and takes long on a loaded machine.
      void slot.ready.then(async () => {
        if (busy.job?.id !== id) return;
        const cpuStart = await cpuMicros(busy.worker);
        if (busy.job?.id !== id) return;
        Object.assign(busy.job, { cpuStart, wallStart: performance.now() });
        busy.worker.postMessage({ ...job.request, id });
        this.watch(busy, id);
      });
    }
  }

  /**
   * Ends the check once the thread has spent deadlineMs of CPU time on it.
   * CPU time rather than time passed: on a loaded machine a thread gets a
   * fraction of a core, and a check that is cheap would miss a wall-clock
   * deadline. Ten times the deadline in wall-clock time ends it anyway.
   */
  private watch(slot: Slot, id: number, waitMs?: number): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      void cpuMicros(slot.worker).then((cpu) => {
        const current = slot.job;
        if (current?.id !== id) return;
        const spentMs = (cpu - current.cpuStart) / 1000;
        if (spentMs >= current.limitMs || performance.now() - current.wallStart >= 10 * current.limitMs) {
          this.fail(slot, new SchemaCheckTimeout(current.limitMs));
        } else {
          this.watch(slot, id, Math.max(50, current.limitMs - spentMs));
        }
      });
    }, waitMs ?? job.limitMs);
  }

  /** The schema is compiled: from now on the check has the data's deadline, counted afresh. */
  private startDataDeadline(slot: Slot, id: number): void {
    void cpuMicros(slot.worker).then((cpuStart) => {
      const job = slot.job;
      if (job?.id !== id) return;
      Object.assign(job, { cpuStart, wallStart: performance.now(), limitMs: this.deadlineMs });
      this.watch(slot, id);
    });
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl, { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } });
    worker.unref();
    let markReady!: () => void;
    const slot: Slot = { worker, started: false, ready: new Promise<void>((resolve) => (markReady = resolve)) };
    worker.on('message', (message: SchemaResponse) => {
      if (message.id === 0) {
        slot.started = true;
        markReady();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== message.id) return;
      if (message.compiled) {
        this.startDataDeadline(slot, job.id);
        return;
      }
      clearTimeout(job.timer);
      slot.job = undefined;
      job.resolve(message.result);
      this.dispatch();
    });
    worker.on('error', (error) => this.fail(slot, error));
    worker.on('exit', () => this.fail(slot, new Error('the schema check thread stopped')));
    this.slots.push(slot);
    return slot;
  }

  /** Ends the slot's thread and its check; the next check starts a fresh thread. */
  private fail(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    void slot.worker.terminate();
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      clearTimeout(job.timer);
      job.reject(error);
    }
    if (this.closed) return;
    if (!slot.started) {
      // A thread that cannot start would fail the same way again: the waiting checks fail with it.
      for (const queued of this.queue.splice(0)) queued.reject(error);
      return;
    }
    while (this.slots.length < this.threads) this.spawn();
    this.dispatch();
  }
}

/** CPU time the thread has used, in microseconds; a thread that has ended counts as past any deadline. */
async function cpuMicros(worker: Worker): Promise<number> {
  try {
    const { user, system } = await worker.cpuUsage();
    return user + system;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

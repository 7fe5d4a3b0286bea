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
  /** A check that runs longer is ended, with its thread. */
  deadlineMs?: number;
  /** Heap of each thread: a check that would need more ends its thread, not the process. */
  maxHeapMb?: number;
}

type RequestBody = SchemaRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
type Job = { request: RequestBody; resolve: (value: unknown) => void; reject: (error: Error) => void };

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  job?: Job & { id: number; timer: NodeJS.Timeout };
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
  private readonly maxHeapMb: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: SchemaCheckerOptions = {}) {
    this.threads = options.threads ?? 2;
    this.deadlineMs = options.deadlineMs ?? 2_000;
    this.maxHeapMb = options.maxHeapMb ?? 96;
  }

  /** Why a value cannot serve as an event type's schema; empty when it can. */
  async schemaProblems(schema: unknown): Promise<string[]> {
    return (await this.run({ kind: 'problems', schema })) as string[];
  }

  /** The data's problems under the schema, with paths below `prefix`. */
  async validate(schema: object, data: unknown, prefix: string): Promise<FieldError[]> {
    return (await this.run({ kind: 'validate', schema, data, prefix })) as FieldError[];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the schema checker is closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private run(request: RequestBody): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the schema checker is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.threads) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => this.fail(slot, new SchemaCheckTimeout(this.deadlineMs)), this.deadlineMs);
      slot.job = { ...job, id, timer };
      const busy = slot;
      // The deadline counts from dispatch, thread start-up included: a first check is slower, never stuck.
      void slot.ready.then(() => {
        if (busy.job?.id === id) busy.worker.postMessage({ ...job.request, id });
      });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl, { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } });
    worker.unref();
    let markReady!: () => void;
    const slot: Slot = { worker, ready: new Promise<void>((resolve) => (markReady = resolve)) };
    worker.on('message', (message: SchemaResponse) => {
      if (message.id === 0) {
        markReady();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== message.id) return;
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
    if (!this.closed) this.dispatch();
  }
}

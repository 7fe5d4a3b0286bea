import pg from 'pg';
import type { Logger } from '../logger.js';
import { EVENT_QUEUES, QUEUES, eventQueueFor, type EventQueueName } from './jobs.js';

/**
 * Wake-ups for the workers, on a channel of Hookline's own: `events` or
 * `ledger-events` after a commit that queued event jobs (the fan-out of
 * that queue fetches at once), `deliveries` after one that made deliveries
 * due (the delivery engine claims at once).
 *
 * pg-boss can NOTIFY from the transaction that inserts a job, but a
 * transaction that notifies takes a database-wide lock from before its commit
 * until its WAL is on disk, so every publish would wait for every other
 * publish's disk flush. Instead, those transactions commit without
 * notifying, and afterwards the process sends one small NOTIFY of its own,
 * with synchronous_commit off (a wake-up lost in a crash costs at most one
 * poll interval, never a job). Wake-ups asked for while one is on its way
 * are folded into one more.
 */
export const WAKE_CHANNEL = 'hookline_wake';

/**
 * Wake-ups for the long polls of PULL consumers: the payload is a
 * comma-separated list of subscription ids whose deliveries became due.
 * Sent from the fan-out's transaction and after the API's own commits.
 */
export const PULL_CHANNEL = 'hookline_pull';

/** Ids per pull wake-up: 36 characters and a comma each, well inside NOTIFY's 8000-byte payload. */
const IDS_PER_PULL_WAKE = 150;

/** The payloads that tell PULL consumers' long polls of these subscriptions. */
export function pullWakePayloads(subscriptionIds: Iterable<string>): string[] {
  const ids = [...new Set(subscriptionIds)];
  const payloads: string[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_PULL_WAKE) payloads.push(ids.slice(i, i + IDS_PER_PULL_WAKE).join(','));
  return payloads;
}

/**
 * `events` and `ledger-events` wake the fan-out of one event queue each, so
 * that a publish does not make the workers fetch from a queue it left
 * empty; `deliveries` wakes the delivery engine. A listener ignores a topic
 * it does not know: a worker of a version before `ledger-events` finds
 * ledger events by polling.
 */
export type WakeTopic = 'events' | 'ledger-events' | 'deliveries';
const TOPICS: readonly WakeTopic[] = ['events', 'ledger-events', 'deliveries'];

/** The topic that wakes each event queue's fan-out workers. */
export const FAN_OUT_TOPICS: Readonly<Record<EventQueueName, WakeTopic>> = {
  [QUEUES.events]: 'events',
  [QUEUES.ledgerEvents]: 'ledger-events',
};

/** The topics that wake the fan-out of events of these types: one per queue they go to. */
export function fanOutTopicsOf(types: Iterable<string>): WakeTopic[] {
  const topics = new Set<WakeTopic>();
  for (const type of types) topics.add(FAN_OUT_TOPICS[eventQueueFor(type)]);
  return [...topics];
}

/** The event queue whose fan-out a topic wakes; undefined for `deliveries`. */
export function queueOfTopic(topic: WakeTopic): EventQueueName | undefined {
  return EVENT_QUEUES.find((queue) => FAN_OUT_TOPICS[queue] === topic);
}

/**
 * The NOTIFY of a wake-up as a statement that another connection sends
 * right after the COMMIT of the work it announces, in the same write (a
 * publish, see EventService): it saves that publish the round trip of the
 * wake-up connection. As there, it commits without waiting for its WAL
 * flush (`set_config(…, true)` holds for its own transaction only).
 */
export function wakeStatement(topics: readonly WakeTopic[]): { text: string; values: unknown[] } {
  return {
    text: `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, t) FROM unnest($2::text[]) AS t`,
    values: [WAKE_CHANNEL, topics],
  };
}

/** The NOTIFY of wake-ups inside the caller's transaction, heard when it commits (and durable as it is). */
export function wakeInTransaction(topics: readonly WakeTopic[]): { text: string; values: unknown[] } {
  return { text: 'SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t', values: [WAKE_CHANNEL, topics] };
}

export class WakeSender {
  private readonly pool: pg.Pool;
  private sending = false;
  private readonly asked = new Set<WakeTopic>();
  private readonly pullAsked = new Set<string>();
  private idle: Promise<void> = Promise.resolve();

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: 1,
      application_name: 'hookline-wake',
      options: '-c synchronous_commit=off',
      // A wake-up that cannot be sent soon is worth nothing: the workers poll anyway.
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
    });
    // An idle connection that breaks is dropped by the pool; the next wake-up opens another.
    this.pool.on('error', (error) => this.logger.debug({ err: error }, 'wake-up connection lost'));
  }

  /** Asks the workers to fetch now; call it after the commit that queued the work. */
  wake(topic: WakeTopic): void {
    // A NOTIFY already on its way may have been sent before the caller's commit: this one goes after it.
    this.asked.add(topic);
    if (this.sending) return;
    this.sending = true;
    this.idle = this.send();
  }

  /** Wakes the long polls of these PULL subscriptions, in every API process; call it after the commit that made deliveries due. */
  wakePull(subscriptionIds: Iterable<string>): void {
    for (const id of subscriptionIds) this.pullAsked.add(id);
    if (this.sending || this.pullAsked.size === 0) return;
    this.sending = true;
    this.idle = this.send();
  }

  private async send(): Promise<void> {
    while (this.asked.size > 0 || this.pullAsked.size > 0) {
      const notices = [...this.asked].map((topic) => [WAKE_CHANNEL, topic]);
      notices.push(...pullWakePayloads(this.pullAsked).map((payload) => [PULL_CHANNEL, payload]));
      this.asked.clear();
      this.pullAsked.clear();
      try {
        await this.pool.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)', [
          notices.map(([channel]) => channel),
          notices.map(([, payload]) => payload),
        ]);
      } catch (error) {
        // Workers still poll: the work is found within a poll interval.
        this.logger.warn({ err: error }, 'could not wake the workers');
      }
    }
    this.sending = false;
  }

  async close(): Promise<void> {
    await this.idle;
    await this.pool.end();
  }
}

/**
 * LISTENs on one channel from a connection of its own, reconnecting with a
 * growing pause when it is lost. After every (re)connection it calls
 * `connected`, so that its user catches up on what was sent while nobody
 * listened.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly channel: string,
    private readonly handlers: { notification: (payload: string) => void; connected: () => void },
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    // A listener whose connection silently died only costs latency (workers poll), so TCP
    // keepalive is the only watch kept on it.
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'hookline-listen',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (!this.stopped) {
        this.logger.warn({ err: error, channel: this.channel }, 'listener lost its connection; reconnecting');
        this.scheduleReconnect();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn({ err: error, channel: this.channel }, 'listener could not connect; polling meanwhile');
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    client.on('notification', (message) => this.handlers.notification(message.payload ?? ''));
    this.handlers.connected();
  }

  private scheduleReconnect(): void {
    this.failures += 1;
    const delayMs = Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6));
    this.retryTimer = setTimeout(() => void this.connect(), delayMs);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
    }
  }
}

/** The workers' wake-ups: every topic once after each (re)connection, for what was sent while nobody listened. */
export class WakeListener extends ChannelListener {
  constructor(url: string, logger: Logger, onWake: (topic: WakeTopic) => void) {
    super(url, logger, WAKE_CHANNEL, {
      notification: (payload) => {
        const topic = TOPICS.find((t) => t === payload);
        if (topic) onWake(topic);
      },
      connected: () => {
        for (const topic of TOPICS) onWake(topic);
      },
    });
  }
}

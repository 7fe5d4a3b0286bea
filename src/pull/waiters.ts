import type { Logger } from '../logger.js';
import { ChannelListener, PULL_CHANNEL } from '../queue/wakeup.js';

/** Why a wait ended. */
export type WaitEnd = 'woken' | 'timeout' | 'gone' | 'stopped';

/** One long poll's claim on the next wake-up of its subscription. */
export interface WaitTicket {
  /** Waits for a wake-up of the subscription, until the time given (ms since the epoch), or until the caller leaves. */
  wait(until: number, leaving?: (onLeave: () => void) => () => void): Promise<WaitEnd>;
  /** Gives the ticket up. */
  cancel(): void;
}

/**
 * The long polls of PULL consumers waiting in this process, by
 * subscription. One LISTEN connection serves them all: a waiting long poll
 * costs the database nothing, whatever their number, until a wake-up names
 * its subscription. A ticket is taken before the poll looks for deliveries,
 * so that a wake-up that comes between that look and the wait is not
 * missed. After its connection is (re)made, every waiter looks again, for
 * what was sent while nobody listened.
 */
export class PullWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();
  private listener: ChannelListener | undefined;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.listener = new ChannelListener(this.databaseUrl, this.logger, PULL_CHANNEL, {
      notification: (payload) => {
        for (const id of payload.split(',')) this.wake(id);
      },
      connected: () => this.wakeAll('woken'),
    });
    await this.listener.start();
  }

  /** Long polls waiting now, over every subscription. */
  get size(): number {
    let total = 0;
    for (const set of this.waiting.values()) total += set.size;
    return total;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  ticket(subscriptionId: string): WaitTicket {
    const waiter = new Waiter(() => this.remove(subscriptionId, waiter));
    if (this.stopped) waiter.end('stopped');
    else {
      const set = this.waiting.get(subscriptionId) ?? new Set<Waiter>();
      set.add(waiter);
      this.waiting.set(subscriptionId, set);
    }
    return waiter;
  }

  /** Wakes the long polls of this subscription waiting in this process. */
  wake(subscriptionId: string): void {
    const set = this.waiting.get(subscriptionId);
    if (!set) return;
    for (const waiter of set) waiter.end('woken');
  }

  private wakeAll(why: WaitEnd): void {
    for (const set of this.waiting.values()) for (const waiter of set) waiter.end(why);
  }

  private remove(subscriptionId: string, waiter: Waiter): void {
    const set = this.waiting.get(subscriptionId);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiting.delete(subscriptionId);
  }

  /** Answers every waiting long poll (with what it has: nothing) and refuses to wait from now on. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll('stopped');
    await this.listener?.stop();
  }
}

class Waiter implements WaitTicket {
  private ended: WaitEnd | undefined;
  private resolve: ((why: WaitEnd) => void) | undefined;

  constructor(private readonly release: () => void) {}

  end(why: WaitEnd): void {
    // A wake-up before the wait began is kept: the wait then returns at once.
    this.ended ??= why;
    this.resolve?.(this.ended);
  }

  wait(until: number, leaving?: (onLeave: () => void) => () => void): Promise<WaitEnd> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise<WaitEnd>((resolve) => {
      // Filled in below; a caller that has already left may call finish before they are.
      const watch: { timer?: NodeJS.Timeout; stop?: () => void } = {};
      const finish = (why: WaitEnd) => {
        if (this.resolve !== finish) return;
        this.resolve = undefined;
        clearTimeout(watch.timer);
        watch.stop?.();
        resolve(why);
      };
      this.resolve = finish;
      watch.timer = setTimeout(() => finish('timeout'), Math.max(0, until - Date.now()));
      watch.stop = leaving?.(() => finish('gone'));
      if (this.resolve !== finish) watch.stop?.();
    });
  }

  cancel(): void {
    this.resolve = undefined;
    this.release();
  }
}

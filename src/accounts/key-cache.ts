import pg from 'pg';
import type { Logger } from '../logger.js';
import type { Principal } from './service.js';

/** Sent by a trigger on api_keys from every transaction that revokes, changes or deletes a key (at its commit). */
export const API_KEY_CHANGES_CHANNEL = 'hookline_api_keys';
/** A backstop only: every change that matters is notified. */
export const CACHED_KEY_TTL_MS = 30_000;
const MAX_CACHED_KEYS = 10_000;
/**
 * The listening connection is probed this often: a connection that died
 * without closing (a network partition) delivers no notification and no
 * error, so the cache trusts it only while a probe answered recently.
 */
const PROBE_INTERVAL_MS = 5_000;
const PROBE_TIMEOUT_MS = 5_000;
const TRUSTED_FOR_MS = PROBE_INTERVAL_MS + PROBE_TIMEOUT_MS + 2_000;
export const PROBE_SQL = 'SELECT 1 /* hookline api key listener probe */';

export interface CachedKey {
  principal: Principal;
  /** When lastUsedAt was last written for this key, as far as this process knows. */
  lastUsedAt: Date | null;
}

/**
 * Authenticated API keys by token hash, so that a publish needs no database
 * round trip to authenticate. It hears of a revocation in another process
 * only a moment after its commit, so only the publishing mutations use it,
 * and their transaction checks the key again in the statement that stores
 * the events (see EventService); every other operation reads its key from
 * the database (see keyCheckPlugin). It is safe only while it hears of every
 * change, so it answers only while its LISTEN connection is up: when that
 * connection is lost the cache is emptied and switched off until it is
 * listening again (and emptied again then, for what was missed meanwhile).
 * Any notified change empties the whole cache; keys change rarely.
 *
 * A read from the database races with a revocation: remember() takes the
 * generation from before the read and drops the entry when a change was
 * heard since, so a key revoked while it was being read is not kept.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, CachedKey & { expiresAt: number }>();
  private client: pg.Client | undefined;
  private listening = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private changes = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  /** When the listening connection last answered. */
  private confirmedAt = 0;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  /** True while the cache is trusted: its connection is listening. */
  get active(): boolean {
    return this.listening && Date.now() - this.confirmedAt <= TRUSTED_FOR_MS;
  }

  /** Pass to remember(): taken before reading a key from the database. */
  get generation(): number {
    return this.changes;
  }

  get(tokenHash: string): CachedKey | undefined {
    if (!this.active) return undefined;
    const entry = this.entries.get(tokenHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(tokenHash);
      return undefined;
    }
    return entry;
  }

  remember(generation: number, tokenHash: string, key: CachedKey): void {
    if (!this.active || generation !== this.changes) return;
    if (this.entries.size >= MAX_CACHED_KEYS) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(tokenHash, { ...key, expiresAt: Date.now() + CACHED_KEY_TTL_MS });
  }

  private forgetAll(): void {
    this.changes += 1;
    this.entries.clear();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'hookline-api-keys',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.listening = false;
      clearInterval(this.probeTimer);
      this.forgetAll();
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (!this.stopped) {
        this.logger.warn({ err: error }, 'API key listener lost its connection; authenticating from the database until it is back');
        this.scheduleReconnect();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.forgetAll());
    try {
      await client.connect();
      this.client = client;
      await client.query(`LISTEN ${API_KEY_CHANGES_CHANNEL}`);
    } catch (error) {
      this.client = undefined;
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn({ err: error }, 'API key listener could not connect; authenticating from the database meanwhile');
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || this.client !== client) {
      await client.end().catch(() => undefined);
      return;
    }
    this.failures = 0;
    // Changes made while nobody listened were not heard.
    this.forgetAll();
    this.confirmedAt = Date.now();
    this.listening = true;
    this.probeTimer = setInterval(() => void this.probe(client, lost), PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  private async probe(client: pg.Client, lost: (error?: Error) => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query(PROBE_SQL),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the API key listener did not answer its probe')), PROBE_TIMEOUT_MS);
        }),
      ]);
      if (this.client === client) this.confirmedAt = Date.now();
    } catch (error) {
      lost(error as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  private scheduleReconnect(): void {
    this.failures += 1;
    const delayMs = Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6));
    this.retryTimer = setTimeout(() => void this.connect(), delayMs);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listening = false;
    clearInterval(this.probeTimer);
    this.forgetAll();
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
    }
  }
}

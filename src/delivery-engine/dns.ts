import { readFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Host name resolution for deliveries, with its own deadline. `dns.lookup`
 * (getaddrinfo) runs on libuv's four threads, so four hanging names would
 * stall every other lookup and file operation of the process. This asks
 * the DNS servers directly (c-ares, no thread pool) with a timeout and a
 * bounded number of tries, after /etc/hosts, which c-ares does not read.
 * Answers are cached for their TTL (bounded), so a busy endpoint costs no
 * lookup per delivery.
 */
export interface DnsOptions {
  /** Milliseconds until a lookup fails, whatever the servers do. */
  timeoutMs: number;
  /** DNS servers (`host` or `host:port`); the system's when unset. */
  servers?: string[];
  /** The hosts file; `/etc/hosts` when unset. */
  hostsFile?: string;
}

export class DnsTimeoutError extends Error {
  readonly code = 'EAI_AGAIN';

  constructor(hostname: string, timeoutMs: number) {
    super(`DNS lookup of ${hostname} timed out after ${timeoutMs} ms`);
    this.name = 'DnsTimeoutError';
  }
}

const MAX_CACHE_SECONDS = 60;
const MAX_CACHE_ENTRIES = 10_000;
const HOSTS_REFRESH_MS = 30_000;

export class DeliveryDns {
  private readonly resolver: Resolver;
  private readonly cache = new Map<string, { addresses: LookupAddress[]; expires: number }>();
  private hosts: { entries: Map<string, LookupAddress[]>; read: number } | undefined;

  constructor(private readonly options: DnsOptions) {
    // Each try waits at most a third of the deadline; the deadline below bounds the whole lookup anyway.
    this.resolver = new Resolver({ timeout: Math.max(1, Math.floor(options.timeoutMs / 3)), tries: 2 });
    if (options.servers) this.resolver.setServers(options.servers);
  }

  /** Every address of the name (IPv4 and IPv6), or an error with a DNS error code. */
  async resolve(hostname: string, options: LookupOptions = {}): Promise<LookupAddress[]> {
    const family = typeof options.family === 'number' ? options.family : options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : 0;
    const literal = isIP(hostname);
    if (literal) return [{ address: hostname, family: literal }];
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const fromHosts = (await this.hostsEntries()).get(name);
    const addresses = fromHosts ?? (await this.lookup(name));
    const wanted = family ? addresses.filter((a) => a.family === family) : addresses;
    if (wanted.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    return wanted;
  }

  private async lookup(name: string): Promise<LookupAddress[]> {
    const cached = this.cache.get(name);
    if (cached && cached.expires > Date.now()) return cached.addresses;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DnsTimeoutError(name, this.options.timeoutMs)), this.options.timeoutMs);
    });
    try {
      const [v4, v6] = await Promise.race([
        Promise.all([
          this.answers(() => this.resolver.resolve4(name, { ttl: true }), 4),
          this.answers(() => this.resolver.resolve6(name, { ttl: true }), 6),
        ]),
        deadline,
      ]);
      if (v4 instanceof Error && v6 instanceof Error) {
        // c-ares's own tries can give up just before the deadline: that is the same timeout to a caller.
        if ((v4 as NodeJS.ErrnoException).code === 'ETIMEOUT') throw new DnsTimeoutError(name, this.options.timeoutMs);
        throw v4;
      }
      const records = [...(Array.isArray(v4) ? v4 : []), ...(Array.isArray(v6) ? v6 : [])];
      const addresses = records.map((r) => ({ address: r.address, family: r.family }));
      const ttl = Math.min(MAX_CACHE_SECONDS, ...records.map((r) => r.ttl));
      if (addresses.length > 0 && ttl > 0) {
        if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(name, { addresses, expires: Date.now() + ttl * 1000 });
      }
      return addresses;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The records of one family, or the error; a name with no record of a family (ENODATA) has none. */
  private async answers(
    query: () => Promise<Array<{ address: string; ttl: number }>>,
    family: 4 | 6,
  ): Promise<Array<{ address: string; ttl: number; family: 4 | 6 }> | Error> {
    try {
      return (await query()).map((r) => ({ ...r, family }));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENODATA') return [];
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private async hostsEntries(): Promise<Map<string, LookupAddress[]>> {
    if (this.hosts && Date.now() - this.hosts.read < HOSTS_REFRESH_MS) return this.hosts.entries;
    const text = await readFile(this.options.hostsFile ?? '/etc/hosts', 'utf8').catch(() => '');
    const entries = parseHosts(text);
    if (!entries.has('localhost')) {
      entries.set('localhost', [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ]);
    }
    this.hosts = { entries, read: Date.now() };
    return entries;
  }
}

/** The name-to-addresses map of a hosts file. */
export function parseHosts(text: string): Map<string, LookupAddress[]> {
  const entries = new Map<string, LookupAddress[]>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = address ? isIP(address) : 0;
    if (!family) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const list = entries.get(key) ?? [];
      if (!list.some((a) => a.address === address)) list.push({ address: address!, family });
      entries.set(key, list);
    }
  }
  return entries;
}

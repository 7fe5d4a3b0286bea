import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryDns, DnsTimeoutError, parseHosts } from '../../src/delivery-engine/dns.js';
import { DeliveryHttpClient } from '../../src/delivery-engine/http-client.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

/** A DNS server that reads every query and never answers. */
async function blackHoleDns(): Promise<{ address: string; queries: () => number; close: () => Promise<void> }> {
  const socket: Socket = createSocket('udp4');
  let queries = 0;
  socket.on('message', () => (queries += 1));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  return { address: `127.0.0.1:${port}`, queries: () => queries, close: () => new Promise((r) => socket.close(() => r())) };
}

describe('endpoint DNS with its own deadline', () => {
  let dns: Awaited<ReturnType<typeof blackHoleDns>>;
  let dir: string;
  let hostsFile: string;
  let receiver: Receiver;

  beforeAll(async () => {
    dns = await blackHoleDns();
    dir = await mkdtemp(join(tmpdir(), 'hookline-dns-'));
    hostsFile = join(dir, 'hosts');
    await writeFile(hostsFile, '127.0.0.1 localhost receiver.test # the receiver\n::1 localhost\n');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await dns?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails a lookup that the server never answers at its deadline, with a DNS error code', async () => {
    const resolver = new DeliveryDns({ timeoutMs: 300, servers: [dns.address], hostsFile });
    const failure = await resolver.resolve('hangs.example.com').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DnsTimeoutError);
    expect((failure as DnsTimeoutError).code).toBe('EAI_AGAIN');
    expect(dns.queries()).toBeGreaterThan(0);
  });

  it('answers hosts-file names and IP literals while other lookups hang', async () => {
    const resolver = new DeliveryDns({ timeoutMs: 2_000, servers: [dns.address], hostsFile });
    // More hanging lookups than libuv has threads: none of them may hold up the rest.
    const hanging = Array.from({ length: 8 }, (_, i) => resolver.resolve(`hang-${i}.example.com`).catch((e: unknown) => e));
    let hangingSettled = false;
    void Promise.all(hanging).then(() => (hangingSettled = true));
    expect(await resolver.resolve('receiver.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await resolver.resolve('localhost', { family: 6 })).toEqual([{ address: '::1', family: 6 }]);
    expect(await resolver.resolve('10.1.2.3')).toEqual([{ address: '10.1.2.3', family: 4 }]);
    expect(hangingSettled).toBe(false);
    for (const failure of await Promise.all(hanging)) expect(failure).toBeInstanceOf(DnsTimeoutError);
  });

  it('lets the delivery client reach other hosts while one host name hangs', async () => {
    const resolver = new DeliveryDns({ timeoutMs: 1_500, servers: [dns.address], hostsFile });
    const client = new DeliveryHttpClient({ timeoutMs: 5_000, allowPrivate: true, userAgent: 'test', resolve: (h, o) => resolver.resolve(h, o) });
    try {
      const port = new URL(receiver.url).port;
      const stuck = Array.from({ length: 6 }, () => client.send({ url: `http://hangs.example.com:${port}/x`, headers: {}, body: '{}' }));
      let stuckSettled = false;
      void Promise.all(stuck).then(() => (stuckSettled = true));
      const ok = await client.send({ url: `http://receiver.test:${port}/ok`, headers: {}, body: '{}' });
      expect(ok).toMatchObject({ status: 200, errorCode: null });
      expect(stuckSettled).toBe(false);
      for (const result of await Promise.all(stuck)) expect(result).toMatchObject({ status: null, errorCode: 'dns' });
    } finally {
      await client.close();
    }
  });

  it('reads a hosts file', () => {
    const hosts = parseHosts('# comment\n127.0.0.1\tlocalhost  Box.local\n::1 localhost\nnot-an-ip name\n');
    expect(hosts.get('box.local')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(hosts.get('localhost')).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(hosts.has('name')).toBe(false);
  });
});

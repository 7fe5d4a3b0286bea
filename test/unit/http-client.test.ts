import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryHttpClient, blockingLookup, type HostResolver } from '../../src/delivery-engine/http-client.js';

interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  origin: string;
  port: number;
  requests: ReceivedRequest[];
  connections: number;
  /** Resolves when every connection the server accepted has closed. */
  allClosed(): Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1, port 0, that records each request before the handler answers it. */
async function startServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((req, res) => {
    // The client drops connections on purpose (byte cap, deadline); that is not a test failure.
    req.on('error', () => {});
    res.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    async allClosed() {
      // Not events.once: it rejects on the 'error' (ECONNRESET) that comes before 'close'.
      const open = [...sockets].filter((s) => !s.closed);
      await Promise.all(open.map((s) => new Promise((resolve) => s.once('close', resolve))));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server that only counts connections, to prove that the client never connected. */
async function startTcpCounter(host: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server: TcpServer = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const USER_AGENT = 'Hookline/9.8.7';
const payload = JSON.stringify({ event: 'invoices.paid', data: { invoiceId: 'INV1' } });
const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'x-custom': 'yes' };

/** Elapsed wall time of an async call, for the deadline tests. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, elapsedMs: performance.now() - start };
}

describe('DeliveryHttpClient with private addresses allowed', () => {
  const clients: DeliveryHttpClient[] = [];
  const servers: TestServer[] = [];
  function client(options: Partial<ConstructorParameters<typeof DeliveryHttpClient>[0]> = {}) {
    const c = new DeliveryHttpClient({ timeoutMs: 5_000, allowPrivate: true, userAgent: USER_AGENT, ...options });
    clients.push(c);
    return c;
  }
  async function server(handler: Parameters<typeof startServer>[0]) {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  }
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('POSTs the body and headers and returns a 200 with its body', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
    const result = await client().send({
      url: `${s.origin}/hooks/in?tenant=7#fragment`,
      headers: { ...headers, 'User-Agent': 'spoofed/1.0' },
      body: payload,
    });
    expect(result).toMatchObject({ status: 200, body: 'thanks', error: null, errorCode: null, retryAfter: null });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(s.requests).toHaveLength(1);
    const [received] = s.requests;
    expect(received!.method).toBe('POST');
    expect(received!.url).toBe('/hooks/in?tenant=7');
    expect(received!.body).toBe(payload);
    expect(received!.headers['user-agent']).toBe(USER_AGENT);
    expect(received!.headers['content-type']).toBe('application/json');
    expect(received!.headers['webhook-id']).toBe('msg_1');
    expect(received!.headers['x-custom']).toBe('yes');
    expect(received!.headers['content-length']).toBe(String(Buffer.byteLength(payload)));
  });

  it("without a userAgent of its own, sends the request's User-Agent as it is", async () => {
    const s = await server((_req, res) => {
      res.writeHead(200).end();
    });
    const c = new DeliveryHttpClient({ timeoutMs: 5_000, allowPrivate: true });
    clients.push(c);
    await c.send({ url: `${s.origin}/hooks`, headers: { ...headers, 'user-agent': 'Hookline/1.2.3' }, body: payload });
    expect(s.requests[0]!.headers['user-agent']).toBe('Hookline/1.2.3');
  });

  it('returns an empty body as an empty string', async () => {
    const s = await server((_req, res) => {
      res.writeHead(204).end();
    });
    expect(await client().send({ url: s.origin, headers, body: payload })).toMatchObject({ status: 204, body: '', error: null });
  });

  it.each([500, 410, 400])('returns a %i as a response, not an error', async (status) => {
    const s = await server((_req, res) => {
      res.writeHead(status).end(`status ${status}`);
    });
    const result = await client().send({ url: s.origin, headers, body: payload });
    expect(result).toMatchObject({ status, body: `status ${status}`, error: null, errorCode: null });
  });

  it('does not follow a redirect', async () => {
    const s = await server((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end('followed');
    });
    const result = await client().send({ url: `${s.origin}/start`, headers, body: payload });
    expect(result).toMatchObject({ status: 302, error: null });
    expect(s.requests.map((r) => r.url)).toEqual(['/start']);
  });

  it('captures Retry-After', async () => {
    const s = await server((_req, res) => {
      res.writeHead(429, { 'retry-after': '7' }).end('slow down');
    });
    expect(await client().send({ url: s.origin, headers, body: payload })).toMatchObject({ status: 429, retryAfter: '7' });
  });

  it('keeps the connection alive between attempts', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200).end('ok');
    });
    const c = client();
    await c.send({ url: s.origin, headers, body: payload });
    // undici marks the connection idle just after the body ends; a worker always has other work in between.
    await new Promise(setImmediate);
    await c.send({ url: s.origin, headers, body: payload });
    expect(s.requests).toHaveLength(2);
    expect(s.connections).toBe(1);
  });

  it('gives up at the deadline when the server never answers', async () => {
    const s = await server(() => {
      // Never answers.
    });
    const { value, elapsedMs } = await timed(() => client({ timeoutMs: 300 }).send({ url: s.origin, headers, body: payload }));
    expect(value).toMatchObject({ status: null, body: null, errorCode: 'timeout', error: 'timeout after 300 ms' });
    expect(elapsedMs).toBeGreaterThanOrEqual(290);
    expect(elapsedMs).toBeLessThan(3_000);
    expect(value.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('applies the deadline to the whole response, even to a body that keeps trickling', async () => {
    const timers: NodeJS.Timeout[] = [];
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      // A byte every 50 ms: an idle timer between chunks never fires.
      timers.push(setInterval(() => res.write('b'), 50));
    });
    try {
      const { value, elapsedMs } = await timed(() => client({ timeoutMs: 300 }).send({ url: s.origin, headers, body: payload }));
      expect(value.status).toBeNull();
      expect(value.errorCode).toBe('timeout');
      expect(value.error).toBe('timeout after 300 ms (status 200 received, response body incomplete)');
      expect(elapsedMs).toBeGreaterThanOrEqual(290);
      expect(elapsedMs).toBeLessThan(3_000);
    } finally {
      timers.forEach(clearInterval);
    }
  });

  it('reads only 4096 bytes of a huge response and drops the connection', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let bytesWritten = 0;
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Endless: writes until the client goes away.
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) bytesWritten += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const { value, elapsedMs } = await timed(() => client({ timeoutMs: 10_000 }).send({ url: s.origin, headers, body: payload }));
    expect(value).toMatchObject({ status: 200, error: null, errorCode: null });
    expect(value.body).toBe('x'.repeat(4096));
    expect(elapsedMs).toBeLessThan(5_000);
    await s.allClosed();
    expect(bytesWritten).toBeLessThan(100 * 1024 * 1024);
  });

  it('keeps a configurable number of bytes without splitting a character', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ééééé');
    });
    // 'é' is two bytes: a 5-byte cap holds two whole characters and half of the third.
    expect((await client({ maxResponseBytes: 5 }).send({ url: s.origin, headers, body: payload })).body).toBe('éé');
  });

  it('keeps a body that is exactly at the cap', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200).end('y'.repeat(4096));
    });
    expect((await client().send({ url: s.origin, headers, body: payload })).body).toBe('y'.repeat(4096));
  });

  it('replaces NUL bytes, which PostgreSQL text cannot store', async () => {
    const s = await server((_req, res) => {
      res.writeHead(500).end(Buffer.from([0x61, 0x00, 0x62]));
    });
    expect((await client().send({ url: s.origin, headers, body: payload })).body).toBe('a\uFFFDb');
  });

  it('reports a refused connection', async () => {
    const s = await startServer(() => undefined);
    await s.close();
    const result = await client().send({ url: `http://127.0.0.1:${s.port}/`, headers, body: payload });
    expect(result).toMatchObject({ status: null, body: null, errorCode: 'connection_refused', error: 'connection refused' });
  });

  it('reports a connection the server drops', async () => {
    const s = await server((req) => {
      req.socket.destroy();
    });
    const result = await client().send({ url: s.origin, headers, body: payload });
    expect(result.status).toBeNull();
    expect(result.errorCode).toBe('connection_reset');
    expect(result.error).toMatch(/^connection (reset|closed by the server)$/);
  });

  it('reports a body the server cuts off before its end, keeping none of it', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => res.socket?.destroy());
    });
    const result = await client().send({ url: s.origin, headers, body: payload });
    expect(result).toMatchObject({ status: null, body: null, errorCode: 'connection_reset' });
    expect(result.error).toMatch(/\(status 200 received, response body incomplete\)$/);
  });

  it('reports a TLS failure', async () => {
    // A plain HTTP server cannot complete a TLS handshake.
    const s = await server((_req, res) => {
      res.writeHead(200).end();
    });
    const result = await client().send({ url: `https://127.0.0.1:${s.port}/`, headers, body: payload });
    expect(result).toMatchObject({ status: null, errorCode: 'tls' });
    expect(result.error).toMatch(/^TLS error/);
    expect(result.error).not.toContain('\n');
  });

  it('reports a name that does not resolve', async () => {
    // .invalid never resolves (RFC 6761).
    const result = await client({ timeoutMs: 10_000 }).send({ url: 'http://hookline-test.invalid/', headers, body: payload });
    expect(result).toMatchObject({ status: null, errorCode: 'dns', error: 'host hookline-test.invalid not found' });
  });

  it('never throws, not even for a bad URL', async () => {
    const c = client();
    expect(await c.send({ url: 'not a url', headers, body: payload })).toMatchObject({ errorCode: 'other', error: 'invalid URL' });
    expect(await c.send({ url: 'ftp://example.com/', headers, body: payload })).toMatchObject({
      errorCode: 'other',
      error: 'unsupported URL scheme ftp:',
    });
    const bad = await c.send({ url: 'http://127.0.0.1:9/', headers: { 'bad header': 'x' }, body: payload });
    expect(bad.errorCode).toBe('other');
    expect(bad.error).not.toMatch(/\n\s+at /);
  });
});

describe('DeliveryHttpClient with private addresses refused', () => {
  let counter: Awaited<ReturnType<typeof startTcpCounter>>;
  let client: DeliveryHttpClient;
  beforeAll(async () => {
    counter = await startTcpCounter('127.0.0.1');
    client = new DeliveryHttpClient({ timeoutMs: 2_000, allowPrivate: false, userAgent: USER_AGENT });
  });
  afterAll(async () => {
    await client.close();
    await counter.close();
  });

  it.each([
    ['a loopback literal', (port: number) => `https://127.0.0.1:${port}/hook`, 'blocked address 127.0.0.1'],
    ['an IPv4-mapped IPv6 literal', (port: number) => `https://[::ffff:127.0.0.1]:${port}/hook`, 'blocked address ::ffff:7f00:1'],
    [
      'a name that resolves to loopback',
      (port: number) => `https://localhost:${port}/hook`,
      'blocked address: localhost resolves to a private or reserved address',
    ],
  ])('refuses %s before connecting', async (_what, url, message) => {
    const result = await client.send({ url: url(counter.port), headers, body: payload });
    expect(result).toMatchObject({ status: null, body: null, errorCode: 'blocked_address' });
    expect(result.error).toMatch(message);
    expect(counter.connections()).toBe(0);
  });

  it('refuses plain http', async () => {
    const result = await client.send({ url: `http://127.0.0.1:${counter.port}/hook`, headers, body: payload });
    expect(result).toMatchObject({ status: null, errorCode: 'blocked_address', error: 'plain http refused: https required' });
    expect(counter.connections()).toBe(0);
  });
});

describe('blockingLookup', () => {
  const answers: Record<string, Array<{ address: string; family: number }>> = {
    'public.example': [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ],
    'private.example': [{ address: '10.0.0.5', family: 4 }],
    'rebind.example': [
      { address: '93.184.215.14', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ],
    'mapped.example': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'empty.example': [],
  };
  const resolver: HostResolver = async (hostname) => {
    const found = answers[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  const lookup = blockingLookup(resolver);
  function resolve(hostname: string, all: boolean) {
    return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((done) =>
      lookup(hostname, { all }, (err, address, family) => done({ err, address, family })),
    );
  }

  it('passes public addresses through, in both calling conventions', async () => {
    expect(await resolve('public.example', true)).toMatchObject({ err: null, address: answers['public.example'] });
    expect(await resolve('public.example', false)).toMatchObject({ err: null, address: '93.184.215.14', family: 4 });
  });

  it.each([
    ['private.example', 'blocked address: private.example resolves to a private or reserved address'],
    ['rebind.example', 'blocked address: rebind.example resolves to a private or reserved address'],
    ['mapped.example', 'blocked address: mapped.example resolves to a private or reserved address'],
  ])('refuses %s', async (hostname, message) => {
    const { err } = await resolve(hostname, true);
    expect(err?.message).toBe(message);
    expect(err?.name).toBe('BlockedDestinationError');
  });

  it('passes resolver errors on and treats no answer as not found', async () => {
    expect((await resolve('missing.example', true)).err?.code).toBe('ENOTFOUND');
    expect((await resolve('empty.example', true)).err?.code).toBe('ENOTFOUND');
  });
});

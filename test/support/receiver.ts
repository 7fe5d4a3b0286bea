import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A real webhook endpoint for the delivery tests (svix TestReceiver): it
 * records every request, verifies its signature with the official Standard
 * Webhooks library as any receiver would, and answers as the test programs it.
 * The benchmark runs the same server with `onRequest` instead, which neither
 * keeps nor verifies each request but hands it to its own accounting.
 */

/** A request as it arrived, before anything was checked. */
export interface ArrivedRequest {
  method: string;
  /** Path and query string. */
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as UTF-8 text: what was signed. */
  body: string;
  rawBody: Buffer;
  receivedAt: Date;
}

export interface ReceivedRequest extends ArrivedRequest {
  /** 1 for the first request since start or reset(). */
  n: number;
  /** The signature verified against at least one of the secrets set when the request arrived. */
  verified: boolean;
  /** Why verification failed with each secret (or that no secret was set); null when verified. */
  verificationError: string | null;
}

export interface ReceiverResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (to provoke the sender's timeout). */
  delayMs?: number;
}

export type Responder = (request: ReceivedRequest, n: number) => ReceiverResponse | Promise<ReceiverResponse>;

export interface Receiver {
  /** http://127.0.0.1:<port>, no trailing slash: subscribe `${url}/some-path` to tell subscriptions apart by path. */
  url: string;
  /** The port of `url`. */
  port: number;
  /** Every request since start or reset(), in order of arrival. The same array throughout. */
  readonly requests: readonly ReceivedRequest[];
  /** The whsec_ secret(s) that later requests are verified against; any one verifying is enough. */
  setSecrets(secrets: string | readonly string[]): void;
  respondWith(responder: Responder): void;
  /** Resolves with the requests once at least `count` have arrived since start or reset(). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Forgets the requests and answers 200 again; keeps the secrets. */
  reset(): void;
  close(): Promise<void>;
}

const defaultResponder: Responder = () => ({ status: 200, body: 'ok' });

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Why the signature does not verify with any of the secrets, or null when one verifies it. */
export function verifySignature(secrets: readonly string[], rawBody: Buffer, headers: Record<string, string>): string | null {
  if (secrets.length === 0) return 'no secret set on the receiver';
  const failures: string[] = [];
  for (const secret of secrets) {
    try {
      // jsonParse false: XML bodies are signed too, and verify() would otherwise fail to parse them.
      new Webhook(secret).verify(rawBody, headers, { jsonParse: false });
      return null;
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  return failures.join('; ');
}

export interface ReceiverOptions {
  /** The whsec_ secret(s) that requests are verified against, as with setSecrets(). */
  secret?: string | readonly string[];
  /**
   * Instead of keeping and verifying each request, answer it 200 at once and
   * hand it here: for a caller that sees more requests than memory holds and
   * verifies only a sample, with verifySignature() (the benchmark).
   * `requests` then stays empty, and waitFor() and respondWith() have no effect.
   */
  onRequest?: (request: ArrivedRequest) => void;
  /** How long an idle connection is kept open (Node's default is 5 s). */
  keepAliveTimeoutMs?: number;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let secrets: readonly string[] = toList(options.secret);
  let responder: Responder = defaultResponder;
  const waiters = new Set<{ count: number; resolve: (r: ReceivedRequest[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const delays = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  function toList(value: string | readonly string[] | undefined): readonly string[] {
    if (value === undefined) return [];
    return typeof value === 'string' ? [value] : [...value];
  }

  function notify() {
    for (const waiter of waiters) {
      if (requests.length >= waiter.count) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve([...requests]);
      }
    }
  }

  async function answer(res: ServerResponse, request: ReceivedRequest) {
    let response: ReceiverResponse;
    try {
      response = await responder(request, request.n);
    } catch (err) {
      response = { status: 500, body: `receiver responder failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (response.delayMs && response.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          delays.delete(timer);
          resolve();
        }, response.delayMs);
        delays.add(timer);
      });
    }
    // The sender may have given up during the delay.
    if (res.destroyed) return;
    res.writeHead(response.status, response.headers).end(response.body ?? '');
  }

  const server = createServer((req, res) => {
    // The sender drops connections on purpose (timeouts, byte cap); that is not a receiver failure.
    req.on('error', () => {});
    res.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const arrived: ArrivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: flattenHeaders(req.headers),
        body: rawBody.toString('utf8'),
        rawBody,
        receivedAt: new Date(),
      };
      if (options.onRequest) {
        res.writeHead(200, { 'content-length': '0' }).end();
        options.onRequest(arrived);
        return;
      }
      const verificationError = verifySignature(secrets, rawBody, arrived.headers);
      const request: ReceivedRequest = { ...arrived, n: requests.length + 1, verified: verificationError === null, verificationError };
      requests.push(request);
      notify();
      void answer(res, request);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setSecrets(value) {
      secrets = toList(value);
    },
    respondWith(fn) {
      responder = fn;
    },
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve([...requests]);
      return new Promise((resolve, reject) => {
        const waiter = {
          count,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`receiver: expected ${count} request(s) within ${timeoutMs} ms, got ${requests.length}`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    reset() {
      requests.length = 0;
      responder = defaultResponder;
    },
    async close() {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`receiver: closed while waiting for ${waiter.count} request(s), got ${requests.length}`));
      }
      waiters.clear();
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

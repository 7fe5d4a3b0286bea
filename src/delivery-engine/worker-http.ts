import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { METRICS_UNAUTHORIZED, metricsAuthorization } from '../metrics/token.js';

/** Every response: never sniffed into another type, never cached. */
const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };

/**
 * A worker process's own HTTP port: /healthz (the process is up), /readyz
 * (the database answers; 503 otherwise) and /metrics (Prometheus, behind
 * HOOKLINE_METRICS_TOKEN when it is set, as the API's). Plain node:http: a
 * worker carries no GraphQL or Express stack.
 */
export class WorkerHttpServer {
  private server: Server | undefined;
  private readonly metricsAuthorized: (header: string | undefined) => boolean;

  constructor(private readonly deps: { db: DataSource; metrics: Metrics; logger: Logger; ready: () => boolean; metricsToken?: string | undefined }) {
    this.metricsAuthorized = metricsAuthorization(deps.metricsToken);
  }

  /** Listens on the port (0 picks one) at the address (every interface when unset); resolves to the port in use. */
  async start(port: number, address?: string): Promise<number> {
    const server = createServer((req, res) => {
      void this.handle(req.method ?? 'GET', (req.url ?? '/').split('?', 1)[0]!, req.headers.authorization)
        .then(({ status, type, body, headers }) => {
          res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, ...headers });
          res.end(body);
        })
        .catch((error: unknown) => {
          this.deps.logger.error({ err: error }, 'worker http request failed');
          res.writeHead(500, { ...COMMON_HEADERS, 'content-type': 'text/plain' });
          res.end('internal error\n');
        });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  private async handle(
    method: string,
    path: string,
    authorization: string | undefined,
  ): Promise<{ status: number; type: string; body: string; headers?: Record<string, string> }> {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, type: 'text/plain', body: 'method not allowed\n' };
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      if (!this.deps.ready()) return json(503, { status: 'unavailable', checks: { worker: 'stopping' } });
      const database = await Promise.race([
        this.deps.db.query('SELECT 1').then(
          () => 'ok',
          () => 'unavailable',
        ),
        new Promise<string>((r) => setTimeout(() => r('unavailable'), 2_000).unref()),
      ]);
      return json(database === 'ok' ? 200 : 503, { status: database === 'ok' ? 'ok' : 'unavailable', checks: { database } });
    }
    if (path === '/metrics') {
      if (!this.metricsAuthorized(authorization)) return { ...json(401, METRICS_UNAUTHORIZED), headers: { 'www-authenticate': 'Bearer' } };
      const { registry } = this.deps.metrics;
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    }
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function json(status: number, value: unknown) {
  return { status, type: 'application/json', body: `${JSON.stringify(value)}\n` };
}

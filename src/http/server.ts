import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import express, { type ErrorRequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import type { ApiSettings } from '../config.js';
import { MAX_REQUEST_BYTES } from '../events/limits.js';
import { admitRequest, createContext, type GraphQLContext } from '../graphql/context.js';
import { createErrorFormatter } from '../graphql/errors.js';
import { keyCheckPlugin } from '../graphql/key-check.js';
import { operationLimitsPlugin, parseOptions, queryLimitRules } from '../graphql/limits.js';
import { RequestRateLimiter } from '../graphql/rate-limit.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services.js';
import { apolloHandler } from './apollo-handler.js';
import { ideRouter } from './ide.js';
import type { Metrics } from '../metrics/metrics.js';
import { consoleRouter } from './console.js';
import { jsonBody } from './json-body.js';
import { securityHeaders } from './security-headers.js';
import { metricsHandler } from './metrics-route.js';

export interface HttpServerDeps {
  schema: GraphQLSchema;
  services: Services;
  db: DataSource;
  boss: PgBoss;
  metrics: Metrics;
  logger: Logger;
  settings: ApiSettings;
}

const READY_TIMEOUT_MS = 2_000;

export class HttpServer {
  private server: Server | undefined;
  private metricsServer: Server | undefined;
  private apollo: ApolloServer<GraphQLContext> | undefined;

  constructor(private readonly deps: HttpServerDeps) {}

  /** Listens on the port (0 picks one) at settings.bindAddress and resolves to the port in use. */
  async start(port: number): Promise<number> {
    const { schema, services, metrics, logger, settings } = this.deps;
    const app = express();
    app.disable('x-powered-by');
    // Answers built with res.send (GraphQL's, the health checks') are never asked for conditionally, so
    // hashing each body for an ETag is wasted; the static files keep theirs (express.static, sendFile).
    app.disable('etag');
    // req.ip, which the per-address rate limit counts, is the peer unless proxies are declared.
    app.set('trust proxy', settings.trustProxyHops);
    app.use(securityHeaders());
    const server = createServer(app);
    this.server = server;

    const apollo = new ApolloServer<GraphQLContext>({
      schema,
      introspection: true,
      includeStacktraceInErrorResponses: false,
      // Hookline's own shutdown stops Apollo in order; Apollo's handler would re-raise the signal.
      stopOnTerminationSignals: false,
      formatError: createErrorFormatter(logger),
      parseOptions,
      validationRules: queryLimitRules(),
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer: server }),
        ApolloServerPluginLandingPageDisabled(),
        operationLimitsPlugin(),
        keyCheckPlugin(),
        metrics.apolloPlugin(),
      ],
    });
    this.apollo = apollo;
    await apollo.start();

    const rateLimiter = new RequestRateLimiter(this.deps.db, settings, logger, (by) => metrics.rateLimited.inc({ by }));
    const graphql = [
      // Key and rate limit first: a request over its limit is refused before its body is read or inflated.
      admitRequest({ services, rateLimiter }),
      jsonBody(MAX_REQUEST_BYTES),
      apolloHandler(apollo, createContext({ services })),
    ];
    // A POST to /graphql, nearly every request, goes to Apollo before Express walks the routes of the pages.
    app.post('/graphql', ...graphql);
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const problems = await this.readinessProblems();
      res.status(problems.length ? 503 : 200).json({ status: problems.length ? 'unavailable' : 'ok', problems });
    });
    if (settings.metricsPort === undefined) {
      app.get('/metrics', metricsHandler(metrics, settings.metricsToken));
    } else {
      this.metricsServer = await this.startMetricsServer(settings.metricsPort, settings.metricsBindAddress);
    }
    app.use(ideRouter(settings.frameAncestors));
    app.use(consoleRouter(services.portal, { frameAncestors: settings.frameAncestors }));
    // The rest of /graphql: GET queries (a browser's GET gets the IDE above) and other methods, which Apollo refuses.
    app.use('/graphql', ...graphql);
    app.use(requestErrorHandler(logger));

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, settings.bindAddress, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** The port /metrics is served on when it has its own; undefined otherwise. */
  get metricsPort(): number | undefined {
    return (this.metricsServer?.address() as AddressInfo | null)?.port;
  }

  private async startMetricsServer(port: number, host: string | undefined): Promise<Server> {
    const app = express();
    app.disable('x-powered-by');
    app.use(securityHeaders());
    app.get('/metrics', metricsHandler(this.deps.metrics, this.deps.settings.metricsToken));
    const server = createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }

  /** Empty when the database and the queue answer; otherwise what does not. */
  async readinessProblems(): Promise<string[]> {
    const check = async (name: string, probe: () => Promise<unknown>): Promise<string | undefined> => {
      try {
        await withTimeout(probe(), READY_TIMEOUT_MS);
        return undefined;
      } catch {
        return `${name} unreachable`;
      }
    };
    const results = await Promise.all([
      check('database', () => this.deps.db.query('SELECT 1')),
      check('queue', () => this.deps.boss.getQueue('maintenance')),
    ]);
    return results.filter((r): r is string => r !== undefined);
  }

  async stop(): Promise<void> {
    // Apollo's drain plugin closes the HTTP server and waits for requests in flight.
    await this.apollo?.stop();
    this.apollo = undefined;
    const metricsServer = this.metricsServer;
    this.metricsServer = undefined;
    if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    this.server = undefined;
  }
}

/**
 * Errors of the HTTP layer itself (a body that is not JSON or is too large)
 * answered as a GraphQL error, not as Express's HTML page with its stack.
 */
function requestErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : 500;
    if (status === 413) {
      // Refused like any input of a GraphQL call, naming the body; nothing of it was read, so nothing is stored.
      const message = `The request body is over ${MAX_REQUEST_BYTES} bytes; send fewer events per publishEvents call`;
      res.status(413).json({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT', fields: [{ field: 'body', message }] } }] });
      return;
    }
    if (status >= 500) logger.error({ err: error }, 'unexpected error in an HTTP request');
    const message = status === 400 ? 'The request body is not valid JSON' : status < 500 ? 'The request is invalid' : 'Internal server error';
    const code = status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
    res.status(status < 500 ? status : 500).json({ errors: [{ message, extensions: { code } }] });
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

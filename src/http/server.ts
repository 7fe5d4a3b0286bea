import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { AppError } from '../errors.js';
import { bearerToken } from '../graphql/auth.js';
import type { GraphQLContext } from '../graphql/context.js';
import { createErrorFormatter } from '../graphql/errors.js';
import type { Logger } from '../logger.js';
import { authenticateBearer } from '../portal/authenticate.js';
import type { Services } from '../services.js';
import { ideRouter } from './ide.js';
import { consoleRouter } from './console.js';
import type { Metrics } from '../metrics/metrics.js';

export interface HttpServerDeps {
  schema: GraphQLSchema;
  services: Services;
  db: DataSource;
  boss: PgBoss;
  metrics: Metrics;
  logger: Logger;
}

const READY_TIMEOUT_MS = 2_000;

export class HttpServer {
  private server: Server | undefined;
  private apollo: ApolloServer<GraphQLContext> | undefined;

  constructor(private readonly deps: HttpServerDeps) {}

  /** Listens on the port (0 picks one) and resolves to the port in use. */
  async start(port: number, host?: string): Promise<number> {
    const { schema, services, metrics, logger } = this.deps;
    const app = express();
    app.disable('x-powered-by');
    const server = createServer(app);
    this.server = server;

    const apollo = new ApolloServer<GraphQLContext>({
      schema,
      introspection: true,
      includeStacktraceInErrorResponses: false,
      // Hookline's own shutdown stops Apollo in order; Apollo's handler would re-raise the signal.
      stopOnTerminationSignals: false,
      formatError: createErrorFormatter(logger),
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer: server }),
        ApolloServerPluginLandingPageDisabled(),
        metrics.apolloPlugin(),
      ],
    });
    this.apollo = apollo;
    await apollo.start();

    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const problems = await this.readinessProblems();
      res.status(problems.length ? 503 : 200).json({ status: problems.length ? 'unavailable' : 'ok', problems });
    });
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    app.use(ideRouter());
    app.use(consoleRouter(services.portal));
    app.use(
      '/graphql',
      express.json({ limit: '1mb' }),
      expressMiddleware(apollo, {
        context: async ({ req }): Promise<GraphQLContext> => {
          const origin = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
          const token = bearerToken(req.headers.authorization);
          if (!token) {
            const authError = req.headers.authorization
              ? new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>"')
              : null;
            return { services, principal: null, authError, origin };
          }
          try {
            return { services, principal: await authenticateBearer(services, token), authError: null, origin };
          } catch (error) {
            if (error instanceof AppError) return { services, principal: null, authError: error, origin };
            throw error;
          }
        },
      }),
    );

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
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
    this.server = undefined;
  }
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

import { startApp, type RunningApp, type Role } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { GraphQLClient, type GraphQLResult } from './graphql.js';

export type { GraphQLResult };

export interface TestApp {
  app: RunningApp;
  database: TestDatabase;
  config: Config;
  url: string;
  operatorToken: string;
  client: GraphQLClient;
  /** POSTs one GraphQL operation with the token as bearer. */
  gql<T = Record<string, unknown>>(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = Record<string, unknown>>(token: string, query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Tests fire requests far faster than a client should; the rate limit has its own test with low limits.
 * Every API process of a test's fleet is given these: processes count against one counter per key, each
 * taking shares of its own budget, so a process with the default budget beside them would be refused.
 */
export const TEST_RATE_LIMITS = { HOOKLINE_RATE_LIMIT_PER_KEY: '1000000', HOOKLINE_RATE_LIMIT_PER_ADDRESS: '1000000' };

/**
 * Hookline on its own fresh database, on a free port, as `hookline start`
 * runs it (migrations applied, workers unless role says otherwise).
 */
export async function startTestApp(options: { role?: Role; env?: Record<string, string> } = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    PORT: '0',
    HOOKLINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    HOOKLINE_WORKER_CONCURRENCY: '10',
    ...TEST_RATE_LIMITS,
    // The receivers these tests deliver to listen on 127.0.0.1; with a
    // DATABASE_URL, private endpoints are refused unless this says so.
    HOOKLINE_ALLOW_PRIVATE_URLS: 'true',
    ...options.env,
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const app = await startApp({ config, logger, role: options.role ?? 'all', migrate: true });
  const url = `http://127.0.0.1:${app.port}/graphql`;
  if (!app.operatorToken) throw new Error('a fresh database must bootstrap an operator token');

  const client = new GraphQLClient(url);

  return {
    app,
    database,
    config,
    url,
    operatorToken: app.operatorToken,
    client,
    gql: (token, query, variables) => client.request(token, query, variables),
    ok: (token, query, variables) => client.ok(token, query, variables),
    async stop() {
      await app.stop();
      await database.drop();
    },
  };
}

/** Creates an account through the API and returns its PRODUCTION admin token. */
export async function createAccount(t: TestApp, name = 'Acme Receivables'): Promise<{ accountId: string; adminToken: string }> {
  const data = await t.ok<{ createAccount: { account: { id: string }; adminToken: string } }>(
    t.operatorToken,
    'mutation($name: String!) { createAccount(name: $name) { account { id } adminToken } }',
    { name },
  );
  return { accountId: data.createAccount.account.id, adminToken: data.createAccount.adminToken };
}

/** Creates a key of the given role and environment with an admin token. */
export async function createKey(t: TestApp, adminToken: string, role: string, environment = 'PRODUCTION'): Promise<string> {
  const data = await t.ok<{ createApiKey: { token: string } }>(
    adminToken,
    'mutation($role: Role!, $env: Environment) { createApiKey(name: "test key", role: $role, environment: $env) { token } }',
    { role, env: environment },
  );
  return data.createApiKey.token;
}

import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { startApp, openDatabase, type Role } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDataSource, runMigrations } from './db/data-source.js';
import { createLogger, type Logger } from './logger.js';
import { AccountService } from './accounts/service.js';
import { startBoss } from './queue/boss.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

async function serve(role: Role, migrate: boolean): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const app = await startApp({ config, logger, role, migrate });
  if (app.port !== undefined) logger.info({ url: app.url }, 'GraphQL API listening');
  if (app.port !== undefined) logger.info({ url: app.url.replace(/\/graphql$/, '/console/') }, 'developer console');
  if (app.operatorToken) announceOperatorToken(app.url, app.operatorToken);
  stopOnSignals(logger, () => app.stop());
}

/** Printed once, on the start that created the key: only its hash is kept. */
function announceOperatorToken(url: string, token: string): void {
  process.stdout.write(
    [
      '',
      `  Hookline GraphQL API: ${url}`,
      `  Operator token (shown once, keep it): ${token}`,
      `  Try: curl -s ${url} -H 'content-type: application/json' \\`,
      `         -H 'authorization: Bearer ${token}' -d '{"query":"{ viewer { role } }"}'`,
      '',
      '',
    ].join('\n'),
  );
}

function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function migrate(): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const { url, embedded } = await openDatabase(config, logger);
  const db = createDataSource({ url, poolSize: 2 });
  try {
    await db.initialize();
    const applied = await runMigrations(db);
    logger.info({ migrations: applied }, applied.length ? 'migrations applied' : 'database is up to date');
    // pg-boss installs or upgrades its own schema on start.
    const boss = await startBoss({ url, logger, supervise: false });
    await boss.stop({ graceful: false });
    const token = await new AccountService(db).bootstrapOperator(config.bootstrapToken);
    if (token) announceOperatorToken(`http://localhost:${config.port}/graphql`, token);
  } finally {
    await db.destroy().catch(() => undefined);
    await embedded?.stop();
  }
}

async function emitSchema(file: string): Promise<void> {
  const { buildHooklineSchema, printHooklineSchema } = await import('./graphql/schema.js');
  await writeFile(file, printHooklineSchema(await buildHooklineSchema()));
  console.log(`wrote ${file}`);
}

const program = new Command()
  .name('hookline')
  .description('Webhook delivery for finance and ERP software: GraphQL API and delivery workers on PostgreSQL');
program
  .command('start')
  .description('API and workers in one process; applies migrations first (development and small installs)')
  .action(() => serve('all', true));
program
  .command('api')
  .description('the GraphQL API only (run `hookline migrate` first)')
  .action(() => serve('api', false));
program
  .command('worker')
  .description('the delivery workers only (run `hookline migrate` first)')
  .action(() => serve('worker', false));
program.command('migrate').description('apply database migrations and install the queue schema').action(migrate);
program
  .command('emit-schema')
  .description('write the GraphQL SDL that the resolvers define')
  .argument('[file]', 'output file', 'schema.graphql')
  .action(emitSchema);

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

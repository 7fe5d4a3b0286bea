import './runtime-check.js';
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { Command, type CommanderError } from 'commander';
import { startApp, openDatabase, type Role } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDataSource, runMigrations } from './db/data-source.js';
import { createLogger, resolveLogFormat, type Logger } from './logger.js';
import { AccountService } from './accounts/service.js';
import { startBoss } from './queue/boss.js';
import { StartupError, errorCode } from './startup-error.js';
import { resolveMasterKey } from './db/master-key.js';
import { SecretService } from './secrets/service.js';
import { AuditService } from './audit/service.js';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { DeadLetters } from './fanout/dead-letters.js';
import { DEFAULT_API_URL } from './cli/api-client.js';
import { EXIT } from './cli/errors.js';
import type { ListenFlags } from './cli/options.js';
import { DEFAULT_IDLE_EXPIRY_SECONDS, MAX_IDLE_EXPIRY_SECONDS, MIN_IDLE_EXPIRY_SECONDS } from './pull/outcome.js';
import type { TriggerFlags } from './cli/trigger.js';

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
  const logger = createLogger(config.logLevel, resolveLogFormat(config.logFormat));
  const app = await startApp({ config, logger, role, migrate });
  if (app.port !== undefined) logger.info({ url: app.url }, 'GraphQL API listening');
  if (app.port !== undefined) logger.info({ url: app.url.replace(/\/graphql$/, '/console/') }, 'developer console');
  if (app.operatorToken) announceOperatorToken(app.url, app.operatorToken, config);
  stopOnSignals(logger, () => app.stop());
}

/**
 * Printed once, on the start that created the key: only its hash is kept.
 * A token the operator gave in HOOKLINE_BOOTSTRAP_TOKEN is never printed:
 * they have it already, and the output goes wherever the logs are collected.
 */
function announceOperatorToken(url: string, token: string, config?: Config): void {
  if (config?.bootstrapToken !== undefined && token === config.bootstrapToken) {
    process.stdout.write(`\n  Hookline GraphQL API: ${url}\n  Operator key created with the token in HOOKLINE_BOOTSTRAP_TOKEN (not shown)\n\n`);
    return;
  }
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
  const logger = createLogger(config.logLevel, resolveLogFormat(config.logFormat));
  const { url, embedded } = await openDatabase(config, logger);
  const db = createDataSource({ url, poolSize: 2 });
  try {
    await db.initialize();
    const applied = await runMigrations(db, await resolveMasterKey(config));
    logger.info({ migrations: applied }, applied.length ? 'migrations applied' : 'database is up to date');
    // pg-boss installs or upgrades its own schema on start.
    const boss = await startBoss({ url, logger, supervise: false });
    await boss.stop({ graceful: false });
    const token = await new AccountService(db).bootstrapOperator(config.bootstrapToken);
    if (token) announceOperatorToken(`http://localhost:${config.port}/graphql`, token, config);
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

/**
 * Operator maintenance on a migrated database: a new operator token on
 * purpose (bootstrap mints one only once), and re-encryption of every
 * stored secret and header value under the current HOOKLINE_MASTER_KEY
 * (after rotating it, with the old key in HOOKLINE_MASTER_KEY_PREVIOUS).
 */
async function withDatabase(work: (db: ReturnType<typeof createDataSource>, config: Config, url: string) => Promise<void>): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const { url, embedded } = await openDatabase(config, logger);
  const db = createDataSource({ url, poolSize: 2 });
  try {
    await db.initialize();
    await work(db, config, url);
  } finally {
    await db.destroy().catch(() => undefined);
    await embedded?.stop();
  }
}

async function createOperatorToken(options: { name?: string }): Promise<void> {
  await withDatabase(async (db, config) => {
    const token = await new AccountService(db).createOperatorToken(options.name);
    announceOperatorToken(`http://localhost:${config.port}/graphql`, token);
  });
}

async function reencryptSecrets(): Promise<void> {
  await withDatabase(async (db, config) => {
    const keyring = await resolveMasterKey(config);
    const counts = await new SecretService(db, keyring).reencryptAll();
    console.log(
      `re-encrypted under key ${keyring.keyIds[0]}: ${counts.secrets} signing secrets, the headers of ${counts.subscriptions} subscriptions`,
    );
  });
}

/**
 * An account's audit log as JSON lines in canonical form (src/audit/canonical.ts),
 * both environments, each chain in order: for auditors, who can check the
 * chain with the derived key or keep the file as it was on that day.
 */
async function auditExport(options: { account: string; output?: string }): Promise<void> {
  await withDatabase(async (db, config) => {
    const keyring = await resolveMasterKey(config);
    const out = options.output ? createWriteStream(options.output, { flags: 'wx', mode: 0o600 }) : process.stdout;
    const write = async (line: string) => {
      if (!out.write(line + '\n')) await once(out, 'drain');
    };
    const count = await new AuditService(db, keyring.keys).export(options.account, write);
    if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    console.error(`exported ${count} audit entries of account ${options.account}`);
  });
}

/** The dead-letter queue of events, for an operator: list them with their reasons, or send them back. */
async function deadLetters(options: { redrive?: boolean; all?: boolean; json?: boolean; limit: string }, ids: string[]): Promise<void> {
  await withDatabase(async (db, config, url) => {
    const boss = await startBoss({
      url,
      logger: createLogger('silent'),
      supervise: false,
      poolSize: 2,
      fanOutRetries: config.fanOutRetries,
      deadLetterRetentionDays: config.retentionDays,
    });
    try {
      const letters = new DeadLetters(db, boss);
      if (options.redrive) {
        if (ids.length === 0 && !options.all) throw new StartupError('Name the dead letters to re-drive by id, or pass --all.');
        const moved = await letters.redrive(options.all ? undefined : ids);
        console.log(`re-drove ${moved} event${moved === 1 ? '' : 's'} to their queues`);
        return;
      }
      const list = await letters.list(Number(options.limit));
      if (options.json) {
        for (const letter of list) console.log(JSON.stringify(letter));
        return;
      }
      if (list.length === 0) console.log('no dead-lettered events');
      for (const l of list) {
        console.log(
          `${l.id}  ${l.deadLetteredAt.toISOString()}  ${l.queue ?? '-'}  ${l.reason.code}${l.reason.field ? ` (${l.reason.field})` : ''}: ${l.reason.message}`,
        );
      }
    } finally {
      await boss.stop({ graceful: false });
    }
  });
}

/** Commander has printed what is wrong with the command line; a usage error has its own exit code. */
function usageExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : EXIT.usage);
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
  .command('create-operator-token')
  .description('create a new OPERATOR token and print it once (the first start mints one only once)')
  .option('--name <name>', 'a name for the key')
  .action(createOperatorToken);
program
  .command('reencrypt-secrets')
  .description('re-encrypt every signing secret and header value under HOOKLINE_MASTER_KEY (old keys in HOOKLINE_MASTER_KEY_PREVIOUS)')
  .action(reencryptSecrets);
program
  .command('audit-export')
  .description("write an account's audit log as JSON lines in canonical form, both environments, oldest first")
  .requiredOption('--account <id>', 'the account id')
  .option('--output <file>', 'a new file to write (default: standard output)')
  .action(auditExport);
program
  .command('dead-letters')
  .description('list the events that could not be fanned out, with their reasons; with --redrive, send them back to their queues')
  .argument('[ids...]', 'with --redrive: the dead letters to send back')
  .option('--redrive', 'send the named dead letters (or --all) back to their queues, to be checked again')
  .option('--all', 'with --redrive: every dead letter')
  .option('--json', 'one JSON object per dead letter')
  .option('--limit <n>', 'list at most this many', '100')
  .action((ids: string[], options: { redrive?: boolean; all?: boolean; json?: boolean; limit: string }) => deadLetters(options, ids));
program
  .command('listen')
  .description('forward the deliveries of a temporary PULL subscription to a local URL, for development without a public URL')
  .requiredOption('--forward-to <url>', 'where to POST each delivery, e.g. http://localhost:3000/webhooks')
  .option('--channels <list>', 'channels to receive, comma-separated, e.g. invoices,bills')
  .option('--events <list>', 'only these events, comma-separated, e.g. invoices.paid (their channels are implied)')
  .option('--api <url>', `the GraphQL API (default: HOOKLINE_API_URL, else ${DEFAULT_API_URL})`)
  .option('--key <key>', 'an ADMIN API key (default: HOOKLINE_API_KEY, which other users cannot see in the process list)')
  .option('--name <name>', 'names the state file, so that a listen started again resumes its subscription', 'default')
  .option('--live', 'allow a PRODUCTION key')
  .option('--print-json', 'one JSON object per delivery on standard output')
  .option(
    '--expire-after-idle <seconds>',
    `delete the subscription after this long without a pull (${MIN_IDLE_EXPIRY_SECONDS} to ${MAX_IDLE_EXPIRY_SECONDS}, or never)`,
    String(DEFAULT_IDLE_EXPIRY_SECONDS),
  )
  .exitOverride(usageExit)
  .action(async (options: ListenFlags) => {
    const { listen } = await import('./cli/listen.js');
    process.exit(await listen(options));
  });
program
  .command('trigger')
  .description("publish an event of a type, with the catalog's example data or the data given, and print its id")
  .argument('<type>', 'the event type, e.g. invoices.paid')
  .option('--data <json>', "the event's data (default: the catalog's example for the type)")
  .option('--ordering-key <key>', 'the ordering key of the event')
  .option('--idempotency-key <key>', 'publishing again with the same key returns the first event')
  .option('--api <url>', `the GraphQL API (default: HOOKLINE_API_URL, else ${DEFAULT_API_URL})`)
  .option('--key <key>', 'a PUBLISHER or ADMIN API key (default: HOOKLINE_API_KEY)')
  .option('--live', 'allow a PRODUCTION key')
  .exitOverride(usageExit)
  .action(async (type: string, options: TriggerFlags) => {
    const { trigger } = await import('./cli/trigger.js');
    process.exit(await trigger(type, options));
  });
program
  .command('emit-schema')
  .description('write the GraphQL SDL that the resolvers define')
  .argument('[file]', 'output file', 'schema.graphql')
  .action(emitSchema);

/** A start-up failure as one message that says what to do, never a stack trace. */
function explain(error: unknown): string {
  if (error instanceof StartupError || error instanceof ConfigError) return error.message;
  const code = errorCode(error);
  if (code === 'EADDRINUSE') {
    const port = (error as { port?: number }).port;
    return `Port ${port} is in use, by another Hookline or another program. Stop that one, or set PORT to a free port.`;
  }
  if (code === 'EACCES' && (error as { syscall?: string }).syscall === 'listen') {
    return `Port ${(error as { port?: number }).port} needs privileges this user lacks. Set PORT to a port above 1023.`;
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000') {
    return `The database at DATABASE_URL cannot be used: ${(error as Error).message}. Check DATABASE_URL and that the server runs.`;
  }
  return error instanceof Error ? error.message : String(error);
}

program.parseAsync().catch((error: unknown) => {
  console.error(explain(error));
  process.exit(1);
});

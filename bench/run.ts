/**
 * `npm run bench`: end-to-end delivery throughput and latency of Hookline
 * against the raw stack it is built on. See bench/README.md.
 *
 * The driver runs here; Hookline (API, workers, migrate), the receiver and
 * the raw-stack worker run as child processes; every database is a fresh
 * `hookline_bench_*` one on the PostgreSQL at --pg-url (or an embedded one).
 * Everything it starts is stopped and dropped on exit, error or Ctrl-C.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BENCH_DIR, cleanupAll, hooklineDirInUse, openPostgres, useHooklineDir } from './harness.js';
import { cpuMsPerDelivery, describeMachine, markdown, summarise, targets } from './report.js';
import { SCENARIOS, sizes, type RunResult } from './scenarios.js';
import { Receiver, newSecrets, type Context, type Options } from './stack.js';

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
const positiveInt = (name: string) => (value: string) => {
  const n = positive(name)(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The heap settings that docs/operations.md recommends for Hookline's processes and that npm start uses. */
const HOOKLINE_NODE_FLAGS = '--max-semi-space-size=8 --max-old-space-size=256';

const program = new Command()
  .name('npm run bench --')
  .description('Hookline end to end: signed deliveries per second and publish-to-receipt latency, against the raw pg-boss + undici stack')
  .addOption(new Option('--scale <factor>', 'multiplies every size and duration (0.02 for a quick run)').default(1).argParser(positive('--scale')))
  .addOption(
    new Option('--scenarios <list>', `comma-separated: ${Object.keys(SCENARIOS).join(', ')}`).default(Object.keys(SCENARIOS)).argParser((v) => {
      const names = list(v);
      for (const n of names) if (!(n in SCENARIOS)) throw new InvalidArgumentError(`unknown scenario ${n}`);
      return names;
    }),
  )
  .addOption(
    new Option('--workers <n>', 'worker processes (all scenarios but "workers", which runs 1 and 2)').default(1).argParser(positiveInt('--workers')),
  )
  .addOption(
    new Option('--concurrency <n>', "HOOKLINE_WORKER_CONCURRENCY, and the raw stack's requests in flight")
      .default(100)
      .argParser(positiveInt('--concurrency')),
  )
  .addOption(
    new Option('--fanout <n>', 'subscriptions per event in burst, backlog, workers and history').default(10).argParser(positiveInt('--fanout')),
  )
  .addOption(
    new Option('--steady-rates <list>', 'events/s of the steady scenario, one run each')
      .default([200, 500])
      .argParser((v) => list(v).map(positive('--steady-rates'))),
  )
  .addOption(new Option('--steady-fanout <n>', 'subscriptions per event in the steady scenario').default(1).argParser(positiveInt('--steady-fanout')))
  .addOption(
    new Option('--steady-seconds <n>', 'duration of each steady run before scaling (at least 5 s after it)')
      .default(60)
      .argParser(positive('--steady-seconds')),
  )
  .addOption(
    new Option('--publish-concurrency <n>', 'publishEvent requests in flight in the bursts')
      .default(16)
      .argParser(positiveInt('--publish-concurrency')),
  )
  .addOption(new Option('--sample-every <n>', 'the receiver verifies one signature in n').default(50).argParser(positiveInt('--sample-every')))
  .addOption(new Option('--repeat <n>', 'run each scenario n times; the tables show the median run').default(1).argParser(positiveInt('--repeat')))
  .addOption(
    new Option('--pg-url <url>', 'PostgreSQL to create the bench databases on (loopback only)').default(
      'postgres://postgres@127.0.0.1:5432/postgres',
    ),
  )
  .addOption(new Option('--pg <mode>', 'auto: the server at --pg-url, else an embedded one').choices(['auto', 'server', 'embedded']).default('auto'))
  .addOption(
    new Option(
      '--pg-stat-statements',
      'run on an embedded PostgreSQL with pg_stat_statements and report the top statements and calls per delivery',
    ).default(false),
  )
  .addOption(new Option('--delivery-timeout-ms <n>', 'HOOKLINE_DELIVERY_TIMEOUT_MS').default(15_000).argParser(positiveInt('--delivery-timeout-ms')))
  .addOption(
    new Option('--stall-seconds <n>', 'give up waiting for deliveries after this long without one')
      .default(60)
      .argParser(positive('--stall-seconds')),
  )
  .addOption(
    new Option('--max-wait-seconds <n>', "give up waiting for a run's deliveries after this long, progress or not")
      .default(1800)
      .argParser(positive('--max-wait-seconds')),
  )
  .addOption(new Option('--node-flags <flags>', 'Node flags of the API and worker processes ("" for V8\'s defaults)').default(HOOKLINE_NODE_FLAGS))
  .addOption(new Option('--cpu-prof', 'run the API and workers with node --cpu-prof (profiles under bench/out/logs/<run>/profiles)').default(false))
  .addOption(
    new Option(
      '--alloc-prof',
      "sample what the API and workers allocate, freed objects included (V8's sampling heap profiler; .heapprofile files beside --cpu-prof's)",
    ).default(false),
  )
  .addOption(new Option('--results-dir <dir>', 'where the JSON and Markdown go').default(path.join(BENCH_DIR, 'results')))
  .addOption(
    new Option('--hookline-dir <dir>', "measure another checkout's build (e.g. an earlier commit in a git worktree, built) with this bench").default(
      undefined,
    ),
  );

program.parse();
const flags = program.opts<Options & { resultsDir: string; hooklineDir?: string }>();
if (flags.hooklineDir) useHooklineDir(flags.hooklineDir);

/** The commit of the measured checkout, and whether it has changes of its own (results written by earlier runs aside). */
function describeBuild(dir: string): string {
  try {
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], { encoding: 'utf8' }).trim() !==
      '';
    return `${commit}${dirty ? ' with uncommitted changes' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

let interrupted = false;
async function shutdown(code: number, reason: string): Promise<never> {
  console.error(`\n${reason}: stopping the processes and dropping the databases…`);
  await cleanupAll();
  process.exit(code);
}
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  void shutdown(130, 'interrupted');
});
process.on('SIGTERM', () => void shutdown(143, 'terminated'));
process.on('uncaughtException', (error) => void shutdown(1, `uncaught ${error.stack ?? error.message}`));
process.on('unhandledRejection', (error) => void shutdown(1, `unhandled rejection ${error instanceof Error ? error.stack : String(error)}`));

async function main(): Promise<void> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const logDir = path.join(BENCH_DIR, 'out', 'logs', stamp);
  await mkdir(logDir, { recursive: true });
  const command = `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;

  const postgres = await openPostgres(flags.pgUrl, flags.pgStatStatements ? 'embedded' : flags.pg, { statements: flags.pgStatStatements });
  const machine = describeMachine(postgres.version, postgres.kind);
  const receiver = await Receiver.start(logDir, flags.sampleEvery);
  Receiver.maxWaitSeconds = flags.maxWaitSeconds;
  const ctx: Context = { options: flags, postgres, receiver, logDir, ...newSecrets() };

  console.log(`Hookline benchmark, scale ${flags.scale}: ${flags.scenarios.join(', ')} (${flags.repeat}×)`);
  console.log(
    `  ${machine.cpus} CPUs ${machine.cpuModel}, ${machine.memoryGb} GB; Node ${machine.node}; PostgreSQL ${machine.postgres} (${machine.postgresKind}); logs in ${path.relative(process.cwd(), logDir)}`,
  );
  console.log(`  sizes: ${JSON.stringify(sizes(ctx))}`);
  if (flags.hooklineDir) console.log(`  measuring the build in ${hooklineDirInUse()}`);

  const runs: RunResult[] = [];
  const errors: Array<{ scenario: string; error: string }> = [];
  // The baseline first: the ratios need it, and it is the shortest.
  const order = Object.keys(SCENARIOS).filter((name) => flags.scenarios.includes(name));
  for (let r = 0; r < flags.repeat; r++) {
    for (const name of order) {
      console.log(`\n▶ ${name}${flags.repeat > 1 ? ` (run ${r + 1} of ${flags.repeat})` : ''}`);
      const started = performance.now();
      try {
        runs.push(...(await SCENARIOS[name]!(ctx)));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error(`  ${name} failed: ${message}`);
        errors.push({ scenario: name, error: message });
      }
      console.log(`  (${Math.round((performance.now() - started) / 1000)} s)`);
    }
  }

  const summaries = summarise(runs);
  const build = describeBuild(hooklineDirInUse());
  const md = markdown(machine, summaries, command, startedAt.toISOString(), flags.scale, build);
  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    // Paths as seen from where the bench ran, so that a result file names no folder outside the checkout it is kept in.
    options: {
      ...flags,
      resultsDir: path.relative(process.cwd(), flags.resultsDir) || '.',
      hooklineDir: flags.hooklineDir && path.relative(process.cwd(), flags.hooklineDir),
    },
    sizes: sizes(ctx),
    machine,
    build,
    summary: summaries.map((s) => ({
      label: s.label,
      scenario: s.scenario,
      runs: s.runs,
      rates: s.rates,
      cpuMsPerDelivery: cpuMsPerDelivery(s.run),
      median: s.run,
    })),
    targets: targets(summaries),
    errors,
    runs,
  };
  await mkdir(flags.resultsDir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + '\n';
  await writeFile(path.join(flags.resultsDir, `${stamp}.json`), json);
  await writeFile(path.join(flags.resultsDir, 'latest.json'), json);
  await writeFile(path.join(flags.resultsDir, 'latest.md'), md);
  console.log('\n' + md);
  if (errors.length) console.log(`Failed scenarios: ${errors.map((e) => `${e.scenario} (${e.error.split('\n')[0]})`).join('; ')}`);
  console.log(`Results: ${path.relative(process.cwd(), path.join(flags.resultsDir, `${stamp}.json`))}, latest.json, latest.md`);
}

main().then(
  async () => {
    await cleanupAll();
    process.exit(0);
  },
  (error: unknown) => shutdown(1, `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
);

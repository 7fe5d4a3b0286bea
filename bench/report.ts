/**
 * The machine description, the summary of the runs (the median run of each
 * label when a scenario was repeated), the targets, and the Markdown.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { PUBLISH_API_RATE } from './publish.js';
import type { RunResult } from './scenarios.js';
import { round, type LatencyWindow } from './stats.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  node: string;
  postgres: string;
  postgresKind: 'server' | 'embedded';
  loadAverageAtStart: number[];
}

export function describeMachine(postgres: string, postgresKind: 'server' | 'embedded'): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel,
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres,
    postgresKind,
    loadAverageAtStart: os.loadavg().map((l) => round(l)),
  };
}

export interface Summary {
  label: string;
  scenario: string;
  runs: number;
  /** The run with the median rate. */
  run: RunResult;
  rates: number[];
}

/** One line per label: the run whose rate is the median of its repeats. */
export function summarise(runs: RunResult[]): Summary[] {
  const byLabel = new Map<string, RunResult[]>();
  for (const run of runs) {
    if (run.label === 'warm-up') continue;
    byLabel.set(run.label, [...(byLabel.get(run.label) ?? []), run]);
  }
  return [...byLabel.entries()].map(([label, list]) => {
    const sorted = [...list].sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond);
    return {
      label,
      scenario: list[0]!.scenario,
      runs: list.length,
      run: sorted[Math.floor((sorted.length - 1) / 2)]!,
      rates: list.map((r) => r.deliveriesPerSecond),
    };
  });
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

function find(summaries: Summary[], predicate: (s: Summary) => boolean): RunResult | undefined {
  return summaries.find(predicate)?.run;
}

export function rawStackRate(summaries: Summary[]): number | undefined {
  return find(summaries, (s) => s.label.startsWith('raw stack'))?.deliveriesPerSecond;
}

export function targets(summaries: Summary[]): Target[] {
  const out: Target[] = [];
  const raw = rawStackRate(summaries);
  const burst = find(summaries, (s) => s.scenario === 'burst');
  const backlog = find(summaries, (s) => s.scenario === 'backlog');
  const best = [burst, backlog].filter((r): r is RunResult => r !== undefined).sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)[0];
  if (best) {
    const recorded = best.database ? best.database.attempts >= best.delivered : null;
    out.push({
      target: '≥ 3,000 signed deliveries/s sustained, every attempt recorded',
      measured: `${best.deliveriesPerSecond}/s (${best.label}); attempts recorded ${best.database?.attempts ?? '?'} for ${best.delivered} deliveries`,
      met: best.deliveriesPerSecond >= 3000 && recorded !== false,
    });
    if (raw) {
      out.push({
        target: '≥ 0.5 × the raw stack',
        measured: `${round(best.deliveriesPerSecond / raw)} × (${best.deliveriesPerSecond} vs ${raw}/s)`,
        met: best.deliveriesPerSecond / raw >= 0.5,
      });
    }
  }
  const steady500 = find(summaries, (s) => s.label === 'steady 500/s');
  if (steady500?.receiptLatencyMs) {
    out.push({
      target: 'publish-to-receipt p99 < 250 ms at 500 events/s',
      measured: `${steady500.receiptLatencyMs.p99} ms`,
      met: steady500.receiptLatencyMs.p99 < 250 && steady500.missing === 0,
    });
  }
  const steady200 = find(summaries, (s) => s.label === 'steady 200/s');
  if (steady200?.publish?.latencyMs) {
    out.push({
      target: 'publish mutation p99 < 25 ms at 200 requests/s',
      measured: `${steady200.publish.latencyMs.p99} ms`,
      met: steady200.publish.latencyMs.p99 < 25,
    });
  }
  const api = find(summaries, (s) => s.label === `publish api ${PUBLISH_API_RATE}/s`);
  const apiCpu = api?.extra.apiCpuMsPerPublish;
  if (api && typeof apiCpu === 'number') {
    out.push({
      target: `API CPU ≤ 1 ms per publishEvent at ${PUBLISH_API_RATE} requests/s, fan-out 1`,
      measured: `${apiCpu} ms (idle: ${String(api.extra.apiIdleCpuMsPerSecond)} ms/s)`,
      met: apiCpu <= 1,
    });
  }
  if (api?.publish?.latencyMs) {
    out.push({
      target: `publish mutation p99 < 25 ms at ${PUBLISH_API_RATE} requests/s, fan-out 1 (publish-api)`,
      measured: `${api.publish.latencyMs.p99} ms (p50 ${api.publish.latencyMs.p50})`,
      met: api.publish.latencyMs.p99 < 25,
    });
  }
  const rss = summaries
    .filter((s) => s.scenario !== 'baseline')
    .flatMap((s) => s.run.usage.processes.filter((p) => p.role === 'api' || p.role === 'worker').map((p) => ({ ...p, label: s.label })))
    .filter((p) => p.peakRssMb !== null)
    .sort((a, b) => b.peakRssMb! - a.peakRssMb!)[0];
  if (rss)
    out.push({ target: 'peak RSS < 300 MB per process', measured: `${rss.peakRssMb} MB (${rss.name}, ${rss.label})`, met: rss.peakRssMb! < 300 });
  const history = summaries.filter((s) => s.scenario === 'history');
  if (history.length === 2) {
    const [empty, full] = history.map((h) => h.run) as [RunResult, RunResult];
    const ratio = full.deliveriesPerSecond / empty.deliveriesPerSecond;
    out.push({
      target: 'rate with 1,000,000 attempts of history within 10% of empty',
      measured: `${round(ratio, 3)} × (${full.deliveriesPerSecond} vs ${empty.deliveriesPerSecond}/s)`,
      met: ratio >= 0.9,
    });
  }
  for (const { run } of summaries.filter((s) => s.scenario === 'fairness')) {
    const l = run.receiptLatencyMs;
    out.push({
      target: `the other tenant's publish-to-receipt p95 < 1 s while a busy one holds its slots (${run.label.replace('fairness: ', '')})`,
      measured: l ? `p95 ${l.p95} ms (p50 ${l.p50}, p99 ${l.p99}); ${run.delivered}/${run.expected} received` : `none of ${run.expected} received`,
      met: l ? l.p95 < 1000 && run.missing === 0 : false,
    });
  }
  for (const { run } of summaries.filter((s) => s.scenario === 'ledgers')) {
    const l = run.receiptLatencyMs;
    const missing = (run.extra.measured as { missing: number } | undefined)?.missing ?? 0;
    out.push({
      target: `${run.params.measuredType} at ${run.params.measuredRate}/s: publish-to-receipt p99 < 1 s beside a backlog of ${run.params.backlogEvents} ${run.params.backlogType}`,
      measured: l
        ? `p99 ${l.p99} ms (p50 ${l.p50}, p95 ${l.p95}); backlog delivered at ${run.deliveriesPerSecond}/s`
        : `none received; backlog delivered at ${run.deliveriesPerSecond}/s`,
      met: l ? l.p99 < 1000 && missing === 0 : false,
    });
  }
  const w1 = find(summaries, (s) => s.label === 'workers 1');
  const w2 = find(summaries, (s) => s.label === 'workers 2');
  if (w1 && w2) {
    const ratio = w2.deliveriesPerSecond / w1.deliveriesPerSecond;
    out.push({
      target: '2 worker processes ≥ 1.6 × one (where the database is not the limit)',
      measured: `${round(ratio)} × (${w2.deliveriesPerSecond} vs ${w1.deliveriesPerSecond}/s)`,
      met: ratio >= 1.6,
    });
  }
  return out;
}

const fmt = (n: number | undefined | null, digits = 0) =>
  n === undefined || n === null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits });

function cpuCell(run: RunResult): string {
  const by = (role: string) => run.usage.processes.filter((p) => p.role === role).reduce((s, p) => s + p.cpuSeconds, 0);
  const workers = run.usage.processes.filter((p) => p.role === 'worker' || p.role === 'raw');
  const parts = [
    run.usage.processes.some((p) => p.role === 'api') ? `api ${fmt(by('api'), 1)}` : null,
    workers.length ? `${workers[0]!.role === 'raw' ? 'raw' : 'wrk'} ${workers.map((w) => fmt(w.cpuSeconds, 1)).join('+')}` : null,
    `rcv ${fmt(by('receiver'), 1)}`,
    `drv ${fmt(by('driver'), 1)}`,
    `pg ${fmt(by('postgres'), 1)}`,
  ];
  return parts.filter(Boolean).join(' · ');
}

/** CPU of the system under test (API, workers or the raw worker, PostgreSQL) per delivery: robust on a noisy machine. */
export function cpuMsPerDelivery(run: RunResult): number | null {
  if (!run.delivered) return null;
  const seconds = run.usage.processes.filter((p) => ['api', 'worker', 'raw', 'postgres'].includes(p.role)).reduce((sum, p) => sum + p.cpuSeconds, 0);
  return round((seconds * 1000) / run.delivered, 2);
}

/**
 * The process that limits a run: a Node process near one busy core (its
 * event loop is single-threaded), else the machine when its cores are all
 * busy (then the busiest process is the biggest share), else none (the
 * run waited on something other than CPU: the network, a timer, a lock).
 */
export function bottleneck(run: RunResult, cpus: number): string {
  const ranked = [...run.usage.processes].filter((p) => p.cpuSeconds > 0).sort((x, y) => y.cores - x.cores);
  const busiest = ranked[0];
  if (!busiest) return '–';
  const node = ranked.find((p) => p.role !== 'postgres' && p.cores >= 0.85);
  if (node) return `${node.name} (${fmt(node.cores, 2)} of its one core)`;
  if (run.usage.machineBusyCores >= 0.85 * cpus)
    return `the machine's ${cpus} cores (${fmt(run.usage.machineBusyCores, 2)} busy; most: ${busiest.name} ${fmt(busiest.cores, 2)})`;
  return `none saturated (most: ${busiest.name} ${fmt(busiest.cores, 2)} cores)`;
}

function rssCell(run: RunResult): string {
  const list = run.usage.processes.filter((p) => p.role === 'api' || p.role === 'worker' || p.role === 'raw');
  return list.map((p) => `${p.name} ${fmt(p.peakRssMb)}`).join(' · ') || '–';
}

/** Where in a run its slow receipts were: the p99 of each stretch of publish time. */
export function receiptWindowsText(windows: readonly LatencyWindow[]): string {
  const first = windows[0]!;
  return `receipt p99 by ${fmt(first.toS - first.fromS)} s of publishing: ${windows.map((w) => fmt(w.p99)).join(', ')} ms`;
}

export function markdown(machine: Machine, summaries: Summary[], command: string, startedAt: string, scale: number, build?: string): string {
  const raw = rawStackRate(summaries);
  const lines: string[] = [];
  lines.push(`# Hookline benchmark`, '');
  lines.push(`${startedAt} · \`${command}\` · scale ${scale}${build ? ` · build ${build}` : ''}`, '');
  lines.push(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GB, ${machine.kernel}; Node ${machine.node}; PostgreSQL ${machine.postgres} (${machine.postgresKind}); load average at start ${machine.loadAverageAtStart.join(' / ')}.`,
    '',
  );
  lines.push(
    '| scenario | deliveries | deliveries/s | × raw stack | publish p50 / p99 ms | receipt p50 / p95 / p99 ms | CPU ms / delivery | CPU s (window) | bottleneck | peak RSS MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
  );
  for (const s of summaries) {
    const r = s.run;
    const p = r.publish?.latencyMs;
    const l = r.receiptLatencyMs;
    const rates = s.runs > 1 ? ` (${s.rates.map((x) => fmt(x)).join(', ')})` : '';
    const ratio = raw && s.scenario !== 'baseline' ? fmt(r.deliveriesPerSecond / raw, 2) : s.label.startsWith('raw stack') ? '1' : '–';
    const extra = r.extra.sendPerSecond ? `; send ${fmt(r.extra.sendPerSecond as number)}/s` : '';
    lines.push(
      `| ${s.label} | ${fmt(r.delivered)}${r.missing ? ` (${fmt(r.missing)} missing)` : ''} | ${fmt(r.deliveriesPerSecond)}${rates}${extra} | ${ratio} | ${p ? `${fmt(p.p50, 1)} / ${fmt(p.p99, 1)}` : '–'} | ${l ? `${fmt(l.p50, 1)} / ${fmt(l.p95, 1)} / ${fmt(l.p99, 1)}` : '–'} | ${fmt(cpuMsPerDelivery(r), 2)} | ${cpuCell(r)} | ${bottleneck(r, machine.cpus)} | ${rssCell(r)} |`,
    );
  }
  const t = targets(summaries);
  if (t.length) {
    lines.push('', '| target | measured | met |', '| --- | --- | --- |');
    for (const x of t) lines.push(`| ${x.target} | ${x.measured} | ${x.met === null ? '?' : x.met ? 'yes' : 'no'} |`);
  }
  const notes = summaries.flatMap((s) => s.run.notes.map((n) => `- ${s.label}: ${n}`));
  for (const s of summaries) {
    const st = s.run.pgStatements;
    if (st?.callsPerDelivery)
      notes.push(
        `- ${s.label}: ${st.callsPerDelivery} SQL statements per delivery, ${fmt(st.totalMs)} ms of execution and ${fmt(st.planMs ?? 0)} ms of planning in PostgreSQL (pg_stat_statements; top ones in the JSON)`,
      );
  }
  for (const s of summaries) {
    const windows = s.run.receiptWindows;
    if (s.scenario === 'steady' && windows?.length) notes.push(`- ${s.label}: ${receiptWindowsText(windows)}`);
  }
  const noisy = summaries.filter((s) => s.run.usage.otherCores > 0.25).map((s) => `${s.label} (${s.run.usage.otherCores} cores)`);
  if (noisy.length) notes.push(`- other work on the machine during: ${noisy.join(', ')}`);
  if (notes.length) lines.push('', 'Notes:', ...notes);
  lines.push(
    '',
    'deliveries/s: distinct deliveries received ÷ (last receipt − first publish; for the backlog, − workers ready). × raw stack: that rate ÷ the raw stack (pg-boss fetch → signed undici POST → complete, same concurrency, jobs queued beforehand). CPU ms / delivery: CPU of the API, the worker(s) (or the raw worker) and PostgreSQL ÷ deliveries, which holds better than rates on a busy machine. CPU s: api · wrk (worker processes) · rcv (receiver) · drv (bench driver and publisher) · pg (the PostgreSQL server processes, all its databases) during the run. Bottleneck: a Node process near one busy core, else the machine when all its cores are busy. Peak RSS: VmHWM.',
  );
  return lines.join('\n') + '\n';
}

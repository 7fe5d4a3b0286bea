/**
 * Where a process spent its CPU: self time of a `node --cpu-prof` profile,
 * by package (node_modules/<name>, Hookline's own dist/src/<dir>, Node's
 * internals, GC) and by function. Given a `.heapprofile` (`--alloc-prof`),
 * the same for the bytes allocated.
 *
 *   node bench/out/bench/profile-summary.js bench/out/logs/<run>/profiles/<name>.cpuprofile [top]
 *   node bench/out/bench/profile-summary.js bench/out/logs/<run>/profiles/<name>.heapprofile [top]
 */
import { readFileSync } from 'node:fs';

/** Where a profile's node runs, as V8 describes it in both kinds of profile. */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = /\/dist\/(src|migrations)\/([^/]+)/.exec(url);
  if (src) return `hookline:${src[1]}/${src[2]!.replace(/\.js$/, '')}`;
  return url;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/out/bench/profile-summary.js <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const data = JSON.parse(readFileSync(file, 'utf8')) as Profile | HeapProfile;
if ('head' in data) summarizeAllocations(data);
else summarizeCpu(data);

/** A function as the summaries name it: its name, its package and, where it has a source, its line. */
function frameName({ functionName, url, lineNumber }: CallFrame, pkg: string): string {
  return `${functionName || '(anonymous)'} ${pkg}${url ? `:${lineNumber + 1}` : ''}`;
}

function show(title: string, map: Map<string, number>, whole: number, unit: (n: number) => string): void {
  console.log(`\n${title}`);
  for (const [name, n] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((n / whole) * 100).toFixed(1).padStart(6)}%  ${unit(n).padStart(10)}  ${name}`);
  }
}

function summarizeCpu(profile: Profile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);

  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url } = node.callFrame;
    if (functionName === '(idle)') continue;
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const fn = frameName(node.callFrame, pkg);
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const busy = total - idle;

  // Inclusive time of Hookline's own functions: each sample counts once for every distinct
  // dist/src function on its stack, so a service method shows everything it waits on the CPU for.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { callFrame } = byId.get(at)!;
      const pkg = packageOf(callFrame.url, callFrame.functionName);
      if (!pkg.startsWith('hookline:')) continue;
      const name = frameName(callFrame, pkg);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${((busy / total) * 100).toFixed(0)}%)`);
  show('By package (share of busy time)', packages, busy, ms);
  show('By function, self time (share of busy time)', functions, busy, ms);
  show("Hookline's functions, inclusive: everything below them on the stack (share of busy time)", inclusive, busy, ms);
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
}

/** Bytes allocated, by package and by function (self), and under Hookline's own functions (inclusive). */
function summarizeAllocations(profile: HeapProfile): void {
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, ours: readonly string[]): void => {
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    const name = frameName(node.callFrame, pkg);
    const stack = pkg.startsWith('hookline:') && !ours.includes(name) ? [...ours, name] : ours;
    total += node.selfSize;
    packages.set(pkg, (packages.get(pkg) ?? 0) + node.selfSize);
    functions.set(name, (functions.get(name) ?? 0) + node.selfSize);
    for (const own of stack) inclusive.set(own, (inclusive.get(own) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, stack);
  };
  walk(profile.head, []);
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(`${file}: ${mb(total)} allocated (sampled, freed objects included)`);
  show('By package (share of bytes allocated)', packages, total, mb);
  show('By function, self (share of bytes allocated)', functions, total, mb);
  show("Hookline's functions, inclusive (share of bytes allocated)", inclusive, total, mb);
}

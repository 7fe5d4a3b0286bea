/**
 * Latency samples and percentiles. A growable Float64Array sorted once per
 * report: exact percentiles (nearest rank) without a histogram's bucketing,
 * at 8 bytes a sample (a million samples is 8 MB).
 */
export class Samples {
  private data = new Float64Array(1024);
  private length = 0;

  get count(): number {
    return this.length;
  }

  add(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** The samples in the order they were added (a view, not a copy). */
  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }

  summary(): LatencySummary | null {
    if (this.length === 0) return null;
    const sorted = this.data.slice(0, this.length).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: sorted.length,
      mean: round(sum / sorted.length),
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1]!),
    };
  }
}

/** One stretch of a run: the deliveries whose events were published in it, and how long they took to arrive. */
export interface LatencyWindow {
  /** Seconds from the first publish to the start and the end of the stretch. */
  fromS: number;
  toS: number;
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Latencies with the time their event was published, to tell a run's tail
 * apart: a percentile over a whole run cannot say whether its slow
 * deliveries came in the first seconds, in a stretch where the machine fell
 * behind, or spread evenly.
 */
export class LatencyTimeline {
  private readonly sentAt = new Samples();
  private readonly latency = new Samples();

  add(sentAtMs: number, latencyMs: number): void {
    this.sentAt.add(sentAtMs);
    this.latency.add(latencyMs);
  }

  summary(): LatencySummary | null {
    return this.latency.summary();
  }

  /** Percentiles per stretch of `widthMs` by publish time, from the first publish. */
  windows(widthMs: number): LatencyWindow[] {
    const sent = this.sentAt.values();
    const latency = this.latency.values();
    if (sent.length === 0) return [];
    let first = Infinity;
    for (const t of sent) first = Math.min(first, t);
    const buckets: number[][] = [];
    for (let i = 0; i < sent.length; i++) (buckets[Math.floor((sent[i]! - first) / widthMs)] ??= []).push(latency[i]!);
    const windows: LatencyWindow[] = [];
    buckets.forEach((bucket, index) => {
      const sorted = Float64Array.from(bucket).sort();
      windows.push({
        fromS: (index * widthMs) / 1000,
        toS: ((index + 1) * widthMs) / 1000,
        count: sorted.length,
        p50: round(percentile(sorted, 50)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[sorted.length - 1]!),
      });
    });
    return windows;
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

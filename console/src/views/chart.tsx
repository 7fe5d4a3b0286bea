import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Bucket {
  start: string;
  succeeded: number;
  failed: number;
  pending: number;
  cancelled: number;
  attempts: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

type Line = {
  label: string;
  stroke: string;
  values: Array<number | null>;
  bars?: boolean;
  /** What the legend shows for a point, when it is not the plotted value (stacked bars). */
  shown?: number[];
};

/** A uPlot chart over the buckets' start times, drawn again when the data changes. */
function Chart({ title, buckets, lines, unit }: { title: string; buckets: Bucket[]; lines: Line[]; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars!({ size: [0.8, 24] });
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 220,
        legend: { show: true },
        axes: [{}, { label: unit, size: 60 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [
          {},
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.stroke,
            fill: l.bars ? l.stroke + 'cc' : undefined,
            width: l.bars ? 0 : 2,
            paths: l.bars ? bars : undefined,
            points: { show: !l.bars },
            spanGaps: false,
            value: (_u: uPlot, v: number | null, _s: number, i: number | null) => (i === null ? '–' : String(l.shown ? l.shown[i] : (v ?? '–'))),
          })),
        ],
      },
      [buckets.map((b) => new Date(b.start).getTime() / 1000), ...lines.map((l) => l.values)] as uPlot.AlignedData,
      el,
    );
    return () => plot.destroy();
  }, [buckets, lines, unit]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={title} />
    </figure>
  );
}

/**
 * Deliveries by outcome as bars stacked by summing: each outcome's bar is
 * drawn from zero to its cumulative height, later outcomes behind earlier.
 */
export function DeliveryCharts({ buckets }: { buckets: Bucket[] }) {
  type Outcome = 'succeeded' | 'failed' | 'pending' | 'cancelled';
  const stack = (keys: Outcome[]) => buckets.map((b) => keys.reduce((n, k) => n + b[k], 0));
  const own = (key: Outcome) => buckets.map((b) => b[key]);
  const outcomeLines: Line[] = [
    { label: 'Cancelled', stroke: '#9aa5b1', values: stack(['succeeded', 'failed', 'pending', 'cancelled']), bars: true, shown: own('cancelled') },
    { label: 'Pending', stroke: '#f0b429', values: stack(['succeeded', 'failed', 'pending']), bars: true, shown: own('pending') },
    { label: 'Failed', stroke: '#d64545', values: stack(['succeeded', 'failed']), bars: true, shown: own('failed') },
    { label: 'Succeeded', stroke: '#27ab83', values: stack(['succeeded']), bars: true, shown: own('succeeded') },
  ];
  const latencyLines: Line[] = [
    { label: 'p50', stroke: '#2680c2', values: buckets.map((b) => b.latencyP50Ms) },
    { label: 'p95', stroke: '#9446ed', values: buckets.map((b) => b.latencyP95Ms) },
  ];
  return (
    <div class="charts">
      <Chart title="Deliveries over time by outcome (stacked)" buckets={buckets} lines={outcomeLines} unit="deliveries" />
      <Chart title="Attempt latency over time" buckets={buckets} lines={latencyLines} unit="ms" />
    </div>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StepPoint } from './api.ts';

/** The metric shown first: held-out accuracy when the run evaluates, else the first by name. */
const FIRST_METRIC = 'eval/test/accuracy';

/**
 * Metric names by namespace, the part before the first `/` (the trainer's `reward/`, `loss/`,
 * `eval/`, `timing/` …); names without one under ''.
 */
function byNamespace(names: string[]): Array<[string, string[]]> {
  const groups = new Map<string, string[]>();
  for (const name of names) {
    const slash = name.indexOf('/');
    const namespace = slash > 0 ? name.slice(0, slash) : '';
    groups.set(namespace, [...(groups.get(namespace) ?? []), name]);
  }
  return [...groups];
}

/** Reward per step (mean with min–max) and one chosen trainer metric, each as a uPlot chart. */
export function Curves({ points }: { points: StepPoint[] }) {
  const metricNames = [...new Set(points.flatMap((p) => Object.keys(p.metrics)))].sort();
  const [metric, setMetric] = useState<string>('');
  const chosen = metricNames.includes(metric)
    ? metric
    : metricNames.includes(FIRST_METRIC)
      ? FIRST_METRIC
      : (metricNames[0] ?? '');
  const steps = points.map((p) => p.step);
  return (
    <div class="curves" data-testid="curves">
      <div class="chart-box">
        <h3>Reward per step</h3>
        <Chart
          testId="reward-chart"
          x={steps}
          series={[
            { label: 'mean', values: points.map((p) => p.rewardMean), stroke: '#2563eb', width: 2 },
            { label: 'min', values: points.map((p) => p.rewardMin), stroke: '#93c5fd', width: 1 },
            { label: 'max', values: points.map((p) => p.rewardMax), stroke: '#1e3a8a', width: 1 },
          ]}
        />
      </div>
      <div class="chart-box">
        <h3>
          Metric{' '}
          <select
            value={chosen}
            onChange={(e) => setMetric((e.target as HTMLSelectElement).value)}
            data-testid="metric-select"
          >
            {metricNames.length === 0 && <option value="">(no step metrics yet)</option>}
            {byNamespace(metricNames).map(([namespace, names]) => {
              const options = names.map((name) => <option value={name}>{name}</option>);
              return namespace ? <optgroup label={namespace}>{options}</optgroup> : options;
            })}
          </select>
        </h3>
        <Chart
          testId="metric-chart"
          x={steps}
          series={[
            {
              label: chosen || 'metric',
              values: points.map((p) => p.metrics[chosen] ?? Number.NaN),
              stroke: '#059669',
              width: 2,
            },
          ]}
        />
      </div>
    </div>
  );
}

interface Series {
  label: string;
  values: number[];
  stroke: string;
  width: number;
}

function Chart({ x, series, testId }: { x: number[]; series: Series[]; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(300, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 200,
        scales: { x: { time: false } },
        // Steps are integers: no 0.2-step ticks.
        axes: [{ label: 'step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] }, {}],
        series: [
          { label: 'step' },
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: s.width, spanGaps: true })),
        ],
      },
      [x, ...series.map((s) => s.values.map((v) => (Number.isFinite(v) ? v : null)))] as uPlot.AlignedData,
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key]);
  useEffect(() => {
    plot.current?.setData([
      x,
      ...series.map((s) => s.values.map((v) => (Number.isFinite(v) ? v : null))),
    ] as uPlot.AlignedData);
  });
  return <div ref={box} class="chart" data-testid={testId} data-points={x.length} />;
}

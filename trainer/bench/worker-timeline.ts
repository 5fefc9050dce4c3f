/**
 * `pnpm bench learner --profile`, learner in workers: where each training step's wall time goes,
 * from every call's stamps on the process clock (`WorkerCallTiming`). A step is a batch of calls
 * (forwardBackward, then the sharded optimiser step's shareGradients, reduceGradients, optimStep and
 * receiveWeights); each is a phase, and a phase lasts from the first send to the last reply. Within a
 * phase the slowest replica is on the critical path: its compute (its CPU, and its run-queue wait:
 * ready but without a core), its messaging (serialising, delivery, queueing and the reply) and, for
 * the other replicas, the wait for it (imbalance). What lies between phases is the calling thread's.
 */
import type { LearnerProfile, WorkerCallTiming } from '../src/learner/learner-profile.ts';

/** One step's wall span on the process clock. */
export type StepSpan = [start: number, end: number];

interface PhaseFigures {
  wall: number;
  /** The critical replica's call, worker side: wall, CPU, run-queue. */
  compute: number;
  cpu: number;
  runQueue: number;
  /** The critical replica's call beyond its compute: serialise, deliver, queue, reply. */
  messaging: number;
  /** The critical replica's compute beyond the fastest replica's: the others' wait. */
  imbalance: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]) =>
  `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

/** A step's calls grouped into phases (consecutive calls of one method). */
function phasesOf(calls: WorkerCallTiming[]): Array<{ method: string; calls: WorkerCallTiming[] }> {
  const phases: Array<{ method: string; calls: WorkerCallTiming[] }> = [];
  for (const c of [...calls].sort((a, b) => a.sent - b.sent)) {
    const last = phases[phases.length - 1];
    if (last && last.method === c.method && !last.calls.some((d) => d.replica === c.replica))
      last.calls.push(c);
    else phases.push({ method: c.method, calls: [c] });
  }
  return phases;
}

function figures(calls: WorkerCallTiming[]): PhaseFigures {
  const critical = calls.reduce((a, b) => (b.replied > a.replied ? b : a));
  const computes = calls.map((c) => c.ended - c.started);
  const compute = critical.ended - critical.started;
  return {
    wall: Math.max(...calls.map((c) => c.replied)) - Math.min(...calls.map((c) => c.sent)),
    compute,
    cpu: critical.cpuMs,
    runQueue: critical.runQueueMs,
    messaging: critical.replied - critical.sent - compute,
    imbalance: compute - Math.min(...computes),
  };
}

/**
 * The per-step report: each phase's wall, the critical replica's compute (CPU, run queue),
 * messaging and imbalance, medians over the steps with their range; the calling thread's time
 * between phases; each thread's CPU per step, with the process's other threads (V8's garbage
 * collector and optimising compiler, libuv) from `otherCpuMs`.
 */
export function workerTimeline(
  name: string,
  profile: LearnerProfile,
  steps: StepSpan[],
  threads: { mainCpuMs: number; otherCpuMs: number },
): string {
  const calls = profile.calls ?? [];
  const perStep = steps.map(([start, end]) => ({
    wall: end - start,
    phases: phasesOf(calls.filter((c) => c.sent >= start && c.replied <= end)),
  }));
  const methods = perStep[0]?.phases.map((p) => p.method) ?? [];
  const lines = [`${name}: ms per step, median (min–max) over ${steps.length} steps`];
  const table: string[][] = [
    ['phase', 'wall', 'compute', 'of it CPU', 'run queue', 'messaging', 'imbalance'],
  ];
  let phaseWalls: number[] = steps.map(() => 0);
  methods.forEach((method, i) => {
    const f = perStep.flatMap((s) => (s.phases[i]?.method === method ? [figures(s.phases[i]!.calls)] : []));
    if (f.length === 0) return;
    phaseWalls = phaseWalls.map(
      (w, k) => w + (perStep[k]!.phases[i] ? figures(perStep[k]!.phases[i]!.calls).wall : 0),
    );
    const col = (key: keyof PhaseFigures) => spread(f.map((x) => x[key]));
    table.push([
      method,
      col('wall'),
      col('compute'),
      col('cpu'),
      col('runQueue'),
      col('messaging'),
      col('imbalance'),
    ]);
  });
  table.push([
    'between phases (calling thread)',
    spread(perStep.map((s, k) => s.wall - phaseWalls[k]!)),
    '',
    '',
    '',
    '',
    '',
  ]);
  table.push(['step', spread(perStep.map((s) => s.wall)), '', '', '', '', '']);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) lines.push(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`);
  const replicas = [...new Set(calls.map((c) => c.replica))].sort((a, b) => a - b);
  const n = Math.max(1, steps.length);
  const cpu = replicas.map((k) => calls.filter((c) => c.replica === k).reduce((s, c) => s + c.cpuMs, 0) / n);
  const queued = replicas.map(
    (k) => calls.filter((c) => c.replica === k).reduce((s, c) => s + c.runQueueMs, 0) / n,
  );
  lines.push(
    `  CPU per step: ${replicas.map((k) => `replica ${k} ${cpu[k]!.toFixed(1)} (run queue ${queued[k]!.toFixed(1)})`).join(', ')}, ` +
      `calling thread ${(threads.mainCpuMs / n).toFixed(1)}, the process's other threads ${(threads.otherCpuMs / n).toFixed(1)} ` +
      '(V8 garbage collection and optimising compiler)',
  );
  return lines.join('\n');
}

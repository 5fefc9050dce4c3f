/**
 * `pnpm bench learner`: training tokens/s of the embedded learner (forward + backward + Adam), the
 * same model's forward-only tokens/s, and the backend's measured matmul GFLOP/s, in one run, for
 * each TF.js backend (wasm and cpu); model FLOPs utilisation = achieved training FLOP/s ÷ matmul FLOP/s.
 * The wasm learner is also measured in worker threads as `toolgym train` runs it: one worker, and
 * two data-parallel workers (their MFU is against two cores' matmul FLOP/s).
 *
 * `--profile` splits a training step into forward, backward, optimiser and data-parallel sync, and
 * gives each computing thread's CPU time per step beside its wall time: with two workers, each
 * replica's CPU, busy and waiting time and the sync's, and the speed-up over one worker those CPU
 * times imply for two idle cores (one worker's CPU per step ÷ (the busier replica's + the sync's)),
 * which a shared machine's wall clock cannot show. Worker learners also get each step's timeline
 * (`worker-timeline.ts`: every call's phases on the process clock, the critical replica's compute,
 * messaging and imbalance), the CPU of the process's other threads (V8's collector and compiler),
 * and the speed-up that all threads' CPU implies on the machine's 2 cores.
 *
 * `--young-mb N [--rounds R]` alternates 1 and 2 workers with the workers' default young generation
 * (`DEFAULT_YOUNG_GENERATION_MB`; V8's own is 48 MB in a worker here) and
 * with N MB, R rounds (default 3), and prints each round's ratios and the medians.
 *
 * `--kernels` adds the in-process wasm step's CPU time by kernel (each call wrapped with the thread's
 * CPU clock).
 *
 * MFU is given twice: by wall time (training FLOP/s against the best matmul's FLOP/s, the figure for
 * an idle machine), and by CPU time (training FLOPs per CPU second of the computing threads against
 * the best matmul's FLOPs per CPU second of the same thread), which other processes' turns on the
 * cores do not enter.
 *
 * Model FLOPs per trained token, useful work only: 6·N (N = the matrices' parameters: every layer's
 * and the lm head; the token embedding is a lookup, not a product) + causal attention 6·L·(T+1)·d
 * (forward 2·L·(T+1)·d: q·kᵀ and att·v over the (T+1)/2 keys a query sees on average, ×3 with
 * backward; the masked half of the T×T scores, computed or not, is not counted).
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, initDecoderWeights } from '@toolgym/agents';
import { useBackend } from '../src/learner/backend.ts';
import { createEmbeddedLearner, type EmbeddedLearnerSettings } from '../src/learner/embedded-learner.ts';
import type { Learner } from '../src/learner/learner.ts';
import {
  type LearnerPhase,
  type LearnerProfile,
  processClockMs,
  processThreadTimes,
  threadTimes,
} from '../src/learner/learner-profile.ts';
import {
  createWorkerLearner,
  DEFAULT_YOUNG_GENERATION_MB,
  type WorkerLearner,
} from '../src/learner/worker-learner.ts';
import { benchBatch, mainJobDecoder } from './learner-bench-batch.ts';
import { type StepSpan, workerTimeline } from './worker-timeline.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
// `--learned` measures GPT-2's learned position table instead of RoPE.
const decoder = mainJobDecoder({
  vocabSize: arg('vocab', 280),
  dModel: arg('d', 64),
  nLayers: arg('layers', 2),
  positions: args.includes('--learned') ? 'learned' : 'rope',
});
const batch = arg('batch', 64);
const seq = arg('seq', 96);
const repeats = arg('repeats', 5);
/**
 * `--warmup N`: untimed steps before the timed ones (default 1). V8 optimises tfjs's functions one
 * by one over a learner's first ~15 steps, and each compile runs on a helper thread beside the
 * workers; `--warmup 15` measures the steady state a long run spends its time in.
 */
const warmup = arg('warmup', 1);
/**
 * `--micro-batch N`: sequences per micro-batch of every learner measured (default: the whole batch,
 * so one worker takes it in one micro-batch and each of two replicas its half in one).
 */
const microBatch = arg('micro-batch', batch);
/** `--workers-only` measures the worker learners (1 and 2 workers) and not the in-process one. */
const workersOnly = args.includes('--workers-only');
/** `--backends wasm` leaves out the slow pure-JS backend. */
const backendsAt = args.indexOf('--backends');
const backends = (backendsAt >= 0 ? args[backendsAt + 1]! : 'wasm,cpu').split(',') as Array<'wasm' | 'cpu'>;

function flopsPerToken(c: DecoderConfig, t: number): { train: number; forward: number } {
  const perLayer = 4 * c.dModel * c.dModel + 2 * c.dModel * c.dFF;
  const matrices = c.nLayers * perLayer + c.vocabSize * c.dModel; // + the lm head
  const attentionForward = 2 * c.nLayers * (t + 1) * c.dModel; // q·kᵀ and att·v (2 FLOPs per MAC), causal pairs only
  return { forward: 2 * matrices + attentionForward, train: 6 * matrices + 3 * attentionForward };
}

/**
 * The backend's matmul throughput (wall and CPU time): the best of the model's own shapes ([B·T, d]×[d, 4d], a
 * [B·T, V]×[V, d] product, the lm head [B·T, d]×[d, V]) and a square 512³ product, so MFU is
 * measured against what this backend can do at its best on this machine right now.
 */
async function matmulGflops(): Promise<{ wall: number; cpu: number }> {
  const n = batch * seq;
  const shapes: Array<[number, number, number]> = [
    [n, decoder.dModel, decoder.dFF],
    [n, decoder.vocabSize, decoder.dModel],
    [n, decoder.dModel, decoder.vocabSize],
    [512, 512, 512],
  ];
  let best = 0;
  let bestCpu = 0;
  for (const [m, k, cols] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, cols]);
    // dataSync outside tf.tidy: inside it, the same product ran 15–80× slower on wasm (measured 5 Dec).
    const product = () => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    };
    product();
    const reps = 5;
    const t0 = performance.now();
    const cpu0 = threadTimes().cpuMs;
    for (let i = 0; i < reps; i++) product();
    const cpuS = (threadTimes().cpuMs - cpu0) / 1000;
    const s = (performance.now() - t0) / 1000;
    a.dispose();
    b.dispose();
    best = Math.max(best, (2 * m * k * cols * reps) / s / 1e9);
    bestCpu = Math.max(bestCpu, (2 * m * k * cols * reps) / cpuS / 1e9);
  }
  return { wall: best, cpu: bestCpu };
}

const data = benchBatch(batch, seq);

/** A learner whose step time can be split by phase (the embedded one, in process or in workers). */
type ProfiledLearner = Learner & { takeProfile(): Promise<LearnerProfile> };

interface Measured {
  train: number;
  forward: number;
  profile: LearnerProfile;
  /** Each training step's span on the process clock. */
  steps: StepSpan[];
  /** Over the training steps: the calling thread's CPU ms, and the process's other threads' (not the workers'). */
  threads: { mainCpuMs: number; otherCpuMs: number };
}

/** Training (forward + backward + Adam) and forward-only tokens/s, after `warmup` steps, and the training steps' profile. */
async function measure(learner: ProfiledLearner | WorkerLearner): Promise<Measured> {
  for (let i = 0; i < warmup; i++) {
    await learner.forwardBackward(data, 'ppo');
    await learner.optimStep({ learningRate: 1e-4 });
  }
  await learner.takeProfile();
  const steps: StepSpan[] = [];
  const threadsBefore = processThreadTimes();
  let t0 = performance.now();
  for (let i = 0; i < repeats; i++) {
    const start = processClockMs();
    await learner.forwardBackward(data, 'ppo');
    await learner.optimStep({ learningRate: 1e-4 });
    steps.push([start, processClockMs()]);
  }
  const train = (batch * seq * repeats) / ((performance.now() - t0) / 1000);
  const threadsAfter = processThreadTimes();
  const workerIds = new Set('threadIds' in learner ? learner.threadIds : []);
  let mainCpuMs = 0;
  let otherCpuMs = 0;
  for (const [tid, { cpuMs }] of threadsAfter) {
    const spent = cpuMs - (threadsBefore.get(tid)?.cpuMs ?? 0);
    if (tid === process.pid) mainCpuMs = spent;
    else if (!workerIds.has(tid)) otherCpuMs += spent;
  }
  const profile = await learner.takeProfile();
  t0 = performance.now();
  for (let i = 0; i < repeats; i++) await learner.forward(data);
  const forward = (batch * seq * repeats) / ((performance.now() - t0) / 1000);
  await learner.close();
  return { train, forward, profile, steps, threads: { mainCpuMs, otherCpuMs } };
}

const rows: string[][] = [];
const profiles: Array<[string, LearnerProfile]> = [];
const timelines: string[] = [];
/** A worker learner's CPU ms per step: its busier replica's (and the calling thread's sync), and all the process's threads'. */
interface StepCpu {
  busier: number;
  all: number;
}
function stepCpu(m: Measured): StepCpu | undefined {
  const p = m.profile;
  if (!p.replicas) return undefined;
  const steps = Math.max(1, p.steps);
  const replicaCpu = p.replicas.map((r) => r.cpuMs / steps);
  return {
    busier: Math.max(...replicaCpu) + p.cpuMs / steps,
    all: replicaCpu.reduce((a, b) => a + b, 0) + (m.threads.mainCpuMs + m.threads.otherCpuMs) / steps,
  };
}
/**
 * The wall ms per step that CPU times imply on this machine's 2 idle cores, every thread of the
 * process counted: at least the busier replica's CPU (and the calling thread's sync), and at least
 * all threads' CPU over the 2 cores. With one worker the other threads' CPU (V8's collector and
 * compiler) fits on the idle core; with two it takes turns from the workers.
 */
const CORES = 2;
const impliedWall = (c: StepCpu) => Math.max(c.busier, c.all / CORES);
const cpuPerStep = new Map<string, StepCpu>();
const row = (name: string, speed: Measured, gflops: { wall: number; cpu: number }, cores = 1) => {
  const p = speed.profile;
  profiles.push([name, p]);
  const cpu = stepCpu(speed);
  if (cpu) {
    timelines.push(workerTimeline(name, p, speed.steps, speed.threads));
    cpuPerStep.set(name, cpu);
  }
  const f = flopsPerToken(decoder, seq);
  const mfu = (speed.train * f.train) / (gflops.wall * cores * 1e9);
  // The same ratio in CPU time: a step's FLOPs per CPU second of its computing threads, against the
  // matmul's FLOPs per CPU second; other processes' turns on the cores count in neither.
  const stepCpuS = (p.replicas ? p.replicas.reduce((sum, r) => sum + r.cpuMs, p.cpuMs) : p.cpuMs) / 1000;
  const mfuCpu = (batch * seq * p.steps * f.train) / stepCpuS / (gflops.cpu * 1e9);
  rows.push([
    name,
    speed.train.toFixed(0),
    speed.forward.toFixed(0),
    gflops.wall.toFixed(2),
    ((speed.train * f.train) / 1e9).toFixed(2),
    `${(mfu * 100).toFixed(1)}%`,
    ((1000 * stepCpuS) / Math.max(1, p.steps)).toFixed(0),
    gflops.cpu.toFixed(2),
    Number.isFinite(mfuCpu) ? `${(mfuCpu * 100).toFixed(1)}%` : 'n/a',
  ]);
};
for (const backend of backends) {
  await useBackend(backend);
  const before = await matmulGflops();
  const settings: EmbeddedLearnerSettings = {
    decoder,
    weights: initDecoderWeights(decoder, { seed: 0 }),
    backend,
    microBatchSize: microBatch,
  };
  const measured: Array<[string, Measured, number]> =
    workersOnly && backend === 'wasm'
      ? []
      : [[backend, await measure(await createEmbeddedLearner(settings)), 1]];
  if (backend === 'wasm') {
    measured.push(['wasm, 1 worker', await measure(await createWorkerLearner(settings, 1)), 1]);
    measured.push(['wasm, 2 workers', await measure(await createWorkerLearner(settings, 2)), 2]);
  }
  // The matmul's best before and after the learners: on a shared machine either may be the one
  // measured with the cores to itself, and MFU is against the best.
  const after = await matmulGflops();
  const gflops = { wall: Math.max(before.wall, after.wall), cpu: Math.max(before.cpu, after.cpu) };
  for (const [name, speed, cores] of measured) row(name, speed, gflops, cores);
}
process.stdout.write(
  `embedded learner: d=${decoder.dModel} layers=${decoder.nLayers} dFF=${decoder.dFF} vocab=${decoder.vocabSize} positions=${decoder.positions}, batch ${batch} × ${seq} tokens in micro-batches of ${microBatch}, ${repeats} repeats after ${warmup} warm-up steps (load average ${loadavg()[0]!.toFixed(1)})\n`,
);
const header = [
  'backend',
  'train tok/s',
  'forward tok/s',
  'best matmul GFLOP/s',
  'train GFLOP/s',
  'MFU',
  'CPU ms/step',
  'best matmul GFLOP/CPU-s',
  'MFU by CPU time',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const r of [header, ...rows])
  process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
/** The speed-up of two workers over one that their CPU times imply (`impliedWall`). */
function impliedSpeedUp(one: StepCpu | undefined, two: StepCpu | undefined): string | undefined {
  if (!one || !two) return undefined;
  return (
    `2 workers / 1 worker implied by CPU time on ${CORES} idle cores, every thread of the process counted: ` +
    `${(impliedWall(one) / impliedWall(two)).toFixed(2)}× (one worker: ${one.busier.toFixed(1)} ms busiest thread, ${one.all.toFixed(1)} all threads; ` +
    `two: ${two.busier.toFixed(1)} busier replica + the calling thread's sync, ${two.all.toFixed(1)} all threads, ${(two.all / CORES).toFixed(1)} per core)`
  );
}

const speed = (name: string) => Number(rows.find((r) => r[0] === name)![1]);
const measuredRow = (name: string) => rows.some((r) => r[0] === name);
if (measuredRow('cpu') && measuredRow('wasm'))
  process.stdout.write(`wasm / cpu training speed: ${(speed('wasm') / speed('cpu')).toFixed(2)}×\n`);
if (measuredRow('wasm, 2 workers'))
  process.stdout.write(
    `2 data-parallel workers / 1 worker training speed: ${(speed('wasm, 2 workers') / speed('wasm, 1 worker')).toFixed(2)}×\n`,
  );
if (args.includes('--profile')) {
  const phases: LearnerPhase[] = ['forward', 'backward', 'optimizer', 'sync'];
  process.stdout.write(
    '\nA training step (forward + backward of the batch, one optimiser step), wall ms per step: forward, backward ' +
      '(and gradient accumulation), optimiser (Adam), data-parallel gradient sync; replicas in parallel count once (the slowest).\n',
  );
  const table = [
    ['learner', 'steps', ...phases.map((p) => `${p} ms`), 'step ms', ...phases.map((p) => `${p} %`)],
    ...profiles.map(([name, p]) => {
      const per = (phase: LearnerPhase) => p.ms[phase] / Math.max(1, p.steps);
      const total = phases.reduce((sum, phase) => sum + per(phase), 0);
      return [
        name,
        String(p.steps),
        ...phases.map((phase) => per(phase).toFixed(1)),
        total.toFixed(1),
        ...phases.map((phase) => `${((100 * per(phase)) / Math.max(1e-9, total)).toFixed(0)}%`),
      ];
    }),
  ];
  const w = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) process.stdout.write(`${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}\n`);
  process.stdout.write(
    '\nCPU ms per step of each computing thread (its own work, whatever else the machine runs) and run-queue ms ' +
      "(ready, waiting for a core); workers: busy and waiting wall ms of each replica, and the calling thread's sync.\n",
  );
  const perStep = (p: LearnerProfile, ms: number) => ms / Math.max(1, p.steps);
  const cpuRows = profiles.map(([name, p]) => {
    const threads = p.replicas
      ? p.replicas
          .map(
            (r, k) =>
              `replica ${k}: cpu ${perStep(p, r.cpuMs).toFixed(1)}, busy ${perStep(p, r.busyMs).toFixed(1)}, wait ${perStep(p, r.waitMs).toFixed(1)}`,
          )
          .join('; ') +
        `; sync on the calling thread: cpu ${perStep(p, p.cpuMs).toFixed(1)}, wall ${perStep(p, p.ms.sync).toFixed(1)}`
      : `cpu ${perStep(p, p.cpuMs).toFixed(1)}, run queue ${perStep(p, p.runQueueMs).toFixed(1)}`;
    return `${name}: ${threads}`;
  });
  for (const line of cpuRows) process.stdout.write(`${line}\n`);
  const one = profiles.find(([name]) => name === 'wasm, 1 worker')?.[1];
  const two = profiles.find(([name]) => name === 'wasm, 2 workers')?.[1];
  if (one?.replicas && two?.replicas) {
    const c1 = perStep(one, one.replicas[0]!.cpuMs);
    const c2 = two.replicas.map((r) => perStep(two, r.cpuMs));
    const critical = Math.max(...c2) + perStep(two, two.cpuMs);
    const speedUp = c1 / critical;
    process.stdout.write(
      `2 workers / 1 worker implied by CPU time: ${speedUp.toFixed(2)}× (parallel efficiency ${((100 * speedUp) / 2).toFixed(0)}%): ` +
        `one worker ${c1.toFixed(1)} ms per step; two: the busier replica ${Math.max(...c2).toFixed(1)} + sync ${perStep(two, two.cpuMs).toFixed(1)} ms, ` +
        `both replicas' work ${(c2.reduce((a, b) => a + b, 0) / c1).toFixed(2)}× one worker's\n`,
    );
  }
  const implied = impliedSpeedUp(cpuPerStep.get('wasm, 1 worker'), cpuPerStep.get('wasm, 2 workers'));
  if (implied) process.stdout.write(`${implied}\n`);
  if (timelines.length > 0)
    process.stdout.write(
      '\nEach call of a step, on the process clock: phases (a step is forwardBackward, then the sharded ' +
        "optimiser step: gradients into shared memory, each owner's sum, each owner's Adam, the new weights in); within each, the " +
        "replica that answered last: its compute (its thread's CPU and run-queue wait), its messaging (serialise, " +
        "deliver, queue, reply) and how much longer it computed than the fastest replica (the others' wait).\n" +
        `${timelines.join('\n')}\n`,
    );
}
if (args.includes('--kernels')) {
  // Where a wasm training step's CPU goes, by kernel: every kernel call wrapped with the thread's CPU
  // clock (nested calls count in their outermost kernel), after the measurements above.
  await useBackend('wasm');
  const byKernel = new Map<string, { ms: number; calls: number }>();
  let depth = 0;
  for (const kernel of tf.getKernelsForBackend('wasm')) {
    const run = kernel.kernelFunc;
    tf.unregisterKernel(kernel.kernelName, 'wasm');
    tf.registerKernel({
      ...kernel,
      kernelFunc: (call) => {
        if (depth > 0) return run(call);
        depth++;
        const started = threadTimes().cpuMs;
        try {
          return run(call);
        } finally {
          depth--;
          const entry = byKernel.get(kernel.kernelName) ?? { ms: 0, calls: 0 };
          entry.ms += threadTimes().cpuMs - started;
          entry.calls++;
          byKernel.set(kernel.kernelName, entry);
        }
      },
    });
  }
  const learner = await createEmbeddedLearner({
    decoder,
    weights: initDecoderWeights(decoder, { seed: 0 }),
    backend: 'wasm',
    microBatchSize: microBatch,
  });
  await learner.forwardBackward(data, 'ppo');
  await learner.optimStep({ learningRate: 1e-4 });
  byKernel.clear();
  const started = threadTimes().cpuMs;
  for (let i = 0; i < repeats; i++) {
    await learner.forwardBackward(data, 'ppo');
    await learner.optimStep({ learningRate: 1e-4 });
  }
  const step = (threadTimes().cpuMs - started) / repeats;
  await learner.close();
  const inKernels = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0) / repeats;
  process.stdout.write(
    `\nwasm, in process: CPU ms per training step by kernel (${step.toFixed(1)} ms a step, ${inKernels.toFixed(1)} in kernels)\n`,
  );
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20))
    process.stdout.write(
      `${name.padEnd(28)} ${(e.ms / repeats).toFixed(1).padStart(7)} ms  ${String(e.calls / repeats).padStart(4)} calls\n`,
    );
}
if (args.includes('--young-mb')) {
  // The workers' young generation against their default, alternated in rounds within this run:
  // 1 and 2 workers each way, per round.
  const youngMb = arg('young-mb', 0);
  const rounds = arg('rounds', 3);
  await useBackend('wasm');
  const settings: EmbeddedLearnerSettings = {
    decoder,
    weights: initDecoderWeights(decoder, { seed: 0 }),
    backend: 'wasm',
    microBatchSize: microBatch,
  };
  const arms = [
    ['default', {}],
    [`young ${youngMb} MB`, { youngGenerationMb: youngMb }],
  ] as const;
  const results = new Map<string, Array<{ wall: number; implied: number; other: number[] }>>();
  process.stdout.write(
    `\nWorkers' young generation: the default (${DEFAULT_YOUNG_GENERATION_MB} MB) against ${youngMb} MB, ${rounds} rounds alternated; per round ` +
      '2 workers / 1 worker by wall time, the same implied by CPU time (all threads, 2 idle cores), ' +
      "the process's other threads' CPU ms per step (1 worker, 2 workers), and the CPU ms per step the implied figure rests on\n",
  );
  for (let r = 0; r < rounds; r++) {
    for (const [arm, options] of arms) {
      const perWorkers: Array<{ train: number; cpu: StepCpu; other: number }> = [];
      for (const workers of [1, 2]) {
        const m = await measure(await createWorkerLearner(settings, workers, options));
        perWorkers.push({ train: m.train, cpu: stepCpu(m)!, other: m.threads.otherCpuMs / m.profile.steps });
      }
      const [one, two] = perWorkers as [(typeof perWorkers)[0], (typeof perWorkers)[0]];
      const result = {
        wall: two.train / one.train,
        implied: impliedWall(one.cpu) / impliedWall(two.cpu),
        other: [one.other, two.other],
      };
      results.set(arm, [...(results.get(arm) ?? []), result]);
      process.stdout.write(
        `round ${r + 1}, ${arm.padEnd(16)} wall ${result.wall.toFixed(2)}×, implied ${result.implied.toFixed(2)}×, ` +
          `other threads ${result.other.map((x) => x.toFixed(1)).join(' / ')} ms, ` +
          `one worker ${one.cpu.busier.toFixed(1)} ms, two: busier replica ${two.cpu.busier.toFixed(1)}, all threads ${two.cpu.all.toFixed(1)} ms (load ${loadavg()[0]!.toFixed(1)})\n`,
      );
    }
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [arm, rs] of results)
    process.stdout.write(
      `${arm.padEnd(16)} median wall ${mid(rs.map((x) => x.wall)).toFixed(2)}× (${Math.min(...rs.map((x) => x.wall)).toFixed(2)}–${Math.max(...rs.map((x) => x.wall)).toFixed(2)}), ` +
        `implied ${mid(rs.map((x) => x.implied)).toFixed(2)}× (${Math.min(...rs.map((x) => x.implied)).toFixed(2)}–${Math.max(...rs.map((x) => x.implied)).toFixed(2)}), ` +
        `other threads with 2 workers ${mid(rs.map((x) => x.other[1]!)).toFixed(1)} ms per step\n`,
    );
}

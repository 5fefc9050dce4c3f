/**
 * `pnpm bench optimizer-step`: the CPU a data-parallel optimiser step costs each replica (all that
 * follows forwardBackward), sharded against unsharded, on the main job's model and `pnpm bench
 * learner`'s batch, two replicas. Both replicas run in this one thread, so the process's CPU time
 * is their work (and V8's helper threads'), whatever else the machine runs; steps alternate
 * between the two, after `--warmup` steps of each.
 *
 * - sharded (`optimizer-shards.ts`): every replica's shareGradients, reduceGradients, optimStep and
 *   receiveWeights;
 * - unsharded, the step before it: every replica's gradient copied out (`getGradients`), their sum,
 *   and every replica's Adam on all the weights. It leaves out loading the sum back into each
 *   replica, so it is the cheaper side of the old step.
 *
 * Options: --steps 30 --warmup 15
 */
import { loadavg } from 'node:os';
import { initDecoderWeights } from '@toolgym/agents';
import { decoderWeightShapes } from '@toolgym/agents/decoder-config';
import { createEmbeddedLearner, type EmbeddedLearner } from '../src/learner/embedded-learner.ts';
import { allocateOptimizerShards } from '../src/learner/optimizer-shards.ts';
import { benchBatch, mainJobDecoder } from './learner-bench-batch.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const steps = arg('steps', 30);
const warmup = arg('warmup', 15);
const decoder = mainJobDecoder();
const weights = initDecoderWeights(decoder, { seed: 1, std: 0.05 });
const seq = 96;
const data = benchBatch(64, seq);
const shardsOfData = [data.slice(0, 32), data.slice(32)];
const shard = { batchUnits: 64 * seq, batchTokens: 64 * seq };
const adam = { learningRate: 1e-3 };

const shared = allocateOptimizerShards(decoderWeightShapes(decoder), 2);
// One at a time: the wasm backend initialises once, on the first.
const sharded: EmbeddedLearner[] = [];
const unsharded: EmbeddedLearner[] = [];
for (const replica of [0, 1]) {
  sharded.push(await createEmbeddedLearner({ decoder, weights, optimizerShards: { ...shared, replica } }));
  unsharded.push(await createEmbeddedLearner({ decoder, weights }));
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One step of two replicas; returns the optimiser part's CPU ms per replica. */
async function step(learners: EmbeddedLearner[], optimise: () => Promise<void>): Promise<number> {
  for (const [r, learner] of learners.entries())
    await learner.forwardBackward(shardsOfData[r]!, 'ppo', {}, shard);
  const started = cpuMs();
  await optimise();
  return (cpuMs() - started) / learners.length;
}

const shardedStep = () =>
  step(sharded, async () => {
    for (const learner of sharded) await learner.shareGradients();
    for (const learner of sharded) await learner.reduceGradients();
    for (const learner of sharded) await learner.optimStep(adam);
    for (const learner of sharded) await learner.receiveWeights();
  });
const unshardedStep = () =>
  step(unsharded, async () => {
    const parts = await Promise.all(unsharded.map((l) => l.getGradients()));
    const sum: Record<string, Float32Array> = {};
    for (const part of parts)
      for (const [name, g] of Object.entries(part!)) {
        const total = sum[name] ?? new Float32Array(g.length);
        for (let i = 0; i < g.length; i++) total[i]! += g[i]!;
        sum[name] = total;
      }
    for (const learner of unsharded) await learner.optimStep(adam);
  });

const times = { sharded: [] as number[], unsharded: [] as number[] };
for (let i = 0; i < warmup + steps; i++) {
  const [a, b] = [await shardedStep(), await unshardedStep()];
  if (i < warmup) continue;
  times.sharded.push(a);
  times.unsharded.push(b);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 4)]!.toFixed(2)}–${s[Math.floor((3 * s.length) / 4)]!.toFixed(2)}`;
};
process.stdout.write(
  `optimiser step of 2 data-parallel replicas (all after forwardBackward), CPU ms per replica per step, ` +
    `median (interquartile) of ${steps} alternated steps after ${warmup}; load average ${loadavg()[0]!.toFixed(1)}\n` +
    `  sharded:   ${median(times.sharded).toFixed(2)} (${quartiles(times.sharded)})\n` +
    `  unsharded: ${median(times.unsharded).toFixed(2)} (${quartiles(times.unsharded)})\n` +
    `  sharded / unsharded: ${(median(times.sharded) / median(times.unsharded)).toFixed(2)}\n`,
);
for (const learner of [...sharded, ...unsharded]) await learner.close();

/**
 * The embedded learner in worker threads. TF.js on wasm computes synchronously, so in the training
 * process it would block the event loop for the whole of a learner step: no rollouts, no live
 * replay feed. Behind workers the calls are the same `Learner` interface, and the main thread keeps
 * playing episodes while the learner trains (`rl.asyncLevel`).
 *
 * With `workers` > 1 the learner is data-parallel: every worker holds a replica; a batch is split
 * into shards of similar sequence length (`shardData`), each weighed against the whole batch's loss
 * units, so the replicas' gradients add up to the batch's. The optimiser step is sharded between the
 * replicas (`optimizer-shards.ts`): each sums the gradients of the weights it owns through shared
 * memory, takes their Adam step and shares the new weights, so the replicas stay identical; the
 * replicas meet at a barrier in that memory between the parts, and the calling thread makes one
 * call to each per step.
 *
 * An error the learner throws comes back as the same error class (`LearnerInputError` stays one);
 * a worker that dies fails every pending and later call with the reason, rather than hanging.
 */
import { Worker } from 'node:worker_threads';
import { decoderWeightShapes } from '@toolgym/agents/decoder-config';
import { ToolGymError } from '@toolgym/protocol';
import { DEFAULT_POLICY_LOSS } from '../algorithms/policy-loss.ts';
import type { LossFnName } from '../algorithms/policy-losses.ts';
import { adamSettings, type EmbeddedLearnerSettings, lossUnits, validateData } from './embedded-learner.ts';
import {
  type Datum,
  type ForwardBackwardOutput,
  type Learner,
  LearnerInputError,
  type LearnerState,
  type LossFnConfig,
  resetOptimizerOf,
} from './learner.ts';
import {
  emptyLearnerProfile,
  type LearnerPhase,
  type LearnerProfile,
  MAX_TIMED_CALLS,
  processClockMs,
  type WorkerCallTiming,
} from './learner-profile.ts';
import { abortReplicas, allocateOptimizerShards } from './optimizer-shards.ts';

/** The learner behind worker threads, and where its steps' time went. */
export interface WorkerLearner extends Learner {
  /**
   * Time by phase since the last call: forward, backward and optimiser as the slowest replica spent
   * them (replicas run in parallel), the gradient sync as the calling thread waited for it; each
   * replica's busy, CPU and waiting time (`replicas`), the calling thread's CPU time in the sync, and
   * every call's timeline (`calls`).
   */
  takeProfile(): Promise<LearnerProfile>;
  /** The worker threads' ids (Linux's tid; undefined off Linux), in replica order. */
  readonly threadIds: ReadonlyArray<number | undefined>;
}

/** The worker's stamps of a call, on the process clock (see `WorkerCallTiming`). */
export type WorkerCallStamps = Pick<
  WorkerCallTiming,
  'received' | 'started' | 'ended' | 'cpuMs' | 'runQueueMs'
>;

/** What the worker posts back for call `id`. */
export type WorkerReply = (
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: string; hint?: string } }
) & { timing?: WorkerCallStamps };

type Call = (method: string, ...args: unknown[]) => Promise<unknown>;

/** How the worker threads run (their JavaScript heap), beside the learner's settings. */
export interface WorkerLearnerOptions {
  /**
   * Each worker's young generation in MB (V8's `maxYoungGenerationSizeMb`), default
   * `DEFAULT_YOUNG_GENERATION_MB`. With V8's own (48 MB here) a worker's old generation had no
   * more slack than its young generation could promote, so V8 marked ahead and every ~12 MB of
   * allocation ended in a full collection, which also dropped the optimised code of tfjs's per-call
   * closures: V8's helper threads, which with two workers on two cores take turns from the
   * workers, spent twice the CPU (trainer README, *Backends*).
   */
  youngGenerationMb?: number;
}

/** The workers' young generation unless set (`WorkerLearnerOptions.youngGenerationMb`). */
export const DEFAULT_YOUNG_GENERATION_MB = 12;

/** Calls about the worker rather than the learner's work, left out of the profile's timeline. */
const UNTIMED = new Set(['ready', 'takeProfile']);

/** One worker thread running an embedded learner; calls are answered in order, each timed into `calls`. */
async function startWorker(
  settings: EmbeddedLearnerSettings,
  options: WorkerLearnerOptions,
  replica: number,
  calls: WorkerCallTiming[],
  onDeath: () => void,
): Promise<{ call: Call; close: () => Promise<void>; threadId: number | undefined }> {
  const worker = new Worker(new URL('./learner-worker.js', import.meta.url), {
    workerData: settings,
    resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationMb ?? DEFAULT_YOUNG_GENERATION_MB },
  });
  const pending = new Map<
    number,
    {
      method: string;
      sent: number;
      posted: number;
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
    }
  >();
  let nextId = 0;
  let dead: Error | undefined;
  const fail = (error: Error) => {
    if (!dead) onDeath();
    dead ??= error;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.timing && !UNTIMED.has(p.method)) {
      if (calls.length >= MAX_TIMED_CALLS) calls.shift();
      calls.push({
        method: p.method,
        replica,
        sent: p.sent,
        posted: p.posted,
        ...reply.timing,
        replied: processClockMs(),
      });
    }
    if (reply.ok) p.resolve(reply.value);
    else {
      const { name, message, code, hint } = reply.error;
      const error =
        name === 'LearnerInputError'
          ? new LearnerInputError(message)
          : code !== undefined
            ? new ToolGymError(code, message, hint)
            : new Error(message);
      error.name = name;
      p.reject(error);
    }
  });
  worker.on('error', (e) => fail(new Error(`the learner worker failed: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(`the learner worker exited (code ${code})`)));
  const call: Call = (method, ...args) => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const sent = processClockMs();
      worker.postMessage({ id, method, args });
      pending.set(id, { method, sent, posted: processClockMs(), resolve, reject });
    });
  };
  const close = async () => {
    if (dead) return;
    await call('close').catch(() => undefined);
    dead ??= new Error('the learner worker was closed');
    await worker.terminate();
  };
  try {
    const threadId = (await call('ready')) as number | undefined;
    return { call, close, threadId };
  } catch (e) {
    await worker.terminate();
    throw e;
  }
}

/**
 * Splits data into at most `n` shards of sequences of similar length, as even as can be in padded
 * tokens (sequences × the longest): sorted by length and cut where the largest shard is smallest.
 * A shard is padded to its longest sequence, so mixing lengths would waste work.
 */
export function shardData(data: Datum[], n: number): Array<{ data: Datum[]; indices: number[] }> {
  const order = data.map((_, i) => i);
  const length = (i: number) => data[i]!.modelInput.tokens.length;
  order.sort((a, b) => length(a) - length(b) || a - b);
  /** Greedy contiguous cuts with no shard above `cap` padded tokens (lengths ascend within a shard). */
  const cut = (cap: number) => {
    const shards: number[][] = [];
    for (const i of order) {
      const last = shards[shards.length - 1];
      if (last && (last.length + 1) * length(i) <= cap) last.push(i);
      else shards.push([i]);
    }
    return shards;
  };
  let lo = Math.max(0, ...order.map(length));
  let hi = lo * Math.max(1, order.length);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (cut(mid).length <= n) hi = mid;
    else lo = mid + 1;
  }
  return cut(lo).map((indices) => ({ data: indices.map((i) => data[i]!), indices }));
}

export async function createWorkerLearner(
  settings: EmbeddedLearnerSettings,
  workers = 1,
  options: WorkerLearnerOptions = {},
): Promise<WorkerLearner> {
  if (!Number.isInteger(workers) || workers < 1)
    throw new LearnerInputError(`workers must be a whole number ≥ 1, got ${workers}`);
  const young = options.youngGenerationMb;
  if (young !== undefined && !(Number.isFinite(young) && young > 0))
    throw new LearnerInputError(`youngGenerationMb must be a number of MB > 0, got ${young}`);
  const replicas: Array<Awaited<ReturnType<typeof startWorker>>> = [];
  const calls: WorkerCallTiming[] = [];
  const shards =
    workers > 1 ? allocateOptimizerShards(decoderWeightShapes(settings.decoder), workers) : undefined;
  const replicaSettings = (replica: number): EmbeddedLearnerSettings =>
    shards ? { ...settings, optimizerShards: { ...shards, replica } } : settings;
  try {
    for (const r of await Promise.allSettled(
      // A replica that dies must not leave the others waiting for it at the step's barrier.
      Array.from({ length: workers }, (_, k) =>
        startWorker(replicaSettings(k), options, k, calls, () => {
          if (shards) abortReplicas(shards);
        }),
      ),
    )) {
      if (r.status === 'rejected') throw r.reason;
      replicas.push(r.value);
    }
  } catch (e) {
    await Promise.all(replicas.map((r) => r.close()));
    throw e;
  }
  const [first] = replicas as [(typeof replicas)[0]];
  const all = (method: string, ...args: unknown[]) =>
    Promise.all(replicas.map((r) => r.call(method, ...args)));
  /** The wall time of the calls all replicas share. */
  let sharedCallMs = 0;
  const timed = async <T>(call: Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await call;
    } finally {
      sharedCallMs += performance.now() - started;
    }
  };

  /** Runs a forward (and backward) over shards, and puts the outputs back in input order. */
  const sharded = async (
    method: 'forward' | 'forwardBackward',
    data: Datum[],
    lossFn: LossFnName | undefined,
    config: LossFnConfig = {},
  ): Promise<ForwardBackwardOutput> => {
    if (replicas.length === 1)
      return (await timed(first.call(method, data, lossFn, config))) as ForwardBackwardOutput;
    validateData(data, lossFn ?? 'cross_entropy', settings.decoder); // errors name the datum's place in `data`
    const shard = {
      batchUnits: lossUnits(data, config.aggregation ?? DEFAULT_POLICY_LOSS.aggregation),
      batchTokens: lossUnits(data, 'token-mean'),
    };
    const shards = shardData(data, replicas.length);
    const outputs = (await timed(
      Promise.all(shards.map((s, k) => replicas[k]!.call(method, s.data, lossFn, config, shard))),
    )) as ForwardBackwardOutput[];
    const lossFnOutputs: ForwardBackwardOutput['lossFnOutputs'] = new Array(data.length);
    const metrics: Record<string, number> = {};
    outputs.forEach((out, k) => {
      shards[k]!.indices.forEach((i, j) => {
        lossFnOutputs[i] = out.lossFnOutputs[j]!;
      });
      // Each shard's loss and metrics are already weighed by its share of the batch: they add up.
      for (const [name, v] of Object.entries(out.metrics)) metrics[name] = (metrics[name] ?? 0) + v;
    });
    return { lossFnOutputs, metrics };
  };

  return {
    threadIds: replicas.map((r) => r.threadId),
    info: () => first.call('info'),
    forward: (data, lossFn, config) => sharded('forward', data, lossFn, config),
    forwardBackward: (data, lossFn, config) => sharded('forwardBackward', data, lossFn, config),
    async optimStep(adam) {
      if (replicas.length === 1) {
        const [out] = await timed(all('optimStep', adam));
        return out;
      }
      adamSettings(adam); // a bad setting fails here, before the replicas give up their gradients
      const [out] = await timed(all('optimStepSharded', adam));
      return out;
    },
    async takeProfile() {
      const parts = (await all('takeProfile')) as LearnerProfile[];
      const profile = emptyLearnerProfile();
      profile.steps = parts[0]!.steps;
      const computing: LearnerPhase[] = ['forward', 'backward', 'optimizer'];
      for (const phase of computing) profile.ms[phase] = Math.max(...parts.map((p) => p.ms[phase]));
      // The gradient sync is the replicas' (their parts of the sharded step, their waits at its barrier).
      profile.ms.sync = Math.max(...parts.map((p) => p.ms.sync));
      profile.replicas = parts.map((p) => {
        const computed = computing.reduce((sum, phase) => sum + p.ms[phase], 0);
        return { busyMs: computed + p.ms.sync, cpuMs: p.cpuMs, waitMs: sharedCallMs - computed - p.ms.sync };
      });
      profile.calls = calls.splice(0);
      sharedCallMs = 0;
      return profile;
    },
    async heapBytes() {
      const parts = (await all('heapBytes')) as number[];
      return parts.reduce((a, b) => a + b, 0);
    },
    saveWeights: () => first.call('saveWeights'),
    loadWeights: async (weights) => {
      await all('loadWeights', weights);
    },
    async saveState() {
      const parts = (await all('saveState')) as LearnerState[];
      if (!shards) return parts[0]!;
      // Adam's moments of each weight from its owner, in weight order.
      const gather = (key: 'adamM' | 'adamV') => {
        const out: LearnerState['adamM'] = {};
        for (const [k, name] of shards.names.entries()) {
          const moment = parts[shards.owners[k]!]![key][name];
          if (moment) out[name] = moment;
        }
        return out;
      };
      return { ...parts[0]!, adamM: gather('adamM'), adamV: gather('adamV') };
    },
    loadState: async (state) => {
      await all('loadState', state);
    },
    async resetOptimizer() {
      await resetOptimizerOf(this);
    },
    async close() {
      await Promise.all(replicas.map((r) => r.close()));
    },
  } as WorkerLearner;
}

/**
 * The embedded learner: ToolGym's small decoder in TensorFlow.js (wasm or cpu backend), in process.
 * Gradients accumulate over `forwardBackward` calls until `optimStep` (Tinker semantics).
 */

import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from '@toolgym/agents/decoder-config';
import { type Aggregation, DEFAULT_POLICY_LOSS, type PolicyLossConfig } from '../algorithms/policy-loss.ts';
import { type LossFnName, POLICY_LOSSES } from '../algorithms/policy-losses.ts';
import { addFloat32, adamStep, sumOfSquares } from './adam-kernel.ts';
import { type TfBackend, useBackend } from './backend.ts';
import {
  type AdamParams,
  type Datum,
  type ForwardBackwardOutput,
  type Learner,
  type LearnerInfo,
  LearnerInputError,
  type LearnerState,
  type LossFnConfig,
  lossWeights,
  type OptimStepOutput,
  resetOptimizerOf,
} from './learner.ts';
import { emptyLearnerProfile, type LearnerProfile, startThreadClock } from './learner-profile.ts';
import { abortReplicas, awaitReplicas, type OptimizerShards } from './optimizer-shards.ts';
import { TfDecoder } from './tf-decoder.ts';
import { wasmHeapBytes } from './wasm-memory.ts';

export interface EmbeddedLearnerSettings {
  decoder: DecoderConfig;
  weights: DecoderWeights;
  /** Default `wasm`. */
  backend?: TfBackend;
  /** Data are processed in micro-batches of at most this many sequences (bounds memory). Default 32. */
  microBatchSize?: number;
  /**
   * A micro-batch holds at most this many attention scores per layer (sequences × heads × T², T its
   * longest sequence; one sequence always fits). A step keeps about twenty float32 values per score,
   * and the wasm heap stops at 4 GiB. Default 2^24: one sequence of 2,048 tokens with 4 heads.
   */
  maxAttentionScores?: number;
  /**
   * A data-parallel replica's part in the sharded optimiser step (`createWorkerLearner` sets it):
   * the step runs through `shareGradients`, `reduceGradients`, `optimStep` and `receiveWeights`
   * (or all four in one `optimStepSharded` call per replica, in threads of their own), and this
   * replica keeps Adam's moments of the weights it owns only.
   */
  optimizerShards?: OptimizerShards;
}

const DEFAULT_ATTENTION_SCORES = 2 ** 24;

/**
 * One replica's part of a data-parallel batch: its loss is weighed against the whole batch's loss
 * units (see `lossUnits`), so the replicas' gradients add up to the batch's.
 */
export interface Shard {
  batchUnits: number;
  /** The whole batch's trained tokens (sum of loss weights), which weigh the per-token metrics. */
  batchTokens: number;
}

/** Metrics that count (tokens touched), and add up over micro-batches; the others are token means. */
const COUNT_METRICS = new Set(['cov_tokens']);

interface Padded {
  ids: tf.Tensor2D;
  targets: tf.Tensor2D;
  weights: tf.Tensor2D;
  advantages: tf.Tensor2D;
  oldLogprobs: tf.Tensor2D;
  refLogprobs?: tf.Tensor2D;
  lengths: number[];
}

export async function createEmbeddedLearner(settings: EmbeddedLearnerSettings): Promise<EmbeddedLearner> {
  const backend = await useBackend(settings.backend ?? 'wasm');
  return new EmbeddedLearner(settings, backend);
}

export class EmbeddedLearner implements Learner {
  private readonly model: TfDecoder;
  private gradients: Map<string, tf.Tensor> | undefined;
  private readonly adamM = new Map<string, tf.Variable>();
  private readonly adamV = new Map<string, tf.Variable>();
  private stepCount = 0;
  private readonly shards?: OptimizerShards;
  /** Sharded step, from `reduceGradients` to `receiveWeights`: which weights the batch has a gradient of. */
  private reduced: boolean[] | undefined;
  private readonly microBatchSize: number;
  private readonly maxAttentionScores: number;
  private profile = emptyLearnerProfile();

  constructor(
    settings: EmbeddedLearnerSettings,
    private readonly backend: TfBackend,
  ) {
    this.model = new TfDecoder(settings.decoder, settings.weights, decoderWeightShapes(settings.decoder));
    this.microBatchSize = settings.microBatchSize ?? 32;
    this.maxAttentionScores = settings.maxAttentionScores ?? DEFAULT_ATTENTION_SCORES;
    if (settings.optimizerShards) this.shards = settings.optimizerShards;
  }

  get decoder(): DecoderConfig {
    return this.model.config;
  }

  async info(): Promise<LearnerInfo> {
    let parameters = 0;
    for (const v of this.model.variables.values()) parameters += v.size;
    return { backend: this.backend, decoder: this.model.config, parameters, step: this.stepCount };
  }

  async heapBytes(): Promise<number> {
    return this.backend === 'wasm' ? wasmHeapBytes() : 0;
  }

  /** Right-pads a micro-batch into [B, T] tensors (padding has weight 0). */
  private pad(data: Datum[]): Padded {
    const seq = Math.max(...data.map((d) => d.modelInput.tokens.length));
    const batch = data.length;
    const ids = new Int32Array(batch * seq);
    const targets = new Int32Array(batch * seq);
    const weights = new Float32Array(batch * seq);
    const advantages = new Float32Array(batch * seq);
    const oldLogprobs = new Float32Array(batch * seq);
    const hasRef = data.every((d) => d.lossFnInputs.ref_logprobs);
    const ref = new Float32Array(hasRef ? batch * seq : 0);
    // Loops, not callbacks, for every per-token pass of a step (here, `validateData`, `lossUnits`):
    // a callback made per call is a new closure each step, and V8 holds a closure's optimised code
    // only weakly once the closure is gone, so after each full collection the next step's closure
    // is compiled again, on a helper thread that takes turns with the workers (trainer README).
    for (let b = 0; b < batch; b++) {
      const d = data[b]!;
      const off = b * seq;
      const inputs = d.lossFnInputs;
      const tokens = d.modelInput.tokens;
      for (let i = 0; i < tokens.length; i++) {
        ids[off + i] = tokens[i]!;
        targets[off + i] = inputs.target_tokens[i] ?? 0;
        weights[off + i] = inputs.weights ? (inputs.weights[i] ?? 0) : 1;
        advantages[off + i] = inputs.advantages?.[i] ?? 0;
        oldLogprobs[off + i] = inputs.logprobs?.[i] ?? 0;
        if (hasRef) ref[off + i] = inputs.ref_logprobs?.[i] ?? 0;
      }
    }
    return {
      ids: tf.tensor2d(ids, [batch, seq], 'int32'),
      targets: tf.tensor2d(targets, [batch, seq], 'int32'),
      weights: tf.tensor2d(weights, [batch, seq]),
      advantages: tf.tensor2d(advantages, [batch, seq]),
      oldLogprobs: tf.tensor2d(oldLogprobs, [batch, seq]),
      ...(hasRef ? { refLogprobs: tf.tensor2d(ref, [batch, seq]) } : {}),
      lengths: data.map((d) => d.modelInput.tokens.length),
    };
  }

  private lossOf(padded: Padded, lossFn: LossFnName, config: LossFnConfig) {
    const { logprobs, entropy } = this.model.targetLogprobs(
      padded.ids,
      padded.targets,
      config.temperature ?? 1,
    );
    const policyConfig: PolicyLossConfig & Pick<LossFnConfig, 'truncation'> = {
      ...DEFAULT_POLICY_LOSS,
      ...stripUndefined(config),
    };
    const result = POLICY_LOSSES[lossFn].loss(
      {
        logprobs,
        oldLogprobs: padded.oldLogprobs,
        advantages: padded.advantages,
        weights: padded.weights,
        entropy,
        ...(padded.refLogprobs ? { refLogprobs: padded.refLogprobs } : {}),
      },
      policyConfig,
    );
    return { ...result, logprobs, entropy };
  }

  /**
   * Splits into micro-batches of similar length (sorted, so little padding), each within
   * `microBatchSize` sequences and `maxAttentionScores`; each entry keeps its position in `data`,
   * so outputs come back in input order.
   */
  private microBatches(data: Datum[]): Array<Array<{ datum: Datum; index: number }>> {
    const byLength = data
      .map((datum, index) => ({ datum, index }))
      .sort((a, b) => a.datum.modelInput.tokens.length - b.datum.modelInput.tokens.length);
    const scores = (n: number, longest: number) => n * this.model.config.nHeads * longest ** 2;
    const out: Array<Array<{ datum: Datum; index: number }>> = [];
    let chunk: Array<{ datum: Datum; index: number }> = [];
    for (const entry of byLength) {
      // Sorted by length: the entry is the longest of its chunk.
      const longest = entry.datum.modelInput.tokens.length;
      if (
        chunk.length > 0 &&
        (chunk.length >= this.microBatchSize || scores(chunk.length + 1, longest) > this.maxAttentionScores)
      ) {
        out.push(chunk);
        chunk = [];
      }
      chunk.push(entry);
    }
    if (chunk.length > 0) out.push(chunk);
    return out;
  }

  private async run(
    data: Datum[],
    lossFn: LossFnName,
    config: LossFnConfig,
    withGradient: boolean,
    shard?: Shard,
  ): Promise<ForwardBackwardOutput> {
    validateData(data, lossFn, this.model.config);
    const chunks = this.microBatches(data);
    const aggregation = config.aggregation ?? DEFAULT_POLICY_LOSS.aggregation;
    const batchUnits = Math.max(shard?.batchUnits ?? lossUnits(data, aggregation), 1e-8);
    const batchTokens = Math.max(shard?.batchTokens ?? lossUnits(data, 'token-mean'), 1e-8);
    /** One micro-batch holding the whole batch: its loss and metrics are the batch's as they are. */
    const whole = chunks.length === 1 && !shard;
    const lossFnOutputs: Array<{ logprobs: number[] }> = new Array(data.length);
    const metricSums: Record<string, number> = {};
    let lossSum = 0;
    let tokens = 0;
    for (const chunk of chunks) {
      const members = chunk.map((c) => c.datum);
      const share = whole ? 1 : lossUnits(members, aggregation) / batchUnits;
      const tokenShare = whole ? 1 : lossUnits(members, 'token-mean') / batchTokens;
      const padded = this.pad(members);
      try {
        let logprobValues: Float32Array = new Float32Array(0);
        let metrics: Record<string, number> = {};
        let lossValue = 0;
        if (withGradient) {
          const vars = [...this.model.variables.values()];
          const started = performance.now();
          let forwardDone = started;
          const { value, grads } = tf.variableGrads(() => {
            const r = this.lossOf(padded, lossFn, config);
            logprobValues = (r.logprobs.dataSync() as Float32Array).slice();
            metrics = {
              ...r.metrics(),
              entropy:
                tf
                  .div(tf.sum(tf.mul(r.entropy, padded.weights)), tf.maximum(tf.sum(padded.weights), 1e-8))
                  .dataSync()[0] ?? 0,
            };
            const scaled = tf.mul(r.loss, share) as tf.Scalar;
            forwardDone = performance.now();
            return scaled;
          }, vars);
          lossValue = (value.dataSync()[0] ?? 0) / share;
          value.dispose();
          this.accumulate(grads);
          this.profile.ms.forward += forwardDone - started;
          this.profile.ms.backward += performance.now() - forwardDone;
        } else {
          tf.tidy(() => {
            const r = this.lossOf(padded, lossFn, config);
            logprobValues = (r.logprobs.dataSync() as Float32Array).slice();
            metrics = r.metrics();
            lossValue = r.loss.dataSync()[0] ?? 0;
          });
        }
        const seq = padded.ids.shape[1];
        for (let b = 0; b < padded.lengths.length; b++) {
          const n = padded.lengths[b]!;
          lossFnOutputs[chunk[b]!.index] = { logprobs: numbersOf(logprobValues, b * seq, n) };
          tokens += n;
        }
        lossSum += lossValue * share;
        for (const [k, v] of Object.entries(metrics))
          metricSums[k] = (metricSums[k] ?? 0) + (COUNT_METRICS.has(k) ? v : v * tokenShare);
      } finally {
        for (const t of Object.values(padded)) if (t instanceof tf.Tensor) t.dispose();
      }
    }
    return { lossFnOutputs, metrics: { loss: lossSum, tokens, ...metricSums } };
  }

  /** Keys gradients by weight name (variableGrads keys them by the engine's variable names). */
  private accumulate(byVariableName: tf.NamedTensorMap): void {
    const grads: Record<string, tf.Tensor> = {};
    for (const [name, variable] of this.model.variables) {
      const g = byVariableName[variable.name];
      if (g) grads[name] = g;
    }
    if (!this.gradients) {
      this.gradients = new Map(Object.entries(grads));
      return;
    }
    for (const [name, g] of Object.entries(grads)) {
      const prev = this.gradients.get(name);
      this.gradients.set(name, prev ? tf.add(prev, g) : g);
      if (prev) {
        prev.dispose();
        g.dispose();
      }
    }
  }

  async forward(
    data: Datum[],
    lossFn: LossFnName = 'cross_entropy',
    config: LossFnConfig = {},
    shard?: Shard,
  ): Promise<ForwardBackwardOutput> {
    return this.run(data, lossFn, config, false, shard);
  }

  async forwardBackward(
    data: Datum[],
    lossFn: LossFnName,
    config: LossFnConfig = {},
    shard?: Shard,
  ): Promise<ForwardBackwardOutput> {
    const stop = startThreadClock(this.profile);
    try {
      return await this.run(data, lossFn, config, true, shard);
    } finally {
      stop();
    }
  }

  /** The accumulated gradient, copied out. */
  async getGradients(): Promise<DecoderWeights | undefined> {
    if (!this.gradients) return undefined;
    return Object.fromEntries(
      [...this.gradients].map(([name, g]) => [name, (g.dataSync() as Float32Array).slice()]),
    );
  }

  /** Sharded step, first: this replica's accumulated gradient into shared memory; whether it had one. */
  async shareGradients(): Promise<boolean> {
    const s = this.sharding();
    return this.syncing(() => {
      const grads = this.gradients;
      this.gradients = undefined;
      this.reduced = undefined;
      const n = s.names.length;
      for (let k = 0; k < n; k++) {
        const g = grads?.get(s.names[k]!);
        s.present[s.replica * n + k] = g ? 1 : 0;
        if (g) s.gradients[s.replica]![k]!.set(g.dataSync() as Float32Array);
      }
      if (grads) for (const g of grads.values()) g.dispose();
      return grads !== undefined;
    });
  }

  /**
   * Sharded step, second (every replica's gradient shared): the gradients of the weights this
   * replica owns, summed over the replicas in replica order from zero, in float32 (as one learner
   * summing the replicas' copies would), and each one's sum of squares for the gradient norm.
   */
  async reduceGradients(): Promise<void> {
    const s = this.sharding();
    this.syncing(() => {
      const n = s.names.length;
      const reduced: boolean[] = [];
      const owned = new Map<string, tf.Tensor>();
      for (let k = 0; k < n; k++) {
        let present = false;
        for (let r = 0; r < s.replicas; r++) if (s.present[r * n + k]) present = true;
        reduced.push(present);
        if (!present || s.owners[k] !== s.replica) continue;
        const name = s.names[k]!;
        const total = new Float32Array(s.weights[k]!.length);
        for (let r = 0; r < s.replicas; r++) {
          if (!s.present[r * n + k]) continue;
          const g = s.gradients[r]![k]!;
          for (let i = 0; i < g.length; i++) total[i]! += g[i]!;
        }
        const gradient = tf.tensor(total, this.model.variables.get(name)!.shape);
        owned.set(name, gradient);
        s.sumSquares[k] = sumOfSquares(gradient);
      }
      this.gradients = owned;
      this.reduced = reduced.some(Boolean) ? reduced : undefined;
    });
  }

  /** Sharded step, last (every owner's step taken): the weights other replicas own, as they left them. */
  async receiveWeights(): Promise<void> {
    const s = this.sharding();
    this.syncing(() => {
      const reduced = this.reduced;
      this.reduced = undefined;
      if (!reduced) return;
      tf.tidy(() => {
        for (let k = 0; k < s.names.length; k++) {
          if (!reduced[k] || s.owners[k] === s.replica) continue;
          const variable = this.model.variables.get(s.names[k]!)!;
          variable.assign(tf.tensor(s.weights[k]!, variable.shape));
        }
      });
    });
  }

  /**
   * The whole sharded optimiser step in one call, for a replica with a thread of its own: its
   * gradient shared, the sums of the weights it owns, their Adam step, then the other owners'
   * weights, each part once every replica has finished the one before (`awaitReplicas`). The same
   * parts in the same order as four calls to every replica from the calling thread, so the same
   * bits. A replica that fails mid-step fails the others' waits instead of leaving them blocked.
   */
  async optimStepSharded(adam: AdamParams): Promise<OptimStepOutput> {
    const s = this.sharding();
    const meet = () => this.syncing(() => awaitReplicas(s));
    try {
      await this.shareGradients();
      meet();
      // Every replica reads the same flags, so all of them skip the rest or none does.
      let anyGradient = false;
      for (let i = 0; i < s.present.length; i++) if (s.present[i]) anyGradient = true;
      if (!anyGradient)
        throw new LearnerInputError('optimStep without gradients: call forwardBackward first');
      await this.reduceGradients();
      meet();
      const out = await this.optimStep(adam);
      meet();
      await this.receiveWeights();
      return out;
    } catch (e) {
      if (!(e instanceof LearnerInputError)) abortReplicas(s);
      throw e;
    }
  }

  private sharding(): OptimizerShards {
    if (!this.shards)
      throw new Error('this learner takes whole optimiser steps: it was made without optimizerShards');
    return this.shards;
  }

  /** Runs this replica's side of a gradient sync, counted as `sync` in the profile. */
  private syncing<T>(fn: () => T): T {
    const started = performance.now();
    const stop = startThreadClock(this.profile);
    try {
      return fn();
    } finally {
      stop();
      this.profile.ms.sync += performance.now() - started;
    }
  }

  /** The time spent since the last call (or since creation), by phase. */
  async takeProfile(): Promise<LearnerProfile> {
    const taken = this.profile;
    this.profile = emptyLearnerProfile();
    return taken;
  }

  async optimStep(adam: AdamParams): Promise<OptimStepOutput> {
    const started = performance.now();
    const stop = startThreadClock(this.profile);
    try {
      return this.adamStep(adam);
    } finally {
      stop();
      this.profile.ms.optimizer += performance.now() - started;
    }
  }

  /** Adam on every weight with a gradient (sharded: on those this replica owns, then shares them). */
  private adamStep(adam: AdamParams): OptimStepOutput {
    const { learningRate: lr, beta1, beta2, eps, weightDecay, gradClipNorm: clip } = adamSettings(adam);
    const grads = this.gradients;
    const reduced = this.reduced;
    if (!grads || (this.shards && !reduced))
      throw new LearnerInputError('optimStep without gradients: call forwardBackward first');
    this.gradients = undefined;
    this.stepCount++;
    const t = this.stepCount;
    // Global norm: √ of the per-weight sums of squares added in weight order (sharded: each
    // computed by its owner; every replica adds them the same way, so all agree on the clip).
    // (`addFloat32` adds float32 values as `tf.addN` of float32 scalars does.)
    const squares: number[] = [];
    if (this.shards && reduced) {
      for (let k = 0; k < reduced.length; k++) if (reduced[k]) squares.push(this.shards.sumSquares[k]!);
    } else for (const g of grads.values()) squares.push(sumOfSquares(g));
    const gradNorm = Math.sqrt(addFloat32(squares));
    const scale = clip > 0 && gradNorm > clip ? clip / (gradNorm + 1e-6) : 1;
    const scalars = {
      scale,
      beta1,
      beta2,
      bias1: 1 - beta1 ** t,
      bias2: 1 - beta2 ** t,
      eps,
      lr,
      weightDecay,
    };
    tf.tidy(() => {
      for (const [name, variable] of this.model.variables) {
        const g = grads.get(name);
        if (!g) continue;
        let m = this.adamM.get(name);
        let v = this.adamV.get(name);
        if (!m || !v) {
          m = tf.variable(tf.zerosLike(variable), false);
          v = tf.variable(tf.zerosLike(variable), false);
          this.adamM.set(name, m);
          this.adamV.set(name, v);
        }
        const [w1, m1, v1] = adamStep(variable, m, v, g, scalars);
        m.assign(m1);
        v.assign(v1);
        variable.assign(w1);
      }
    });
    if (this.shards) {
      const { names, weights } = this.shards;
      for (const [k, name] of names.entries())
        if (grads.has(name)) weights[k]!.set(this.model.variables.get(name)!.dataSync() as Float32Array);
    }
    for (const g of grads.values()) g.dispose();
    this.profile.steps++;
    return { metrics: { grad_norm: gradNorm, learning_rate: lr, step: t, clipped: scale < 1 ? 1 : 0 } };
  }

  async saveWeights(): Promise<{ weights: DecoderWeights; step: number }> {
    return { weights: this.model.read(), step: this.stepCount };
  }

  async loadWeights(weights: DecoderWeights): Promise<void> {
    this.model.assign(weights);
  }

  async saveState(): Promise<LearnerState> {
    if (this.gradients)
      throw new LearnerInputError('saveState with accumulated gradients: call optimStep first');
    const read = (vars: Map<string, tf.Variable>) =>
      Object.fromEntries([...vars].map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
    return {
      step: this.stepCount,
      weights: this.model.read(),
      adamM: read(this.adamM),
      adamV: read(this.adamV),
    };
  }

  resetOptimizer(): Promise<void> {
    return resetOptimizerOf(this);
  }

  async loadState(state: LearnerState): Promise<void> {
    this.model.assign(state.weights);
    if (this.gradients) for (const g of this.gradients.values()) g.dispose();
    this.gradients = undefined;
    this.reduced = undefined;
    for (const [target, source] of [
      [this.adamM, state.adamM],
      [this.adamV, state.adamV],
    ] as const) {
      for (const v of target.values()) v.dispose();
      target.clear();
      for (const [name, data] of Object.entries(source)) {
        const variable = this.model.variables.get(name);
        if (!variable) throw new LearnerInputError(`loadState: optimiser state for unknown weight ${name}`);
        if (this.shards && this.shards.owners[this.shards.names.indexOf(name)] !== this.shards.replica)
          continue; // its owner keeps it
        target.set(name, tf.variable(tf.tensor(data, variable.shape), false));
      }
    }
    this.stepCount = state.step;
  }

  async close(): Promise<void> {
    this.model.dispose();
    for (const v of [...this.adamM.values(), ...this.adamV.values()]) v.dispose();
    if (this.gradients) for (const g of this.gradients.values()) g.dispose();
  }
}

/** Adam's settings with their defaults; a learning rate that is not a finite number ≥ 0 is refused. */
export function adamSettings(adam: AdamParams): Required<AdamParams> {
  const lr = adam.learningRate;
  if (!(lr >= 0) || !Number.isFinite(lr))
    throw new LearnerInputError(`adam.learningRate must be a finite number ≥ 0, got ${lr}`);
  return {
    learningRate: lr,
    beta1: adam.beta1 ?? 0.9,
    beta2: adam.beta2 ?? 0.95,
    eps: adam.eps ?? 1e-8,
    weightDecay: adam.weightDecay ?? 0,
    gradClipNorm: adam.gradClipNorm ?? 1,
  };
}

/**
 * How much of a batch's loss `data` carries under `aggregation`, so that a micro-batch's share is
 * its units over the batch's and the micro-batches' losses add up to the batch's: trained tokens
 * for `token-mean`, sequences with a trained token for `sequence-mean`, sequences for
 * `token-sum-norm` (it divides by B), and 1 for `token-sum` (plain sums add).
 */
export function lossUnits(data: Datum[], aggregation: Aggregation): number {
  switch (aggregation) {
    case 'token-mean': {
      let total = 0;
      for (const d of data) total += trainedWeight(d);
      return total;
    }
    case 'sequence-mean': {
      let sequences = 0;
      for (const d of data) if (trainedWeight(d) > 0) sequences++;
      return sequences;
    }
    case 'token-sum-norm':
      return data.length;
    case 'token-sum':
      return 1;
  }
}

/** A datum's loss weights summed in order (a loop: see `pad`). */
function trainedWeight(d: Datum): number {
  const weights = lossWeights(d);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i]!;
  return sum;
}

/**
 * `n` values of `values` from `start`, as an array of numbers. A loop: `Array.from` over a typed
 * array goes through its iterator, an object per value (a quarter of a megabyte a step).
 */
function numbersOf(values: Float32Array, start: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = values[start + i]!;
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Refuses malformed data with an error naming the datum and field (`data[i]` is its place in `data`). */
export function validateData(data: Datum[], lossFn: LossFnName, decoder: DecoderConfig): void {
  if (data.length === 0) throw new LearnerInputError('no data: pass at least one datum');
  const needs: readonly string[] = POLICY_LOSSES[lossFn].needs;
  // Loops, not callbacks (see `pad`).
  for (let i = 0; i < data.length; i++) {
    const d = data[i]!;
    const n = d.modelInput.tokens.length;
    const at = `data[${i}]`;
    if (n === 0) throw new LearnerInputError(`${at}.modelInput.tokens is empty`);
    if (n > decoder.maxPositions)
      throw new LearnerInputError(
        `${at}.modelInput.tokens has ${n} tokens, above maxPositions ${decoder.maxPositions}`,
      );
    const inputs = d.lossFnInputs;
    for (const name of INPUT_NAMES)
      checkInput(
        inputs[name],
        name === 'target_tokens' || needs.includes(name),
        n,
        `${at}.lossFnInputs.${name}`,
        lossFn,
      );
    checkTokens(d.modelInput.tokens, at, decoder.vocabSize);
    checkTokens(inputs.target_tokens, at, decoder.vocabSize);
  }
}

/** A datum's per-token inputs, in the order they are checked. */
const INPUT_NAMES = ['target_tokens', 'weights', 'advantages', 'logprobs', 'ref_logprobs'] as const;

/** One per-token input of a datum (`at` names it): present if required, one entry per input token, finite. */
function checkInput(
  xs: readonly number[] | undefined,
  required: boolean,
  n: number,
  at: string,
  lossFn: LossFnName,
): void {
  if (!xs) {
    if (required) throw new LearnerInputError(`${at} is required by the '${lossFn}' loss`);
    return;
  }
  if (xs.length !== n) throw new LearnerInputError(`${at} has ${xs.length} entries for ${n} input tokens`);
  for (let i = 0; i < xs.length; i++)
    if (!Number.isFinite(xs[i])) throw new LearnerInputError(`${at} holds a non-finite number`);
}

function checkTokens(tokens: readonly number[], at: string, vocabSize: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize)
      throw new LearnerInputError(`${at}: token id ${t} is outside the vocabulary [0, ${vocabSize})`);
  }
}

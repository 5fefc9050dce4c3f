/**
 * The Learner interface, shaped like the Tinker training API so the same calls can go to the
 * embedded TF.js learner or to a remote training service: a datum is the model-input tokens plus
 * per-token loss inputs; `forwardBackward` accumulates gradients, `optimStep` applies Adam.
 *
 * Alignment (as in Tinker): `modelInput.tokens` are the positions fed to the model and
 * `lossFnInputs.target_tokens[i]` is the token predicted at position i (normally tokens[i + 1]).
 * Every per-token array has the length of `modelInput.tokens`.
 */
import type { DecoderConfig, DecoderWeights } from '@toolgym/agents/decoder-config';
import { ToolGymError } from '@toolgym/protocol';
import type { CovControl, KlEstimator, PolicyLossConfig } from '../algorithms/policy-loss.ts';
import type { LossFnName } from '../algorithms/policy-losses.ts';

export interface ModelInput {
  tokens: number[];
}

/** Per-token loss inputs (Tinker's names). */
export interface LossFnInputs {
  target_tokens: number[];
  /** 0/1 (or any non-negative) weight of each target in the loss; default all 1. */
  weights?: number[];
  /** Per-token advantages (importance_sampling, ppo). */
  advantages?: number[];
  /** Sampling logprobs of the targets (importance_sampling, ppo). */
  logprobs?: number[];
  /** Reference-policy logprobs, for a KL penalty (ppo with klCoef > 0). */
  ref_logprobs?: number[];
}

export interface Datum {
  modelInput: ModelInput;
  lossFnInputs: LossFnInputs;
}

/**
 * Options of the loss (Tinker's `loss_fn_config`, extended). Unset fields take the defaults of
 * `DEFAULT_POLICY_LOSS` (PPO clip 0.2, token-mean, no KL, no entropy bonus).
 */
export interface LossFnConfig extends Partial<Omit<PolicyLossConfig, 'covControl'>> {
  covControl?: CovControl;
  /** Truncated importance sampling cap C for `importance_sampling` (Yao et al. 2025); off when absent. */
  truncation?: number;
  /** Logprobs are computed under softmax(logits / temperature): set to the sampling temperature. */
  temperature?: number;
  klEstimator?: KlEstimator;
}

export interface ForwardBackwardOutput {
  /** Per datum: the learner's logprob of each target (before this call's update). */
  lossFnOutputs: Array<{ logprobs: number[] }>;
  metrics: Record<string, number>;
}

/** Adam (Kingma & Ba 2015) with decoupled weight decay (AdamW) and global-norm gradient clipping. */
export interface AdamParams {
  learningRate: number;
  /** default 0.9 */
  beta1?: number;
  /** default 0.95 (Tinker's default) */
  beta2?: number;
  /** default 1e-8 */
  eps?: number;
  /** Decoupled weight decay, default 0. */
  weightDecay?: number;
  /** Clip the global gradient norm to this value; 0 = no clipping. Default 1. */
  gradClipNorm?: number;
}

export interface OptimStepOutput {
  metrics: { grad_norm: number; learning_rate: number; step: number; clipped: number };
}

export interface LearnerInfo {
  backend: string;
  /** The decoder, for ToolGym's own models (a Tinker service's base model has none). */
  decoder?: DecoderConfig;
  parameters: number;
  step: number;
}

export interface Learner {
  info(): Promise<LearnerInfo>;
  /**
   * Bytes its compute heap holds in this process, summed over its threads: the wasm backend's
   * `WebAssembly.Memory`, which grows to the largest micro-batch and never shrinks; 0 on the cpu
   * backend, whose tensors are JavaScript arrays. Absent for a learner in another process (Tinker).
   */
  heapBytes?(): Promise<number>;
  /** Logprobs (and mean loss) without touching gradients. */
  forward(data: Datum[], lossFn?: LossFnName, config?: LossFnConfig): Promise<ForwardBackwardOutput>;
  /** Adds this batch's gradient to the accumulated gradient. */
  forwardBackward(data: Datum[], lossFn: LossFnName, config?: LossFnConfig): Promise<ForwardBackwardOutput>;
  /** Applies Adam to the accumulated gradient, then clears it. */
  optimStep(adam: AdamParams): Promise<OptimStepOutput>;
  /** The current weights (DecoderWeights, as the ONNX builder takes them). */
  saveWeights(): Promise<{ weights: DecoderWeights; step: number }>;
  loadWeights(weights: DecoderWeights): Promise<void>;
  /** Weights, optimiser state and step, for a checkpoint (call between optimiser steps). */
  saveState(): Promise<LearnerState>;
  /** Restores `saveState`'s output exactly: training then continues as if never interrupted. */
  loadState(state: LearnerState): Promise<void>;
  /** Starts a fresh Adam (step 0, no moments) from the current weights. */
  resetOptimizer(): Promise<void>;
  /**
   * Throws, naming the option, if this learner cannot compute `lossFn` with `config` (a remote
   * service with fewer loss options); a run calls it for each loss it will use before it starts.
   */
  checkLoss?(lossFn: LossFnName, config?: LossFnConfig): void;
  close(): Promise<void>;
}

/** A learner's full training state: Adam moments by weight name (absent before the first step). */
export interface LearnerState {
  step: number;
  /** Where a Tinker-protocol service keeps this state (`tinker://…/weights/…`); tensors may then be empty. */
  path?: string;
  weights: DecoderWeights;
  adamM: DecoderWeights;
  adamV: DecoderWeights;
}

/** Typed errors for malformed learner calls (configuration/programming channel). */
export class LearnerInputError extends ToolGymError {
  constructor(message: string) {
    // The code is on the learner API's wire (TINKER.md), so it keeps its spelling.
    super('learner-input', message);
  }
}

/** A datum's per-token loss weights, as the learner reads them (all 1 when absent). */
export function lossWeights(d: Datum): number[] {
  return d.lossFnInputs.weights ?? d.modelInput.tokens.map(() => 1);
}

/**
 * The datum for a sequence of tokens with a 0/1 mask of the tokens to train on: inputs are
 * tokens[0..n-2], targets tokens[1..n-1]; per-token arrays are shifted the same way.
 */
export function datumFromSequence(
  tokens: readonly number[],
  lossMask: readonly number[],
  extra: {
    advantages?: readonly number[];
    logprobs?: readonly number[];
    refLogprobs?: readonly number[];
    weightScale?: number;
  } = {},
): Datum {
  const n = tokens.length;
  if (n < 2) throw new LearnerInputError(`a datum needs at least 2 tokens, got ${n}`);
  if (lossMask.length !== n)
    throw new LearnerInputError(`lossMask has ${lossMask.length} entries for ${n} tokens`);
  const shift = (xs: readonly number[] | undefined, name: string) => {
    if (!xs) return undefined;
    if (xs.length !== n) throw new LearnerInputError(`${name} has ${xs.length} entries for ${n} tokens`);
    return xs.slice(1);
  };
  const scale = extra.weightScale ?? 1;
  const lossFnInputs: LossFnInputs = {
    target_tokens: tokens.slice(1),
    weights: lossMask.slice(1).map((m) => m * scale),
  };
  const advantages = shift(extra.advantages, 'advantages');
  const logprobs = shift(extra.logprobs, 'logprobs');
  const refLogprobs = shift(extra.refLogprobs, 'refLogprobs');
  if (advantages) lossFnInputs.advantages = advantages;
  if (logprobs) lossFnInputs.logprobs = logprobs;
  if (refLogprobs) lossFnInputs.ref_logprobs = refLogprobs;
  return { modelInput: { tokens: tokens.slice(0, -1) }, lossFnInputs };
}

/** `resetOptimizer` for a learner that holds its own state: its weights, reloaded with no optimiser state. */
export async function resetOptimizerOf(learner: Learner): Promise<void> {
  const { weights } = await learner.saveWeights();
  await learner.loadState({ step: 0, weights, adamM: {}, adamV: {} });
}

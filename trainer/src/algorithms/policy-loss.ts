/**
 * Policy losses over per-token tensors of shape [B, T] (B sequences, T target positions).
 * `weights` is the loss mask (1 on sampled tokens) times any per-sequence keep flag; every
 * aggregate divides by real tokens only. Each loss is a pure function of its tensors and config;
 * the learner calls it inside its gradient tape.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The value of x with no gradient flowing back through it (tfjs-core has no stopGradient op). */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  const identityWithoutGradient = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.clone(input),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return identityWithoutGradient(x) as tf.Tensor;
}

export type Aggregation = 'token-mean' | 'sequence-mean' | 'token-sum' | 'token-sum-norm';
export type KlEstimator = 'k1' | 'k2' | 'k3';

export interface PolicyLossConfig {
  /** PPO lower clip ε_low: ratio ≥ 1 − ε_low (Schulman et al. 2017 default 0.2). */
  clipLow: number;
  /** PPO upper clip ε_high: ratio ≤ 1 + ε_high; DAPO's clip-higher uses 0.28 (Yu et al. 2025). */
  clipHigh: number;
  /** `token`: PPO per-token ratio; `sequence`: GSPO's length-normalised sequence ratio (Zheng et al. 2025). */
  ratioLevel: 'token' | 'sequence';
  /**
   * How token losses become one number: `token-mean` (DAPO: every token counts the same),
   * `sequence-mean` (GRPO: mean per sequence, then over sequences), `token-sum` (Tinker: plain sum),
   * `token-sum-norm` (Dr. GRPO: sum divided by B · `normLength`, no per-sequence length bias).
   */
  aggregation: Aggregation;
  /** Constant length for `token-sum-norm` (Dr. GRPO uses the generation budget). */
  normLength: number;
  /** β of the KL penalty to a reference policy (0 = off; needs `refLogprobs`). */
  klCoef: number;
  /** Schulman's estimators of KL(π‖π_ref): k1 = −log r, k2 = ½(log r)², k3 = r − 1 − log r, r = π_ref/π. */
  klEstimator: KlEstimator;
  /** Coefficient of the entropy bonus (0 = off; needs `entropy`). */
  entropyCoef: number;
  /** Entropy control from "The Entropy Mechanism of RL for Reasoning LMs" (Cui et al. 2025); off when absent. */
  covControl?: CovControl;
  /**
   * Share of tokens, highest entropy first, the policy gradient flows through (Wang et al. 2025,
   * "Beyond the 80/20 Rule": 0.2); 1 = all. Needs `entropy`. The rest still count in the aggregation.
   */
  entropyTopFraction: number;
  /** β of the implicit reward r_φ = β·log(π_φ/π_ref) that `implicit_prm` trains (PRIME, Cui et al. 2025: 0.05). */
  prmBeta: number;
}

/**
 * Clip-Cov: detach the gradient of a random `fraction` of the tokens whose centred covariance
 * (logp − mean)(A − mean) lies in [low, high]. KL-Cov: add `coef` · |log π − log π_old| on the
 * top-`fraction` tokens by covariance. (Paper defaults: clip-cov r = 2e-4, ω ∈ [1, 5]; kl-cov k = 2e-3, β = 1.)
 */
export type CovControl =
  | { kind: 'clip-cov'; fraction: number; low: number; high: number; seed?: number }
  | { kind: 'kl-cov'; fraction: number; coef: number };

export const DEFAULT_POLICY_LOSS: PolicyLossConfig = {
  clipLow: 0.2,
  clipHigh: 0.2,
  ratioLevel: 'token',
  aggregation: 'token-mean',
  normLength: 1,
  klCoef: 0,
  klEstimator: 'k3',
  entropyCoef: 0,
  entropyTopFraction: 1,
  prmBeta: 0.05,
};

export interface PolicyLossInputs {
  /** log π_θ of each target token (carries the gradient). */
  logprobs: tf.Tensor2D;
  /** log π_old: the sampling logprobs (or the learner's own at sampling time). */
  oldLogprobs: tf.Tensor2D;
  advantages: tf.Tensor2D;
  weights: tf.Tensor2D;
  refLogprobs?: tf.Tensor2D;
  /** Per-token entropy of π_θ (carries the gradient). */
  entropy?: tf.Tensor2D;
}

export interface PolicyLossResult {
  loss: tf.Scalar;
  /** Diagnostics (plain numbers), CleanRL's set. */
  metrics: () => Record<string, number>;
}

/** Reduces a [B, T] per-token loss by the configured aggregation over tokens with weight > 0. */
export function aggregate(
  perToken: tf.Tensor2D,
  weights: tf.Tensor2D,
  aggregation: Aggregation,
  normLength = 1,
): tf.Scalar {
  const weighted = tf.mul(perToken, weights);
  switch (aggregation) {
    case 'token-mean':
      return tf.div(tf.sum(weighted), tf.maximum(tf.sum(weights), 1e-8)) as tf.Scalar;
    case 'sequence-mean': {
      const perSeqWeight = tf.sum(weights, 1);
      const hasTokens = tf.cast(tf.greater(perSeqWeight, 0), 'float32');
      const perSeq = tf.div(tf.sum(weighted, 1), tf.maximum(perSeqWeight, 1e-8));
      return tf.div(tf.sum(perSeq), tf.maximum(tf.sum(hasTokens), 1)) as tf.Scalar;
    }
    case 'token-sum':
      return tf.sum(weighted) as tf.Scalar;
    case 'token-sum-norm':
      return tf.div(tf.sum(weighted), perToken.shape[0] * normLength) as tf.Scalar;
  }
}

/** Schulman (2020) "Approximating KL Divergence": per-token estimators of KL(π‖π_ref). */
export function klPenalty(logprobs: tf.Tensor, refLogprobs: tf.Tensor, estimator: KlEstimator): tf.Tensor {
  const logR = tf.sub(refLogprobs, logprobs); // log(π_ref / π)
  switch (estimator) {
    case 'k1':
      return tf.neg(logR);
    case 'k2':
      return tf.mul(0.5, tf.square(logR));
    case 'k3':
      return tf.sub(tf.sub(tf.exp(logR), 1), logR);
  }
}

/**
 * Cui et al. 2025 (arXiv:2505.22617) eq. 11: centred per-token covariance
 * Cov_i = (log π(y_i) − mean log π) · (A_i − mean A), means over tokens with weight > 0.
 * Returns plain numbers (selection is not differentiated).
 */
export function tokenCovariance(
  logprobs: Float32Array,
  advantages: Float32Array,
  weights: Float32Array,
): Float32Array {
  let n = 0;
  let lpSum = 0;
  let aSum = 0;
  for (let i = 0; i < weights.length; i++) {
    if ((weights[i] ?? 0) > 0) {
      n++;
      lpSum += logprobs[i] ?? 0;
      aSum += advantages[i] ?? 0;
    }
  }
  const lpMean = n ? lpSum / n : 0;
  const aMean = n ? aSum / n : 0;
  const cov = new Float32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    cov[i] =
      (weights[i] ?? 0) > 0 ? ((logprobs[i] ?? 0) - lpMean) * ((advantages[i] ?? 0) - aMean) : Number.NaN;
  }
  return cov;
}

/** ceil(fraction · n), without float error turning 0.07 · 100 = 7.000000000000001 into 8. */
const topCount = (fraction: number, n: number) => Math.ceil(Number((fraction * n).toPrecision(12)));

/** A small deterministic generator for Clip-Cov's random pick (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Which tokens the covariance control touches: Clip-Cov picks `ceil(fraction · n)` tokens at random
 * among those with Cov in [low, high]; KL-Cov picks the top `ceil(fraction · n)` by Cov.
 * Returns a 0/1 array over positions.
 */
export function selectCovTokens(cov: Float32Array, control: CovControl): Float32Array {
  const valid: number[] = [];
  for (let i = 0; i < cov.length; i++) if (!Number.isNaN(cov[i])) valid.push(i);
  const count = Math.min(valid.length, topCount(control.fraction, valid.length));
  const picked = new Float32Array(cov.length);
  if (control.kind === 'clip-cov') {
    const inBand = valid.filter((i) => (cov[i] ?? 0) >= control.low && (cov[i] ?? 0) <= control.high);
    const rand = mulberry32(control.seed ?? 0);
    for (let k = inBand.length - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1));
      [inBand[k], inBand[j]] = [inBand[j] as number, inBand[k] as number];
    }
    for (const i of inBand.slice(0, count)) picked[i] = 1;
    return picked;
  }
  return pickHighest(cov, valid, control.fraction);
}

/** 0/1 over positions: the top `ceil(fraction · n)` of the n `candidates` by `score`, ties by position. */
function pickHighest(score: Float32Array, candidates: number[], fraction: number): Float32Array {
  const ranked = [...candidates].sort((a, b) => (score[b] ?? 0) - (score[a] ?? 0) || a - b);
  const picked = new Float32Array(score.length);
  for (const i of ranked.slice(0, topCount(fraction, ranked.length))) picked[i] = 1;
  return picked;
}

/**
 * Wang et al. 2025 (arXiv:2506.01939) §4: keep the top `ceil(fraction · n)` of the n weighted tokens
 * by entropy (the "forking" tokens where the policy is undecided). Returns a 0/1 array over positions.
 */
export function selectHighEntropyTokens(
  entropy: Float32Array,
  weights: Float32Array,
  fraction: number,
): Float32Array {
  const trained: number[] = [];
  for (let i = 0; i < weights.length; i++) if ((weights[i] ?? 0) > 0) trained.push(i);
  return pickHighest(entropy, trained, fraction);
}

/** The per-token loss with only the high-entropy tokens' gradient (`entropyTopFraction` < 1), else unchanged. */
function keepHighEntropyTokens(
  perToken: tf.Tensor2D,
  inputs: Pick<PolicyLossInputs, 'entropy' | 'weights'>,
  config: Partial<Pick<PolicyLossConfig, 'entropyTopFraction'>>,
): tf.Tensor2D {
  const fraction = config.entropyTopFraction ?? 1;
  if (fraction >= 1) return perToken;
  if (!inputs.entropy) throw new TypeError('entropyTopFraction < 1 needs the per-token entropy');
  const picked = selectHighEntropyTokens(
    inputs.entropy.dataSync() as Float32Array,
    inputs.weights.dataSync() as Float32Array,
    fraction,
  );
  return tf.mul(perToken, tf.tensor2d(picked, inputs.weights.shape)) as tf.Tensor2D;
}

/**
 * PPO-clip — Schulman et al. 2017, eq. 7: L = −min(ratio·A, clip(ratio, 1−ε_low, 1+ε_high)·A),
 * with DAPO's decoupled ε_low/ε_high (clip-higher) and, for `ratioLevel: 'sequence'`, GSPO's
 * s_i = exp(mean_t log(π/π_old)) (Zheng et al. 2025, eq. 7) in place of the token ratio.
 * Plus optional KL(π‖π_ref)·β, entropy bonus, and Clip-Cov / KL-Cov.
 */
export function ppoClipLoss(inputs: PolicyLossInputs, config: PolicyLossConfig): PolicyLossResult {
  const { logprobs, oldLogprobs, advantages, weights } = inputs;
  const tokenLogRatio = tf.sub(logprobs, oldLogprobs) as tf.Tensor2D;
  let logRatio: tf.Tensor2D = tokenLogRatio;
  if (config.ratioLevel === 'sequence') {
    const perSeq = tf.div(
      tf.sum(tf.mul(tokenLogRatio, weights), 1, true),
      tf.maximum(tf.sum(weights, 1, true), 1e-8),
    );
    logRatio = tf.mul(perSeq, tf.onesLike(tokenLogRatio)) as tf.Tensor2D;
  }
  const ratio = tf.exp(logRatio);
  const clipped = tf.clipByValue(ratio, 1 - config.clipLow, 1 + config.clipHigh);
  const surrogate = tf.minimum(tf.mul(ratio, advantages), tf.mul(clipped, advantages));
  let perToken = tf.neg(surrogate) as tf.Tensor2D;
  let lossWeights = weights;
  let covTouched = 0;
  if (config.covControl) {
    const cov = tokenCovariance(
      logprobs.dataSync() as Float32Array,
      advantages.dataSync() as Float32Array,
      weights.dataSync() as Float32Array,
    );
    const picked = tf.tensor2d(selectCovTokens(cov, config.covControl), weights.shape);
    covTouched = tf.sum(picked).dataSync()[0] ?? 0;
    if (config.covControl.kind === 'clip-cov') {
      // Detaching a token's gradient = removing it from the loss (its value stays in the count).
      perToken = tf.mul(perToken, tf.sub(1, picked)) as tf.Tensor2D;
    } else {
      perToken = tf.add(
        perToken,
        tf.mul(config.covControl.coef, tf.mul(picked, tf.abs(tokenLogRatio))),
      ) as tf.Tensor2D;
    }
    lossWeights = weights;
  }
  perToken = keepHighEntropyTokens(perToken, inputs, config);
  let loss = aggregate(perToken, lossWeights, config.aggregation, config.normLength);
  let kl: tf.Scalar | undefined;
  if (config.klCoef > 0) {
    if (!inputs.refLogprobs) throw new TypeError('klCoef > 0 needs refLogprobs (a reference policy)');
    kl = aggregate(
      klPenalty(logprobs, inputs.refLogprobs, config.klEstimator) as tf.Tensor2D,
      weights,
      config.aggregation,
      config.normLength,
    );
    loss = tf.add(loss, tf.mul(config.klCoef, kl)) as tf.Scalar;
  }
  let entropy: tf.Scalar | undefined;
  if (inputs.entropy) {
    entropy = aggregate(inputs.entropy, weights, 'token-mean');
    if (config.entropyCoef !== 0) loss = tf.sub(loss, tf.mul(config.entropyCoef, entropy)) as tf.Scalar;
  }
  const clipActive = tf.cast(tf.greater(tf.mul(ratio, advantages), tf.mul(clipped, advantages)), 'float32');
  const clipFraction = aggregate(clipActive as tf.Tensor2D, weights, 'token-mean');
  // Approximate KL(π_old‖π) with k3 (what CleanRL logs as approx_kl).
  const approxKl = aggregate(klPenalty(oldLogprobs, logprobs, 'k3') as tf.Tensor2D, weights, 'token-mean');
  return {
    loss,
    metrics: () => ({
      clip_fraction: clipFraction.dataSync()[0] ?? 0,
      approx_kl: approxKl.dataSync()[0] ?? 0,
      ...(kl ? { kl_ref: kl.dataSync()[0] ?? 0 } : {}),
      ...(entropy ? { entropy: entropy.dataSync()[0] ?? 0 } : {}),
      ...(config.covControl ? { cov_tokens: covTouched } : {}),
    }),
  };
}

/**
 * Importance-sampled policy gradient (Tinker's `importance_sampling`): L = −(π/π_sample)·A per token.
 * With `truncation` C it is truncated IS — Yao et al. 2025, "Your Efficient RL Framework Secretly
 * Brings You Off-Policy RL Training": L = −sg(min(π/π_sample, C))·log π·A, correcting the gap
 * between the sampling engine's and the learner's logprobs without exploding weights.
 */
export function importanceSamplingLoss(
  inputs: PolicyLossInputs,
  config: Pick<PolicyLossConfig, 'aggregation' | 'normLength' | 'entropyCoef'> &
    Partial<Pick<PolicyLossConfig, 'entropyTopFraction'>> & { truncation?: number },
): PolicyLossResult {
  const { logprobs, oldLogprobs, advantages, weights } = inputs;
  const ratio = tf.exp(tf.sub(logprobs, oldLogprobs));
  let perToken: tf.Tensor2D;
  if (config.truncation !== undefined) {
    const capped = tf.minimum(ratio, config.truncation);
    perToken = tf.neg(tf.mul(tf.mul(stopGradient(capped), logprobs), advantages)) as tf.Tensor2D;
  } else {
    perToken = tf.neg(tf.mul(ratio, advantages)) as tf.Tensor2D;
  }
  perToken = keepHighEntropyTokens(perToken, inputs, config);
  let loss = aggregate(perToken, weights, config.aggregation, config.normLength);
  let entropy: tf.Scalar | undefined;
  if (inputs.entropy) {
    entropy = aggregate(inputs.entropy, weights, 'token-mean');
    if (config.entropyCoef !== 0) loss = tf.sub(loss, tf.mul(config.entropyCoef, entropy)) as tf.Scalar;
  }
  const approxKl = aggregate(klPenalty(oldLogprobs, logprobs, 'k3') as tf.Tensor2D, weights, 'token-mean');
  return {
    loss,
    metrics: () => ({
      approx_kl: approxKl.dataSync()[0] ?? 0,
      ...(entropy ? { entropy: entropy.dataSync()[0] ?? 0 } : {}),
    }),
  };
}

/** Supervised cross-entropy (Tinker's `cross_entropy`): L = −Σ weights · log π(target). */
export function crossEntropyLoss(
  inputs: Pick<PolicyLossInputs, 'logprobs' | 'weights'>,
  aggregation: Aggregation = 'token-mean',
): PolicyLossResult {
  const loss = aggregate(tf.neg(inputs.logprobs) as tf.Tensor2D, inputs.weights, aggregation);
  return { loss, metrics: () => ({}) };
}

/**
 * The implicit PRM's cross-entropy on outcome labels — PRIME (Cui et al. 2025), eq. 4:
 * L = −[l·log σ(r_φ(y)) + (1 − l)·log(1 − σ(r_φ(y)))], r_φ(y) = β Σ_t log(π_φ(y_t)/π_ref(y_t)) over
 * the trained tokens. The label is the sign of the sequence's `advantages` (+1: it passed, l = 1;
 * −1: it failed, l = 0), so L = softplus(−A·r_φ(y)); the mean over sequences. Needs `refLogprobs`.
 */
export function implicitPrmLoss(
  inputs: Pick<PolicyLossInputs, 'logprobs' | 'advantages' | 'weights' | 'refLogprobs'>,
  config: Pick<PolicyLossConfig, 'prmBeta'>,
): PolicyLossResult {
  const { logprobs, advantages, weights, refLogprobs } = inputs;
  if (!refLogprobs) throw new TypeError('implicit_prm needs ref_logprobs (the reference policy of the implicit reward)');
  const reward = tf.mul(config.prmBeta, tf.sum(tf.mul(tf.sub(logprobs, refLogprobs), weights), 1));
  const label = tf.sign(tf.sum(tf.mul(advantages, weights), 1));
  const trained = tf.cast(tf.greater(tf.sum(weights, 1), 0), 'float32');
  const perSequence = tf.mul(tf.softplus(tf.neg(tf.mul(label, reward))), trained);
  const loss = tf.div(tf.sum(perSequence), tf.maximum(tf.sum(trained), 1)) as tf.Scalar;
  return { loss, metrics: () => ({}) };
}

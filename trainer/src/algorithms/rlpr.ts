/**
 * RLPR — "RLPR: Extrapolating RLVR to General Domains without Verifiers" (Yu et al. 2025): the
 * policy's own probability of the reference answer as the reward, made stable by debiasing it and
 * by filtering out prompts whose rewards hardly vary.
 */

/**
 * Probability-based reward (RLPR §2.2): r = (1/|y*|) Σ_i π_θ(y*_i | Q, z, y*_<i), the mean per-token
 * probability of the reference answer y* after the episode's reasoning z; the paper prefers the
 * mean to the sequence likelihood Π_i p_i, which one unlikely token sends to 0.
 */
export function meanTokenProbability(logprobs: readonly number[]): number {
  if (logprobs.length === 0) return 0;
  return logprobs.reduce((a, lp) => a + Math.exp(lp), 0) / logprobs.length;
}

/**
 * Reward debiasing (RLPR §2.2): r̂ = clip(r − r', 0, 1), with r' the same probability of y* right
 * after the question, without reasoning, so the reward is what the reasoning added.
 */
export function debiasedReward(r: number, withoutReasoning: number): number {
  return Math.min(1, Math.max(0, r - withoutReasoning));
}

export interface StdFilterConfig {
  /** β: a group is dropped when its reward std is below β × the EMA (paper's code: 0.5). */
  beta: number;
  /** The EMA's decay (paper's code: 0.99). */
  emaRatio: number;
}

/**
 * Standard-deviation filtering (RLPR §2.3): prompts whose rewards barely vary across their samples
 * (too easy or too hard, std < β·EMA) are left out of training. The threshold adapts: an
 * exponential moving average of each step's mean group std, EMA ← ratio·EMA + (1 − ratio)·mean,
 * started at the first step's mean. `active` false only feeds the EMA (the paper's code filters
 * from its 11th step on). The threshold uses the EMA before this step's update.
 */
export function stdFilter(
  stds: readonly number[],
  ema: number | undefined,
  config: StdFilterConfig,
  active: boolean,
): { keep: boolean[]; threshold: number; ema: number | undefined } {
  const threshold = active && ema !== undefined ? config.beta * ema : 0;
  const keep = stds.map((s) => s >= threshold);
  const mean = stds.length > 0 ? stds.reduce((a, b) => a + b, 0) / stds.length : 0;
  const next = ema === undefined ? mean : config.emaRatio * ema + (1 - config.emaRatio) * mean;
  return { keep, threshold, ema: stds.length > 0 ? next : ema };
}

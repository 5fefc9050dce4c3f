/**
 * PRIME — "Process Reinforcement through Implicit Rewards" (Cui et al. 2025): an implicit process
 * reward model π_φ (a language model, trained only on outcome labels) gives every sampled token a
 * reward, combined with the outcome reward by leave-one-out baselines within each group.
 */

/** Implicit process reward (PRIME eq. 3): r_φ(y_t) = β · log(π_φ(y_t | y_<t) / π_ref(y_t | y_<t)). */
export function implicitProcessRewards(
  prmLogprobs: readonly number[],
  refLogprobs: readonly number[],
  beta: number,
): number[] {
  return prmLogprobs.map((lp, t) => beta * (lp - refLogprobs[t]!));
}

/** One episode of a group: its sampled tokens' process rewards and its outcome (1 passed, 0 failed). */
export interface PrimeEpisode {
  process: readonly number[];
  outcome: number;
}

export interface PrimeCoefficients {
  /** Weight of the process rewards' advantage (the paper's code: `reward_dpo_coef`, 5). */
  process: number;
  /** Weight of the outcome reward's advantage (the paper's code: `reward_gt_coef`, 5). */
  outcome: number;
}

/**
 * PRIME's advantage (eq. 5, as its code computes it): each reward source gets a leave-one-out
 * (RLOO) baseline within the group of K episodes, then the per-token rewards sum into returns,
 * A_t = Σ_{s ≥ t} r̃_s (γ = 1):
 * - process: r̃_t^i = K/(K−1)·r_φ(y_t^i) − 1/(K−1)·Σ_j mean_t r_φ(y^j), i.e. the token's reward less
 *   the other episodes' mean per-token reward (plus its own token's deviation from its mean, /(K−1));
 * - outcome, on the last token: r_o^i − 1/(K−1)·Σ_{j≠i} r_o^j.
 * One advantage per sampled token of each episode. The paper's code then whitens them over the
 * batch (`whiten`).
 */
export function primeAdvantages(group: readonly PrimeEpisode[], coef: PrimeCoefficients): number[][] {
  const k = group.length;
  if (k < 2) return group.map((e) => e.process.map(() => 0));
  const meanOf = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const processBaseline = group.reduce((a, e) => a + meanOf(e.process), 0) / (k - 1);
  const outcomeTotal = group.reduce((a, e) => a + e.outcome, 0);
  return group.map((e) => {
    const rewards = e.process.map((r) => coef.process * ((k / (k - 1)) * r - processBaseline));
    if (rewards.length > 0)
      rewards[rewards.length - 1]! += coef.outcome * (e.outcome - (outcomeTotal - e.outcome) / (k - 1));
    let ret = 0;
    const returns = new Array<number>(rewards.length);
    for (let t = rewards.length - 1; t >= 0; t--) returns[t] = ret += rewards[t]!;
    return returns;
  });
}

/**
 * Whitening over every token of the batch, as the paper's code does (verl's `masked_whiten`):
 * (A − mean) / sqrt(var + 1e-8), with the unbiased variance.
 */
export function whiten(advantages: readonly (readonly number[])[]): number[][] {
  const all = advantages.flat();
  if (all.length < 2) return advantages.map((a) => [...a]);
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const variance = all.reduce((a, x) => a + (x - mean) ** 2, 0) / (all.length - 1);
  return advantages.map((a) => a.map((x) => (x - mean) / Math.sqrt(variance + 1e-8)));
}

/**
 * Advantage estimators over the rewards of one group (the N episodes of one task) or a batch.
 * Pure functions over arrays; every formula carries its paper. Advantages are computed here,
 * never inside a reward.
 */

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
/** Population standard deviation (divides by N), as the GRPO reference implementations do. */
const std = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

/**
 * GRPO — DeepSeekMath (Shao et al. 2024), eq. 3 outcome supervision:
 * A_i = (r_i − mean(r)) / (std(r) + eps).
 */
export function grpoAdvantages(rewards: readonly number[], eps = 1e-6): number[] {
  const mu = mean(rewards);
  const sigma = std(rewards);
  return rewards.map((r) => (r - mu) / (sigma + eps));
}

/**
 * Dr. GRPO — "Understanding R1-Zero-Like Training" (Liu et al. 2025): drop the std division
 * (question-difficulty bias); A_i = r_i − mean(r). (Its other fix, no per-sequence length
 * normalisation, is the `token-sum` aggregation of the policy loss.)
 */
export function drGrpoAdvantages(rewards: readonly number[]): number[] {
  const mu = mean(rewards);
  return rewards.map((r) => r - mu);
}

/**
 * RLOO — "Buy 4 REINFORCE Samples, Get a Baseline for Free" (Kool et al. 2019; Ahmadian et al. 2024):
 * A_i = r_i − (1/(N−1)) Σ_{j≠i} r_j.
 */
export function rlooAdvantages(rewards: readonly number[]): number[] {
  const n = rewards.length;
  if (n < 2) return rewards.map(() => 0);
  const total = rewards.reduce((a, b) => a + b, 0);
  return rewards.map((r) => r - (total - r) / (n - 1));
}

/**
 * REINFORCE++ — Hu 2025, "REINFORCE++": no critic, no group baseline; the returns of the whole
 * batch are normalised: A = (r − mean_batch(r)) / (std_batch(r) + eps).
 * With `groupBaseline`, the group mean is subtracted first (the paper's "REINFORCE++-baseline").
 */
export function reinforcePlusPlusAdvantages(
  groups: readonly (readonly number[])[],
  options: { groupBaseline?: boolean; eps?: number } = {},
): number[][] {
  const eps = options.eps ?? 1e-6;
  const centred = groups.map((g) => (options.groupBaseline ? drGrpoAdvantages(g) : [...g]));
  const flat = centred.flat();
  const mu = mean(flat);
  const sigma = std(flat);
  return centred.map((g) => g.map((a) => (a - mu) / (sigma + eps)));
}

/**
 * Turn-level returns for per-turn (process) rewards r_1..r_T, standard discounted sum:
 * G_t = Σ_{k≥t} γ^{k−t} r_k.
 */
export function sumFormReturns(turnRewards: readonly number[], gamma = 1): number[] {
  const returns = new Array<number>(turnRewards.length);
  let running = 0;
  for (let t = turnRewards.length - 1; t >= 0; t--) {
    running = (turnRewards[t] ?? 0) + gamma * running;
    returns[t] = running;
  }
  return returns;
}

/**
 * PURE — "Stop Summation: Min-Form Credit Assignment Is All Process Reward Model Needs"
 * (Cheng et al. 2025): the value of step t is the minimum future process reward,
 * G_t = min_{k≥t} r_k, which stops the policy from farming many small positive steps.
 * (The paper realises it by re-weighting rewards with a softmin at temperature → 0; this is the limit.)
 */
export function minFormReturns(turnRewards: readonly number[]): number[] {
  const returns = new Array<number>(turnRewards.length);
  let running = Number.POSITIVE_INFINITY;
  for (let t = turnRewards.length - 1; t >= 0; t--) {
    running = Math.min(running, turnRewards[t] ?? 0);
    returns[t] = running;
  }
  return returns;
}

/**
 * Turn-level advantages for process rewards, after MT-GRPO ("Reinforcing Multi-Turn Reasoning in
 * LLM Agents via Turn-Level Credit Assignment", Zeng et al. 2025), which adds a group-normalised
 * turn reward to the outcome advantage. Here each turn's return G_{i,t} (sum or min form, above) is
 * normalised over every turn of the group: Â_{i,t} = (G_{i,t} − mean(G)) / (std(G) + eps).
 */
export function turnAdvantages(
  turnRewards: readonly (readonly number[])[],
  form: 'sum' | 'min',
  eps = 1e-6,
): number[][] {
  const returns = turnRewards.map((r) => (form === 'min' ? minFormReturns(r) : sumFormReturns(r)));
  const all = returns.flat();
  const m = mean(all);
  const s = std(all);
  return returns.map((g) => g.map((x) => (x - m) / (s + eps)));
}

/** Expands per-turn values onto tokens: each sampled token gets the value of its turn; others 0. */
export function turnValuesToTokens(
  length: number,
  turns: readonly { start: number; end: number }[],
  values: readonly number[],
): number[] {
  const out = new Array<number>(length).fill(0);
  turns.forEach((span, i) => {
    for (let p = span.start; p < span.end && p < length; p++) out[p] = values[i] ?? 0;
  });
  return out;
}

/**
 * RAE — SPIRAL (Liu et al. 2025), Algorithm 1 lines 21–22, role-conditioned advantage estimation:
 * b_{G,p} ← α·b_{G,p} + (1 − α)·R_p(τ);  A_{G,p}(τ) = R_p(τ) − b_{G,p}   (α = 0.95, b = 0 at first).
 * One baseline per game G and role p (`role` names both: `kuhn-poker/p0`). Episodes are taken in
 * order, each against the baseline after its own update as the algorithm states it, so
 * A = α·(R − b before it). `baselines` (by role) is updated in place.
 */
export function roleConditionedAdvantages(
  rewards: readonly number[],
  roles: readonly string[],
  baselines: Record<string, number>,
  alpha = 0.95,
): number[] {
  return rewards.map((R, i) => {
    const role = roles[i]!;
    const b = alpha * (baselines[role] ?? 0) + (1 - alpha) * R;
    baselines[role] = b;
    return R - b;
  });
}

/**
 * Negative-sample reinforcement (NSR) — "The Surprising Effectiveness of Negative Reinforcement in
 * LLM Reasoning" (Zhu et al. 2025), eq. 3–4: with the verifier's reward r = ±1, RLVR's objective
 * splits into L_PSR = −E[Σ_{y: r=+1} π_θ(y|x)] and L_NSR = −E[Σ_{y: r=−1} −π_θ(y|x)]. NSR trains on
 * L_NSR alone: A_i = −1 for a sample that failed, 0 for one that passed (no gradient).
 */
export function nsrAdvantages(passed: readonly boolean[]): number[] {
  return passed.map((p) => (p ? 0 : -1));
}

/** Positive-sample reinforcement (PSR), the other half (Zhu et al. 2025): A_i = +1 if it passed, else 0. */
export function psrAdvantages(passed: readonly boolean[]): number[] {
  return passed.map((p) => (p ? 1 : 0));
}

/**
 * Weighted REINFORCE (Zhu et al. 2025), eq. 5: L = λ·L_PSR + L_NSR, so A_i = λ for a sample that
 * passed and −1 for one that failed; λ = 0.1 in the paper, up-weighting negatives tenfold.
 */
export function weightedReinforceAdvantages(passed: readonly boolean[], lambda: number): number[] {
  return passed.map((p) => (p ? lambda : -1));
}

/** What an estimator may read besides the groups' rewards. */
export interface AdvantageContext {
  /** Whether each episode of each group passed: the verifier's verdict (`episodePassed`). */
  passed: readonly (readonly boolean[])[];
  /** λ of Weighted REINFORCE, the weight of a sample that passed (`rl.wReinforce.lambda`). */
  lambda: number;
  /** Each episode's role, by group as the rewards (a seat of a game: `kuhn-poker/p0`). */
  roles: readonly (readonly string[])[];
  /** Running baselines by role, carried from step to step (and in checkpoints); updated in place. */
  baselines: Record<string, number>;
  /** The running baselines' decay α (`rl.rae.decay`). */
  decay: number;
}

/** An advantage estimator: one advantage per episode of each group, from the groups' rewards. */
export interface AdvantageEstimator {
  /** The paper the formula comes from. */
  citation: string;
  estimate(groups: readonly (readonly number[])[], context: AdvantageContext): number[][];
}

/**
 * Every advantage estimator by the name `rl.algorithm` gives it: the config accepts exactly these
 * keys, so a new estimator is one entry here (and its test).
 */
export const ADVANTAGE_ESTIMATORS = {
  grpo: {
    citation: 'DeepSeekMath (Shao et al. 2024), eq. 3',
    estimate: (groups) => groups.map((g) => grpoAdvantages(g)),
  },
  'dr-grpo': {
    citation: 'Understanding R1-Zero-Like Training (Liu et al. 2025)',
    estimate: (groups) => groups.map((g) => drGrpoAdvantages(g)),
  },
  rloo: {
    citation: 'Buy 4 REINFORCE Samples, Get a Baseline for Free (Kool et al. 2019)',
    estimate: (groups) => groups.map((g) => rlooAdvantages(g)),
  },
  'reinforce++': {
    citation: 'REINFORCE++ (Hu 2025)',
    estimate: (groups) => reinforcePlusPlusAdvantages(groups),
  },
  rae: {
    citation: 'SPIRAL (Liu et al. 2025), role-conditioned advantage estimation',
    estimate: (groups, { roles, baselines, decay }) =>
      groups.map((g, i) => roleConditionedAdvantages(g, roles[i]!, baselines, decay)),
  },
  nsr: {
    citation:
      'The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning (Zhu et al. 2025), NSR',
    estimate: (_groups, { passed }) => passed.map(nsrAdvantages),
  },
  psr: {
    citation:
      'The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning (Zhu et al. 2025), PSR',
    estimate: (_groups, { passed }) => passed.map(psrAdvantages),
  },
  'w-reinforce': {
    citation:
      'The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning (Zhu et al. 2025), W-REINFORCE',
    estimate: (_groups, { passed, lambda }) => passed.map((p) => weightedReinforceAdvantages(p, lambda)),
  },
} as const satisfies Record<string, AdvantageEstimator>;

export type AdvantageEstimatorName = keyof typeof ADVANTAGE_ESTIMATORS;
export const ADVANTAGE_ESTIMATOR_NAMES = Object.keys(ADVANTAGE_ESTIMATORS) as [
  AdvantageEstimatorName,
  ...AdvantageEstimatorName[],
];

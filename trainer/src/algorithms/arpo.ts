/**
 * ARPO — "Agentic Reinforced Policy Optimization" (Dong et al. 2025): where a group's episodes
 * branch (entropy-based adaptive rollout, §3.2) and how branched episodes share credit (advantage
 * attribution, §3.3). Pure functions over a group's trajectories; playing the branches is
 * `train/arpo-rollout.ts`.
 */
import type { Trajectory } from '@toolgym/protocol';

/** What decides branch points (`rl.sampling.branching`). */
export interface BranchingParams {
  /** τ */
  entropyThreshold: number;
  /** Z: episodes per branch point. */
  maxBranches: number;
  /** k: tokens at the start of a turn whose entropy is measured. */
  entropyTokens: number;
}

/** A turn of a group's episode to branch from: `count` new episodes replay turns 0 … turn − 1. */
export interface BranchPoint {
  /** Index of the episode in the group. */
  episode: number;
  turn: number;
  /** ΔH = H_turn − H_initial */
  deltaH: number;
  count: number;
}

/** The sequence (main or a template-rewrite branch) that holds a turn's tokens. */
export function sequenceOf(t: Trajectory, turn: number) {
  const b = t.turns[turn]?.branch;
  return b === undefined ? t : t.branches![b]!;
}

/**
 * H of a turn: the mean over its first `k` sampled tokens of −log π(token), the surprisal, whose
 * expectation under π is the token's entropy −Σ_j p_j log p_j (ARPO §3.2 measures the entropy
 * itself; an engine reports the sampled token's logprob, so ToolGym uses this one-sample estimate).
 * The policy's own logprobs when recorded (`policyLogprobs`), else the behaviour logprobs.
 * Undefined for a turn without sampled tokens.
 */
export function turnEntropy(t: Trajectory, turn: number, k: number): number | undefined {
  const span = t.turns[turn]?.sampled;
  if (!span || span.end <= span.start) return undefined;
  const sequence = sequenceOf(t, turn);
  const logprobs = sequence.policyLogprobs ?? sequence.logprobs;
  const end = Math.min(span.end, span.start + k);
  let sum = 0;
  for (let i = span.start; i < end; i++) sum -= logprobs[i]!;
  return sum / (end - span.start);
}

/** The first turn an episode sampled itself: 0, or where it branched from its parent. */
export const ownFrom = (t: Trajectory) => t.branchedFrom?.turn ?? 0;

/**
 * ARPO §3.2, entropy-based adaptive rollout: a turn t right after a tool result is a branch point
 * when P_t = α + β·ΔH_t exceeds τ, with ΔH_t = H_t − H_initial (H_initial: the episode's first
 * turn). ToolGym takes α = 0 and β = 1, so the test is ΔH_t > τ. Points of higher ΔH are served
 * first, each with Z branches, until `room` episodes are allotted. Only turns an episode sampled
 * itself count, and each point (`id:turn`) at most once over the rounds (`taken`).
 */
export function branchPoints(
  group: readonly Trajectory[],
  params: BranchingParams,
  room: number,
  taken: ReadonlySet<string>,
): BranchPoint[] {
  const candidates: Omit<BranchPoint, 'count'>[] = [];
  group.forEach((t, episode) => {
    if (t.status === 'failed' || t.tokenization !== 'exact') return;
    const initial = turnEntropy(t, 0, params.entropyTokens);
    if (initial === undefined) return;
    for (let turn = Math.max(1, ownFrom(t)); turn < t.turns.length; turn++) {
      if (t.turns[turn - 1]!.toolResults.length === 0 || taken.has(`${t.id}:${turn}`)) continue;
      const h = turnEntropy(t, turn, params.entropyTokens);
      if (h !== undefined && h - initial > params.entropyThreshold)
        candidates.push({ episode, turn, deltaH: h - initial });
    }
  });
  candidates.sort((a, b) => b.deltaH - a.deltaH || a.episode - b.episode || a.turn - b.turn);
  const points: BranchPoint[] = [];
  let left = room;
  for (const c of candidates) {
    if (left <= 0) break;
    const count = Math.min(params.maxBranches, left);
    points.push({ ...c, count });
    left -= count;
  }
  return points;
}

/**
 * ARPO §3.3, hard advantage attribution: a turn sampled once and shared by the d episodes that
 * replay it takes Â_shared = (1/d) Σ_{i=1}^{d} Â_i over those episodes; a turn no branch replays
 * keeps its episode's own Â_i. `values[i][j]` is episode i's advantage for its turn j (the group
 * estimator's Â_i, plus turn credit when configured). Returns each episode's advantage per turn; a
 * turn an episode only replayed gets 0 (its loss mask is 0 there: the episode that sampled it
 * trains it, once).
 */
export function attributeAdvantages(
  group: readonly Trajectory[],
  values: readonly (readonly number[])[],
): number[][] {
  const index = new Map(group.map((t, i) => [t.id, i]));
  const parentOf = group.map((t) => (t.branchedFrom ? index.get(t.branchedFrom.trajectoryId) : undefined));
  return group.map((t, i) =>
    t.turns.map((_, j) => {
      if (j < ownFrom(t)) return 0;
      // Episode k shares turn j of i when its chain of parents reaches i through a branch at a turn > j.
      const sharers = [values[i]![j] ?? 0];
      group.forEach((_, k) => {
        let child = k;
        let parent = parentOf[k];
        while (parent !== undefined && parent !== i) {
          child = parent;
          parent = parentOf[parent];
        }
        if (k !== i && parent === i && group[child]!.branchedFrom!.turn > j) sharers.push(values[k]![j] ?? 0);
      });
      return sharers.reduce((a, b) => a + b, 0) / sharers.length;
    }),
  );
}

/**
 * Shaping a batch of groups before the loss: which groups and tokens get gradient.
 */

/** True when every reward of a group is equal: GRPO-style advantages are all 0, no signal. */
export function isZeroVarianceGroup(rewards: readonly number[], tolerance = 1e-9): boolean {
  if (rewards.length === 0) return true;
  const first = rewards[0] ?? 0;
  return rewards.every((r) => Math.abs(r - first) <= tolerance);
}

/**
 * DAPO dynamic sampling — "DAPO: An Open-Source LLM RL System at Scale" (Yu et al. 2025), §3.2:
 * keep only groups with 0 < accuracy < 1 (reward variance > 0) and keep sampling until the batch
 * is full. `sample(n)` produces n fresh groups; at most `maxRounds` extra rounds are drawn, so a
 * task set that is all solved or all failed ends with a short batch instead of looping forever.
 */
export async function fillWithInformativeGroups<G>(
  first: G[],
  target: number,
  rewardsOf: (group: G) => readonly number[],
  sample: (count: number) => Promise<G[]>,
  maxRounds: number,
): Promise<{ groups: G[]; dropped: number; sampled: number; rounds: number }> {
  const kept: G[] = [];
  let dropped = 0;
  let sampled = 0;
  let pending = first;
  let rounds = 0;
  for (;;) {
    for (const g of pending) {
      sampled++;
      if (isZeroVarianceGroup(rewardsOf(g))) dropped++;
      else if (kept.length < target) kept.push(g);
    }
    if (kept.length >= target || rounds >= maxRounds) break;
    rounds++;
    pending = await sample(target - kept.length);
  }
  return { groups: kept, dropped, sampled, rounds };
}

/**
 * DAPO overlong filtering (§3.4): episodes cut by a length limit (a turn's token limit, the
 * context budget) get no gradient at all (loss weight 0), since their low reward says nothing
 * about the tokens sampled. Running out of turns is not a length cut: it is the agent's own
 * failure to finish, and keeps its gradient — masking it would make never answering free.
 */
export function overlongKeepMask(episodes: ReadonlyArray<{ status: string; truncation?: string }>): number[] {
  return episodes.map((e) => (e.status === 'truncated' && e.truncation !== 'max_turns' ? 0 : 1));
}

/**
 * Per-token training weights of a trajectory: 1 exactly where the policy sampled the token
 * (loss mask), 0 on prompt, tool results and template tokens; all 0 when `keep` is 0.
 * The returned array is aligned with the *targets* (tokens[1:]): position i weighs the prediction
 * of tokens[i+1].
 */
export function targetWeights(lossMask: readonly (0 | 1)[], keep = 1): number[] {
  const out = new Array<number>(Math.max(0, lossMask.length - 1));
  for (let i = 0; i + 1 < lossMask.length; i++) out[i] = keep * (lossMask[i + 1] ?? 0);
  return out;
}

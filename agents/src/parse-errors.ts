import type { RewardBreakdown, Trajectory } from '@toolgym/protocol';

/** Calls the policy wrote in an episode that could not be read, over all its turns. */
export function parseErrorCount(trajectory: Pick<Trajectory, 'turns'>): number {
  return trajectory.turns.reduce((n, turn) => n + turn.parseErrors.length, 0);
}

/**
 * The reward with a `parse_errors` component (the episode's count) weighted by `-coef`, so a
 * trainer can discourage unreadable calls without the environment grading them. With `coef` 0
 * the reward is returned unchanged.
 */
export function withParseErrorPenalty(reward: RewardBreakdown, count: number, coef: number): RewardBreakdown {
  if (coef === 0) return reward;
  return {
    ...reward,
    total: reward.total - coef * count,
    components: { ...reward.components, parse_errors: count },
    weights: { ...reward.weights, parse_errors: -coef },
  };
}

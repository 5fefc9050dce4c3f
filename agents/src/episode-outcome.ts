import type { RewardBreakdown, Trajectory } from '@toolgym/protocol';

/**
 * The reward component that says whether the task was solved: the one given, else the component
 * with the largest weight (the environment's main objective: `correct` in compose, `execution` in
 * sql, `exact_match` in search). Undefined when the reward has no components.
 */
export function successComponent(reward: RewardBreakdown, component?: string): string | undefined {
  if (component !== undefined) return component;
  let best: string | undefined;
  for (const name of Object.keys(reward.components)) {
    if (best === undefined || (reward.weights[name] ?? 0) > (reward.weights[best] ?? 0)) best = name;
  }
  return best;
}

/**
 * Whether an episode solved its task. A failed episode never passes. Otherwise the success
 * component (see `successComponent`) must be at least 1; a reward without components passes at
 * the top of the environment's reward range.
 */
export function episodePassed(
  trajectory: Trajectory,
  options: { component?: string; rewardRange?: readonly [number, number] } = {},
): boolean {
  if (trajectory.status === 'failed') return false;
  const name = successComponent(trajectory.reward, options.component);
  if (name !== undefined) return (trajectory.reward.components[name] ?? 0) >= 1;
  return options.rewardRange !== undefined && trajectory.reward.total >= options.rewardRange[1] - 1e-9;
}

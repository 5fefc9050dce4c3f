import type { Trajectory } from '@toolgym/protocol';

/**
 * Whether an episode solved its task. A failed episode never passes. Otherwise the environment's
 * `correct` reward component decides (the ToolGym convention for the success metric: 1 = solved);
 * an environment without one passes at the top of its reward range.
 */
export function episodePassed(trajectory: Trajectory, rewardRange?: readonly [number, number]): boolean {
  if (trajectory.status === 'failed') return false;
  const correct = trajectory.reward.components.correct;
  if (correct !== undefined) return correct >= 1;
  return rewardRange !== undefined && trajectory.reward.total >= rewardRange[1] - 1e-9;
}

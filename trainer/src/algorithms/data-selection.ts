/**
 * Choosing which training tasks RL trains on, from a record of how the policy did on them.
 */

/** One task's record: its accuracy (share of its group that passed) at each visit, in order. */
export interface TaskHistory {
  taskId: string;
  accuracies: readonly number[];
}

export interface RankedTask {
  taskId: string;
  /** Population variance of its accuracies over the visits (0 with fewer than two). */
  variance: number;
  visits: number;
}

/**
 * Historical variance score — "Reinforcement Learning for Reasoning in Large Language Models with
 * One Training Example" (Wang et al. 2025), §2.2: v_i = var(s_{i,1}, …, s_{i,E}), the variance of
 * task i's training accuracy over the E epochs of a run on the whole set; the highest first
 * (1-shot RLVR trains on the top one). Ties keep the tasks' order.
 */
export function rankByAccuracyVariance(history: readonly TaskHistory[]): RankedTask[] {
  const ranked = history.map(({ taskId, accuracies }, order) => ({
    taskId,
    variance: variance(accuracies),
    visits: accuracies.length,
    order,
  }));
  ranked.sort((a, b) => b.variance - a.variance || a.order - b.order);
  return ranked.map(({ order, ...task }) => task);
}

function variance(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
}

/** ZeroSearch's curriculum over training: how likely a simulated search returns noisy documents. */
export interface NoiseSchedule {
  /** p_s, the noise probability at the first step. */
  start: number;
  /** p_e, the noise probability at the last step. */
  end: number;
  /** b, the exponential base. */
  base: number;
}

/**
 * The noise probability `progress` (i/m) of the way through training.
 * ZeroSearch (Sun et al. 2025, Eq. 1): p_i = p_s + (b^(i/m) − 1) / (b − 1) · (p_e − p_s).
 */
export function noiseProbability(progress: number, { start, end, base }: NoiseSchedule): number {
  const ratio = Math.min(1, Math.max(0, progress));
  // b = 1 is the limit of the formula: a linear rise.
  const shape = base === 1 ? ratio : (base ** ratio - 1) / (base - 1);
  return start + shape * (end - start);
}

/** Learning-rate schedules: Adam's settings at a step of a phase. */
import type { AdamParams } from '../learner/learner.ts';
import type { TrainConfig } from './config.ts';

/** How far step `step` (1-based) is through a phase of `steps`: 0 at the first, 1 at the last. */
export const stepProgress = (step: number, steps: number): number =>
  steps > 1 ? Math.min(1, (step - 1) / (steps - 1)) : 0;

/**
 * Adam's settings for step `step` (1-based) of a phase, `progress` (0–1) of the way through it: the
 * warm-up (over steps) and the schedule (over progress) applied to the rate. Both schedules end at
 * a tenth of the rate: `cosine` decays all the way, `wsd` (warmup-stable-decay, MiniCPM, Hu et al.
 * 2024) holds the rate, then decays linearly over the last `decayFraction` of the phase.
 */
export function adamAt(adam: TrainConfig['rl']['adam'], step: number, progress: number): AdamParams {
  const { schedule, warmupSteps, decayFraction, ...params } = adam;
  const warm = warmupSteps > 0 ? Math.min(1, step / warmupSteps) : 1;
  const floor = 0.1;
  const decayed =
    schedule === 'cosine'
      ? 0.5 * (1 - Math.cos(Math.PI * progress))
      : schedule === 'wsd'
        ? Math.max(0, (progress - (1 - decayFraction)) / decayFraction)
        : 0;
  return { ...params, learningRate: params.learningRate * warm * (1 - (1 - floor) * decayed) };
}

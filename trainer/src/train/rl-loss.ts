/** The loss options RL's config asks of the learner (its `loss_fn_config`). */
import type { LossFnConfig } from '../learner/learner.ts';
import type { TrainConfig } from './config.ts';

export function rlLossConfig(rl: TrainConfig['rl']): LossFnConfig {
  return {
    clipLow: rl.clipLow,
    clipHigh: rl.clipHigh,
    ratioLevel: rl.ratioLevel,
    aggregation: rl.aggregation,
    normLength: rl.normLength,
    entropyCoef: rl.entropyCoef,
    entropyTopFraction: rl.entropyTopFraction,
    temperature: rl.sampling.temperature || 1,
    ...(rl.truncation > 0 ? { truncation: rl.truncation } : {}),
    ...(rl.kl.coef > 0 ? { klCoef: rl.kl.coef, klEstimator: rl.kl.estimator } : {}),
  };
}

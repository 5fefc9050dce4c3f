/**
 * Every loss a learner can run, by the name the Learner API gives it (Tinker's `loss_fn`): the
 * learner, the HTTP API and the training config accept exactly these keys, so a new loss is one
 * entry here (and its test).
 */
import {
  crossEntropyLoss,
  implicitPrmLoss,
  importanceSamplingLoss,
  type PolicyLossConfig,
  type PolicyLossInputs,
  type PolicyLossResult,
  ppoClipLoss,
} from './policy-loss.ts';

export interface PolicyLoss {
  /** The paper (or API) the formula comes from. */
  citation: string;
  /**
   * `policy-gradient` losses train on advantages (`rl.loss` may name them); `supervised` on targets
   * alone; `reward-model` trains a reward model on each sequence's outcome (the sign of its advantages).
   */
  kind: 'policy-gradient' | 'supervised' | 'reward-model';
  /** The per-token loss inputs it reads besides `target_tokens` and `weights`. */
  needs: readonly ('advantages' | 'logprobs' | 'ref_logprobs')[];
  loss(inputs: PolicyLossInputs, config: PolicyLossConfig & { truncation?: number }): PolicyLossResult;
}

export const POLICY_LOSSES = {
  ppo: {
    citation: 'Proximal Policy Optimization (Schulman et al. 2017), eq. 7',
    kind: 'policy-gradient',
    needs: ['advantages', 'logprobs'],
    loss: (inputs, config) => ppoClipLoss(inputs, config),
  },
  importance_sampling: {
    citation: 'importance-weighted policy gradient (Tinker); truncated IS: Yao et al. 2025',
    kind: 'policy-gradient',
    needs: ['advantages', 'logprobs'],
    loss: (inputs, config) => importanceSamplingLoss(inputs, config),
  },
  cross_entropy: {
    citation: 'maximum likelihood on the targets (Tinker)',
    kind: 'supervised',
    needs: [],
    loss: (inputs, config) => crossEntropyLoss(inputs, config.aggregation),
  },
  implicit_prm: {
    citation: 'Process Reinforcement through Implicit Rewards (PRIME, Cui et al. 2025), eq. 4',
    kind: 'reward-model',
    needs: ['advantages', 'ref_logprobs'],
    loss: (inputs, config) => implicitPrmLoss(inputs, config),
  },
} as const satisfies Record<string, PolicyLoss>;

export type LossFnName = keyof typeof POLICY_LOSSES;
export const LOSS_FN_NAMES = Object.keys(POLICY_LOSSES) as [LossFnName, ...LossFnName[]];

/** The losses RL can train with (`rl.loss`). */
export type RlLossName = {
  [K in LossFnName]: (typeof POLICY_LOSSES)[K]['kind'] extends 'policy-gradient' ? K : never;
}[LossFnName];
export const RL_LOSS_NAMES = LOSS_FN_NAMES.filter(
  (name) => POLICY_LOSSES[name].kind === 'policy-gradient',
) as [RlLossName, ...RlLossName[]];

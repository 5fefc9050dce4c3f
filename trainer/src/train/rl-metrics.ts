/** An RL step's metrics, by the namespaces of `metrics.ts`. */
import { meanComponents, parseErrorCount } from '@toolgym/agents';
import type { Trajectory } from '@toolgym/protocol';
import { passShare } from './evaluation.ts';
import { prefixed } from './metrics.ts';
import type { Batch, Learned } from './rl-step.ts';

/** Wall times of a step's parts, ms. */
export interface StepTiming {
  learnerMs: number;
  publishMs: number;
  stepMs: number;
}

/**
 * An RL step's metrics: its batch's episodes, the learner's step on them, the policy, timings; with
 * `environment.feedback`, its re-attempts judged by `feedback.correct`.
 */
export function rlStepMetrics(
  batch: Batch,
  learned: Learned,
  timing: StepTiming,
  policy: { version: number; lag: number },
  feedback?: { correct: string },
): Record<string, number> {
  const { played } = batch;
  const rewards = played.map((t) => t.reward.total);
  const loss = learned.lossMetrics;
  return {
    'reward/mean': mean(rewards),
    'reward/std': std(rewards),
    'reward/pass_at_1': passShare(played),
    ...prefixed('reward/component/', meanComponents(played)),
    ...batch.metrics,
    'loss/policy': loss.loss ?? 0,
    'loss/entropy': loss.entropy ?? 0,
    'loss/approx_kl': loss.approx_kl ?? 0,
    'loss/clip_fraction': loss.clip_fraction ?? 0,
    ...(loss.kl_ref !== undefined ? { 'loss/kl_ref': loss.kl_ref } : {}),
    ...prefixed('loss/demo/', learned.demoLoss),
    'optim/grad_norm': learned.gradNorm,
    'optim/learning_rate': learned.learningRate,
    'batch/zero_variance_share': batch.zeroVariance / Math.max(1, batch.groupCount),
    'batch/dropped_groups': batch.droppedGroups,
    ...prefixed('batch/failed/', batch.failures),
    ...(batch.branching
      ? {
          'batch/branches': batch.branching.branches,
          'batch/dropped_branches': batch.branching.dropped,
        }
      : {}),
    ...(feedback ? reattemptMetrics(played, feedback.correct) : {}),
    'batch/trained_sequences': batch.data.length,
    'batch/episode_tokens': mean(played.map((t) => t.tokens.length)),
    'batch/turns': mean(played.map((t) => t.turns.length)),
    'batch/parse_errors': sum(played.map(parseErrorCount)),
    'policy/version': policy.version,
    'policy/lag': policy.lag,
    'policy/behaviour_gap': behaviourGap(played),
    // With rl.asyncLevel 1 the rollout of this batch ran during the previous step's learner step,
    // on the same cores: the parts can add up to more than step_s.
    'timing/rollout_s': batch.rolloutMs / 1000,
    'timing/learner_s': timing.learnerMs / 1000,
    'timing/publish_s': timing.publishMs / 1000,
    'timing/step_s': timing.stepMs / 1000,
    'timing/trained_tokens_per_s': learned.trainedTokens / Math.max(1e-9, timing.learnerMs / 1000),
    'timing/sampled_tokens_per_s':
      sum(played.map((t) => sum(t.lossMask))) / Math.max(1e-9, batch.rolloutMs / 1000),
  };
}

/**
 * What the re-attempts after feedback (Try Again, Agent-RLVR's guidance) did, among the episodes
 * that ended with a grade: `first_correct`, the share right at their first answer; `retried`, the
 * share that answered wrong at least once; `retry_correct`, the share of those whose last answer
 * was right (`correct` is the grade's 0/1 component that judges an answer). The last is the
 * mechanism's own signal: a re-attempt that succeeds where the first failed.
 */
export function reattemptMetrics(played: readonly Trajectory[], correct: string): Record<string, number> {
  const graded = played.filter((t) => t.status !== 'failed');
  const failedAttempts = (t: Trajectory) =>
    (t.reward.info.failedAttempts as unknown[] | undefined)?.length ?? 0;
  const right = (t: Trajectory) => t.reward.components[correct] === 1;
  const retried = graded.filter((t) => failedAttempts(t) > 0);
  return {
    'feedback/first_correct':
      graded.filter((t) => failedAttempts(t) === 0 && right(t)).length / Math.max(1, graded.length),
    'feedback/retried': retried.length / Math.max(1, graded.length),
    'feedback/retry_correct': retried.filter(right).length / Math.max(1, retried.length),
  };
}

/**
 * Mean of log π(x) − log q(x) over the sampled tokens: how far the distribution the tokens were
 * drawn from (q: truncation and exploration as applied) was from the policy's own (π); 0 without
 * either, and when the engine does not report π apart.
 */
function behaviourGap(played: readonly Trajectory[]): number {
  let total = 0;
  let tokens = 0;
  for (const t of played) {
    if (!t.policyLogprobs) continue;
    t.lossMask.forEach((m, i) => {
      if (m === 1) {
        total += t.policyLogprobs![i]! - t.logprobs[i]!;
        tokens++;
      }
    });
  }
  return tokens > 0 ? total / tokens : 0;
}

const sum = (xs: ArrayLike<number>): number => {
  let total = 0;
  for (let i = 0; i < xs.length; i++) total += xs[i]!;
  return total;
};
const mean = (xs: readonly number[]): number => (xs.length ? sum(xs) / xs.length : 0);
const std = (xs: readonly number[]): number => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

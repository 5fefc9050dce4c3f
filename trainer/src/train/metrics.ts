/**
 * The run's metrics. Every line goes to `<run>/metrics.jsonl` as `{runId, phase, step, time, …}`;
 * the rollout sink (the replay feed) gets one record per RL step, the evaluation of that step
 * merged in, and step 0 for the evaluation before RL. Names are namespaced:
 *
 *   reward/   the batch's episodes: mean, std, pass_at_1, component/<name> (mean of each component)
 *   loss/     the learner's loss terms: policy, entropy, approx_kl, clip_fraction, kl_ref,
 *             demo/<phase> (rl.demos), cross_entropy (supervised phases)
 *   optim/    grad_norm, learning_rate
 *   batch/    zero_variance_share, dropped_groups, trained_sequences, episode_tokens, turns
 *   policy/   version, lag (optimiser steps between the weights that played a batch and those it trained)
 *   eval/<split>/   accuracy, episodes, component/<name>, unit/<unit> (held-out units)
 *   timing/   rollout_s, learner_s, publish_s, step_s, eval_s, trained_tokens_per_s, sampled_tokens_per_s
 *
 * Everything outside `timing/` (and `time`, `runId`) is the same for the same seed and config.
 */
import { appendFile, stat } from 'node:fs/promises';
import { episodePassed, meanComponents, type RolloutSink } from '@toolgym/agents';
import type { Batch, Learned } from './rl-step.ts';
import type { EvalPoint } from './train-result.ts';

export type MetricsPhase = 'pretrain' | 'warmup' | 'rl' | 'eval';

export class MetricsLog {
  constructor(
    readonly file: string,
    private readonly runId: string,
    private readonly sink: RolloutSink | undefined,
  ) {}

  async write(step: number, phase: MetricsPhase, metrics: Record<string, number>): Promise<void> {
    const { runId } = this;
    await appendFile(this.file, `${JSON.stringify({ runId, phase, step, time: Date.now(), ...metrics })}\n`);
    if (phase === 'rl' || (phase === 'eval' && step === 0)) {
      await this.sink?.onStepMetrics?.({ runId, step, metrics: { ...metrics } });
    }
  }

  /** The file's length: a checkpoint records it, and a resumed run cuts the file back to it. */
  async bytes(): Promise<number> {
    return (await stat(this.file)).size;
  }
}

/** Wall times of a step's parts, ms. */
export interface StepTiming {
  learnerMs: number;
  publishMs: number;
  stepMs: number;
}

/** An RL step's metrics: its batch's episodes, the learner's step on them, the policy, timings. */
export function rlStepMetrics(
  batch: Batch,
  learned: Learned,
  timing: StepTiming,
  policy: { version: number; lag: number },
): Record<string, number> {
  const { played } = batch;
  const rewards = played.map((t) => t.reward.total);
  const loss = learned.lossMetrics;
  const metrics: Record<string, number> = {
    'reward/mean': mean(rewards),
    'reward/std': std(rewards),
    'reward/pass_at_1': played.filter((t) => episodePassed(t)).length / Math.max(1, played.length),
    ...prefixed('reward/component/', meanComponents(played)),
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
    'batch/trained_sequences': batch.data.length,
    'batch/episode_tokens': mean(played.map((t) => t.tokens.length)),
    'batch/turns': mean(played.map((t) => t.turns.length)),
    'policy/version': policy.version,
    'policy/lag': policy.lag,
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
  return metrics;
}

/** An evaluation's metrics, split by split: accuracy, episodes, each reward component's mean, each held-out unit's accuracy. */
export function evalMetrics(point: EvalPoint): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [split, e] of Object.entries(point.splits)) {
    metrics[`eval/${split}/accuracy`] = e.accuracy;
    metrics[`eval/${split}/episodes`] = e.episodes;
    Object.assign(metrics, prefixed(`eval/${split}/component/`, e.components));
    for (const [unit, u] of Object.entries(e.units ?? {})) metrics[`eval/${split}/unit/${unit}`] = u.accuracy;
  }
  return metrics;
}

const prefixed = (prefix: string, values: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(values).map(([name, value]) => [`${prefix}${name}`, value]));

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: readonly number[]): number => (xs.length ? sum(xs) / xs.length : 0);
const std = (xs: readonly number[]): number => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

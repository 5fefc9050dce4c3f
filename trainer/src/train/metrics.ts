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
 *   feedback/ first_correct, retried, retry_correct: re-attempts after feedback (`environment.feedback`)
 *   reward/rlpr/   probability, without_reasoning, std_threshold, filtered_groups, too_long (`rl.rlpr`)
 *   prm/      loss, accuracy, reward_passed, reward_failed: the implicit PRM of `rl.prime`
 *   policy/   version, lag (optimiser steps between the weights that played a batch and those it trained),
 *             behaviour_gap (mean log π − log q over sampled tokens: q, what they were drawn from)
 *   eval/<split>/   accuracy, episodes, component/<name>, unit/<unit> (held-out units),
 *             by/<group>/{accuracy, reward, component/<name>} (`eval.by`: e.g. a game and opponent); split
 *             `validation` is the training tasks held out to choose the best checkpoint
 *   timing/   rollout_s, learner_s, publish_s, step_s, eval_s, trained_tokens_per_s, sampled_tokens_per_s
 *   memory/   rss_mb, peak_rss_mb, js_heap_mb, array_buffers_mb, learner_heap_mb: after an RL step (`memory-metrics.ts`)
 *
 * Everything outside `timing/` and `memory/` (and `time`, `runId`) is the same for the same seed and config. An RL
 * step's metrics are named in `rl-metrics.ts`, an evaluation's here, a supervised phase's in its file.
 */
import { createHash } from 'node:crypto';
import { appendFile, readFile, stat } from 'node:fs/promises';
import type { RolloutSink } from '@toolgym/agents';
import type { EvalPoint } from './train-result.ts';

export type MetricsPhase = 'pretrain' | 'warmup' | 'selection' | 'rl' | 'eval';

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

/**
 * An evaluation's metrics, split by split: accuracy, episodes, each reward component's mean, each
 * held-out unit's accuracy, and with `eval.by` each group's accuracy, reward and components.
 */
export function evalMetrics(point: EvalPoint): Record<string, number> {
  const metrics: Record<string, number> = {};
  const evaluated = Object.entries({
    ...point.splits,
    ...(point.validation ? { validation: point.validation } : {}),
  });
  for (const [split, e] of evaluated) {
    metrics[`eval/${split}/accuracy`] = e.accuracy;
    metrics[`eval/${split}/episodes`] = e.episodes;
    Object.assign(metrics, prefixed(`eval/${split}/component/`, e.components));
    for (const [unit, u] of Object.entries(e.units ?? {})) metrics[`eval/${split}/unit/${unit}`] = u.accuracy;
    for (const [group, g] of Object.entries(e.by ?? {})) {
      metrics[`eval/${split}/by/${group}/accuracy`] = g.accuracy;
      metrics[`eval/${split}/by/${group}/reward`] = g.reward;
      Object.assign(metrics, prefixed(`eval/${split}/by/${group}/component/`, g.components));
    }
  }
  return metrics;
}

/** `values` with each name behind `prefix`. */
export const prefixed = (prefix: string, values: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(values).map(([name, value]) => [`${prefix}${name}`, value]));

/** What differs run to run by nature: wall-clock, throughput and memory (`timing/`, `memory/`, `time`) and the run id. */
const variesByNature = (key: string) =>
  key === 'runId' || key === 'time' || key.startsWith('timing/') || key.startsWith('memory/');

/**
 * The lines of a metrics.jsonl text without what differs run to run by nature: two runs of one
 * config and seed on one machine type give equal lines.
 */
export function deterministicMetricLines(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) =>
      Object.fromEntries(Object.entries(JSON.parse(line)).filter(([key]) => !variesByNature(key))),
    );
}

/** SHA-256 of a metrics file's deterministic lines (`result.json`'s `metricsDigest`). */
export async function metricsDigest(file: string): Promise<string> {
  const lines = deterministicMetricLines(await readFile(file, 'utf8'));
  return createHash('sha256')
    .update(lines.map((line) => JSON.stringify(line)).join('\n'))
    .digest('hex');
}

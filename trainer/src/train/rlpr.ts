/**
 * RLPR as a reward any environment with a reference answer gets (`rl.rlpr`): the reference answer
 * is the final call of the environment's oracle (the call that answers with the task's gold
 * answer), written as the policy writes calls. For each episode the learner (the policy being
 * trained) scores that call in place of the episode's last turn; the reward is its mean per-token
 * probability of the answer's own tokens, less the same probability right after the prompt
 * (debiasing), clipped to [0, 1]. Groups whose rewards hardly vary are then left out (std filtering).
 */
import { hermesToolCalls } from '@toolgym/agents';
import { plainArray, type Trajectory, type TrajectoryGroup } from '@toolgym/protocol';
import { debiasedReward, meanTokenProbability, stdFilter } from '../algorithms/rlpr.ts';
import { type Datum, datumFromSequence } from '../learner/learner.ts';
import { TrainConfigError } from './config.ts';
import type { TrainingRun } from './run.ts';

/** A reference answer as the policy would write it, and where its answer's own tokens are. */
export interface ReferenceAnswer {
  tokens: number[];
  /** The answer's tokens, `tokens[start:end]`: what the call's argument values add to the call. */
  start: number;
  end: number;
}

/**
 * Where a call's argument values sit in its tokens: the tokens between what it shares, at either
 * end, with the same call whose string arguments are empty (`blank`). Without such a difference
 * (no string argument), the whole call.
 */
export function answerSpan(
  tokens: readonly number[],
  blank: readonly number[],
): { start: number; end: number } {
  let start = 0;
  while (start < tokens.length && start < blank.length && tokens[start] === blank[start]) start++;
  let tail = 0;
  while (
    tail < tokens.length - start &&
    tail < blank.length - start &&
    tokens[tokens.length - 1 - tail] === blank[blank.length - 1 - tail]
  )
    tail++;
  const end = tokens.length - tail;
  return end > start ? { start, end } : { start: 0, end: tokens.length };
}

export interface RlprScore {
  /** Every group with each usable episode's reward recomposed (`environmentWeight`·total + `weight`·rlpr). */
  groups: TrajectoryGroup[];
  /** The groups that train: those the std filter kept. */
  kept: TrajectoryGroup[];
  metrics: Record<string, number>;
}

export interface RlprScorer {
  score(groups: readonly TrajectoryGroup[], step: number): Promise<RlprScore>;
  /** The std filter's moving average, which checkpoints keep (undefined before the first step). */
  ema: number | undefined;
}

export function createRlprScorer(run: TrainingRun, ema: number | undefined): RlprScorer {
  const rlpr = run.config.rl.rlpr!;
  const environment = run.environment;
  const oracle = environment.definition.oracle;
  if (!oracle)
    throw new TrainConfigError(
      `rl.rlpr needs each task's reference answer, which it takes from the final call of the environment's oracle; ${environment.id} has no oracle`,
      'give the environment an oracle (its scripted solution from the gold answer), or remove rl.rlpr',
    );
  const tokenizer = run.policy.tokenizer;
  const format = run.toolFormat ?? hermesToolCalls;
  const references = new Map<string, ReferenceAnswer>();
  const referenceOf = async (taskId: string): Promise<ReferenceAnswer> => {
    const known = references.get(taskId);
    if (known) return known;
    const calls = oracle(await environment.task(taskId), environment.config);
    const call = calls.at(-1);
    if (!call)
      throw new TrainConfigError(
        `rl.rlpr: the oracle of ${environment.id} has no call for task ${taskId}, so no reference answer`,
      );
    const tokens = tokenizer.encode(format.render([call]));
    const blanked = Object.fromEntries(
      Object.entries(call.arguments).map(([k, v]) => [k, typeof v === 'string' ? '' : v]),
    );
    const blank = tokenizer.encode(format.render([{ name: call.name, arguments: blanked }]));
    const reference = { tokens, ...answerSpan(tokens, blank) };
    references.set(taskId, reference);
    return reference;
  };
  const maxLength = run.decoder.maxPositions;
  const usable = (g: TrajectoryGroup) =>
    g.trajectories.filter((t) => t.status !== 'failed' && t.tokenization === 'exact');

  const scorer: RlprScorer = {
    ema,
    async score(groups, step) {
      // One datum per episode (its reasoning, then the reference answer) and one per group (the
      // prompt, then the reference answer); undefined where the sequence would not fit the model.
      const sequences: Array<{ context: readonly number[]; reference: ReferenceAnswer }> = [];
      for (const g of groups) {
        const reference = await referenceOf(g.taskId);
        const episodes = usable(g);
        for (const t of episodes) sequences.push({ context: reasoningOf(t), reference });
        const first = episodes[0];
        if (first)
          sequences.push({ context: plainArray(first.tokens.subarray(0, first.promptLength)), reference });
      }
      const fits = sequences.map((q) => q.context.length + q.reference.tokens.length <= maxLength);
      const data: Datum[] = sequences.flatMap((q, i) =>
        fits[i] ? [answerDatum(q.context, q.reference)] : [],
      );
      const scored =
        data.length > 0 ? await run.learner.forward(data, 'cross_entropy', { temperature: 1 }) : undefined;
      let next = 0;
      const probability = sequences.map((q, i) => {
        if (!fits[i]) return 0;
        const logprobs = scored!.lossFnOutputs[next++]!.logprobs;
        // logprobs[p - 1] is the logprob of the token at position p.
        const at = q.context.length;
        return meanTokenProbability(logprobs.slice(at + q.reference.start - 1, at + q.reference.end - 1));
      });

      let cursor = 0;
      const rewards: number[][] = [];
      const probabilities: number[] = [];
      const baselines: number[] = [];
      const rescored = groups.map((g) => {
        const episodes = usable(g);
        const mine = probability.slice(cursor, cursor + episodes.length);
        const baseline = episodes.length > 0 ? probability[cursor + episodes.length]! : 0;
        cursor += episodes.length + (episodes.length > 0 ? 1 : 0);
        const reward = mine.map((r) => (rlpr.debias ? debiasedReward(r, baseline) : r));
        rewards.push(reward);
        probabilities.push(...mine);
        if (episodes.length > 0) baselines.push(baseline);
        const byId = new Map(episodes.map((t, i) => [t.id, reward[i]!]));
        return {
          ...g,
          trajectories: g.trajectories.map((t) => (byId.has(t.id) ? withRlpr(t, byId.get(t.id)!) : t)),
        };
      });
      const filter = stdFilter(
        rewards.map(std),
        scorer.ema,
        rlpr.stdFilter,
        rlpr.stdFilter.beta > 0 && step >= rlpr.stdFilter.from,
      );
      scorer.ema = filter.ema;
      return {
        groups: rescored,
        kept: rescored.filter((_, i) => filter.keep[i]),
        metrics: {
          'reward/rlpr/probability': mean(probabilities),
          'reward/rlpr/without_reasoning': mean(baselines),
          'reward/rlpr/std_threshold': filter.threshold,
          'reward/rlpr/filtered_groups': filter.keep.filter((k) => !k).length,
          'reward/rlpr/too_long': fits.filter((f) => !f).length,
        },
      };
    },
  };

  /** The episode's reward with the RLPR component, recomposed with the environment's total. */
  function withRlpr(t: Trajectory, reward: number): Trajectory {
    return {
      ...t,
      reward: {
        ...t.reward,
        total: rlpr.environmentWeight * t.reward.total + rlpr.weight * reward,
        components: { ...t.reward.components, rlpr: reward },
      },
    };
  }
  return scorer;
}

/** The episode up to its last assistant turn: what the reference answer is scored after. */
function reasoningOf(t: Trajectory): number[] {
  const last = t.turns.at(-1);
  return plainArray(t.tokens.subarray(0, last ? last.sampled.start : t.promptLength));
}

/** `context` then the reference answer, trained (scored) on the answer's own tokens. */
function answerDatum(context: readonly number[], reference: ReferenceAnswer): Datum {
  const tokens = [...context, ...reference.tokens];
  const mask = tokens.map((_, p) =>
    p >= context.length + reference.start && p < context.length + reference.end ? 1 : 0,
  );
  return datumFromSequence(tokens, mask);
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

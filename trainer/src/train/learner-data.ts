/**
 * Learner data from trajectories: an RL datum per episode (advantages on the sampled tokens), and
 * packed supervised data from demonstrations.
 */
import { plainArray, type Rng, type Trajectory } from '@toolgym/protocol';
import { turnValuesToTokens } from '../algorithms/advantages.ts';
import { type Datum, datumFromSequence, lossWeights } from '../learner/learner.ts';
import { TrainConfigError } from './config.ts';

/**
 * The RL data of a trajectory: one datum per token sequence that holds sampled tokens, which is
 * the episode itself, plus each branch when its chat template rewrote history. Each sampled token
 * is trained once, in the context it was sampled in, with the episode's advantage (a number, or
 * one per turn).
 */
export function rlData(t: Trajectory, advantage: number | readonly number[]): Datum[] {
  const sequences = [...(t.branches ?? []), t];
  const main = sequences.length - 1;
  return sequences.flatMap((sequence, b) =>
    b < main && sequence.lossMask.lastIndexOf(1) < 0
      ? []
      : [
          sequenceDatum(
            sequence,
            t.turns.map((turn) => ((turn.branch ?? main) === b ? turn.sampled : NO_SPAN)),
            advantage,
          ),
        ],
  );
}

const NO_SPAN = { start: 0, end: 0 };

/** The RL datum of a trajectory's main sequence (`Trajectory.tokens`): its last branch. */
export function rlDatum(t: Trajectory, advantage: number | readonly number[]): Datum {
  return rlData(t, advantage).at(-1)!;
}

/**
 * The RL datum of one sequence (sampling logprobs kept), cut after its last trained token: what
 * follows (the environment's reply to the final call) cannot change any trained token's logprob
 * in a causal model, so it is never sent to the learner. `turns` holds each turn's sampled span in
 * this sequence (empty for turns sampled in another).
 */
function sequenceDatum(
  sequence: Pick<Trajectory, 'tokens' | 'lossMask' | 'logprobs'>,
  turns: readonly { start: number; end: number }[],
  advantage: number | readonly number[],
): Datum {
  const end = trainedEnd(sequence.lossMask);
  // The datum is the learner's (Tinker's) plain arrays: the trajectory's typed ones are copied here.
  const tokens = plainArray(sequence.tokens.subarray(0, end));
  const advantages =
    typeof advantage === 'number' ? tokens.map(() => advantage) : turnValuesToTokens(end, turns, advantage);
  return datumFromSequence(tokens, plainArray(sequence.lossMask.subarray(0, end)), {
    advantages,
    logprobs: plainArray(sequence.logprobs.subarray(0, end)),
  });
}

/**
 * Each assistant turn's process reward: the sum of the environment's step rewards
 * (`reward.steps`, one per tool call in order) for the calls the turn made; 0 for a turn without.
 */
export function turnRewards(t: Trajectory): number[] {
  const steps = t.reward.steps;
  if (!steps)
    throw new TrainConfigError(
      `rl.turnCredit needs process rewards, but the environment graded episode ${t.id} without reward.steps; set rl.turnCredit.coef to 0 or use an environment that reports them`,
    );
  const calls = t.turns.reduce((n, turn) => n + turn.toolCalls.length, 0);
  if (calls !== steps.length)
    throw new Error(
      `episode ${t.id} made ${calls} tool calls but its reward has ${steps.length} step rewards`,
    );
  let next = 0;
  return t.turns.map((turn) => {
    const mine = steps.slice(next, next + turn.toolCalls.length);
    next += turn.toolCalls.length;
    return mine.reduce((a, b) => a + b, 0);
  });
}

/** Where a sequence's last trained token ends (at least 2 tokens, the shortest datum). */
function trainedEnd(lossMask: Uint8Array | readonly number[]): number {
  return Math.max(2, lossMask.lastIndexOf(1) + 1);
}

/** Whether a sequence's datum (its tokens up to the last trained one, less the last) fits `maxLength` positions. */
export function fitsContext(t: Pick<Trajectory, 'lossMask'>, maxLength: number): boolean {
  return trainedEnd(t.lossMask) - 1 <= maxLength;
}

/**
 * One supervised datum of demonstrations played one after another, as pretraining packs documents:
 * the sequence cut after its last trained token. Demonstrations that would pass `maxLength` tokens
 * are left out (the first is always kept).
 */
export function packedDatum(
  demos: readonly Pick<Trajectory, 'tokens' | 'lossMask'>[],
  maxLength: number,
): Datum {
  const tokens: number[] = [];
  const lossMask: number[] = [];
  for (const t of demos) {
    if (tokens.length > 0 && tokens.length + trainedEnd(t.lossMask) > maxLength) break;
    tokens.push(...t.tokens);
    lossMask.push(...t.lossMask);
  }
  const end = trainedEnd(lossMask);
  return datumFromSequence(tokens.slice(0, end), lossMask.slice(0, end));
}

/** `batchSize` sequences of `pack` demonstrations drawn at random, each at most `maxLength` tokens. */
export function demoBatch(
  w: { batchSize: number; pack: number },
  demos: readonly Trajectory[],
  draw: Rng,
  maxLength: number,
): Datum[] {
  return Array.from({ length: w.batchSize }, () =>
    packedDatum(
      Array.from({ length: w.pack }, () => demos[draw.int(0, demos.length - 1)]!),
      maxLength,
    ),
  );
}

/** The same data with loss weights scaled to add up to `total` over the whole batch. */
export function withTotalWeight(data: Datum[], total: number): Datum[] {
  const scale =
    total /
    Math.max(
      data.flatMap(lossWeights).reduce((a, b) => a + b, 0),
      1e-8,
    );
  return data.map((d) => ({
    ...d,
    lossFnInputs: { ...d.lossFnInputs, weights: lossWeights(d).map((w) => w * scale) },
  }));
}

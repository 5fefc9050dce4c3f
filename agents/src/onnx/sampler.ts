/**
 * Picks the next token from one row of logits and reports two logprobs of it: under the distribution
 * it was actually drawn from (the behaviour policy: temperature, top-k / top-p truncation and
 * ε-exploration as applied), which importance ratios need, and under the policy's own
 * log-softmax(logits / temperature), which the learner recomputes from the same logits.
 */
import type { Rng } from '@toolgym/protocol';
import type { SamplingParams, TokenExploration } from '../policy.ts';
import { PolicyRequestError } from './errors.ts';

export interface SampledToken {
  token: number;
  /** log q(token): the distribution the token was drawn from. */
  logprob: number;
  /** log-softmax(logits / temperature) at the token (temperature 1 when greedy). */
  policyLogprob: number;
}

export function checkSamplingParams(sampling: SamplingParams): void {
  const { temperature = 1, topP = 1, topK = 0, maxTokens } = sampling;
  if (!(temperature >= 0) || !Number.isFinite(temperature))
    throw new PolicyRequestError('bad_sampling', `temperature must be ≥ 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1))
    throw new PolicyRequestError('bad_sampling', `topP must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(topK) || topK < 0)
    throw new PolicyRequestError('bad_sampling', `topK must be a non-negative integer, got ${topK}`);
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new PolicyRequestError('bad_sampling', `maxTokens must be a positive integer, got ${maxTokens}`);
  const explore = sampling.explore;
  if (explore) {
    if (!(explore.epsilon >= 0 && explore.epsilon <= 1))
      throw new PolicyRequestError(
        'bad_sampling',
        `explore.epsilon must be in [0, 1], got ${explore.epsilon}`,
      );
    if (explore.tokenIds.length === 0 || !explore.tokenIds.every((id) => Number.isInteger(id) && id >= 0))
      throw new PolicyRequestError('bad_sampling', 'explore.tokenIds must be a non-empty list of token ids');
    const from = explore.fromDecision ?? 1;
    if (!Number.isInteger(from) || from < 1)
      throw new PolicyRequestError(
        'bad_sampling',
        `explore.fromDecision must be an integer ≥ 1, got ${from}`,
      );
  }
}

/** The tokens ε-exploration draws from after `sequence`, per `explore.among` (see TokenExploration). */
export function explorationChoices(explore: TokenExploration, sequence: readonly number[]): number[] {
  const tried = new Set<number>();
  let earlierDecisions = 0;
  for (let i = 1; i < sequence.length; i++)
    if (explore.afterTokenIds.includes(sequence[i - 1]!)) {
      tried.add(sequence[i]!);
      earlierDecisions++;
    }
  if (earlierDecisions + 1 < (explore.fromDecision ?? 1)) return [];
  const among = explore.among ?? 'all';
  if (among === 'all') return explore.tokenIds;
  const mentioned = explore.tokenIds.filter((id) => sequence.includes(id));
  if (mentioned.length === 0) return explore.tokenIds;
  if (among === 'mentioned') return mentioned;
  return mentioned.filter((id) => !tried.has(id));
}

/** log-softmax(logits / temperature) over one row. */
export function logSoftmax(logits: Float32Array, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  logSoftmaxInto(logits, temperature, out);
  return out;
}

/** `logSoftmax` written into `out` (its first logits.length entries). */
function logSoftmaxInto(logits: Float32Array, temperature: number, out: Float64Array): void {
  const n = logits.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    out[i] = logits[i]! / temperature;
    if (out[i]! > max) max = out[i]!;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(out[i]! - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i]! -= logZ;
}

/** Per-call work space of `sampleToken`, reused: sampling runs one row at a time. */
let logprobScratch = new Float64Array(0);
let probScratch = new Float64Array(0);

/**
 * The next token after `sequence` (the tokens so far), with its logprob under the distribution it
 * was drawn from (`logprob`) and under the policy's own (`policyLogprob`).
 *
 * The draw: from the policy at `temperature`, truncated by top-k / top-p; with `sampling.explore` at
 * one of its decision points, with probability ε instead uniformly from its choices (none left —
 * every `untried` token tried, or a decision point before `fromDecision` — and the policy draws).
 * So the behaviour distribution is the mixture q(x) = ε·[x ∈ C]/|C| + (1 − ε)·p̃(x), with C the
 * choices and p̃ the truncated policy p̃(x) = p(x)/Σ_{x' ∈ nucleus} p(x') on the nucleus, 0 off it.
 * Greedy decoding (temperature 0) is a point mass: logprob 0.
 */
export function sampleToken(
  logits: Float32Array,
  sampling: SamplingParams,
  rng: Rng,
  sequence: readonly number[] = [],
): SampledToken {
  const temperature = sampling.temperature ?? 1;
  const n = logits.length;
  if (logprobScratch.length < n) {
    logprobScratch = new Float64Array(n);
    probScratch = new Float64Array(n);
  }
  const logprobs = logprobScratch;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
    logSoftmaxInto(logits, 1, logprobs);
    return { token: best, logprob: 0, policyLogprob: logprobs[best]! };
  }
  logSoftmaxInto(logits, temperature, logprobs);
  const nucleus = truncated(logprobs, n, sampling.topK ?? 0, sampling.topP ?? 1);
  const explore = sampling.explore;
  const previous = sequence.at(-1);
  const atDecision =
    explore !== undefined && previous !== undefined && explore.afterTokenIds.includes(previous);
  // Drawn in this order (ε's coin, then the choice or the policy's draw), so a seed replays.
  const explored = atDecision && rng.next() < explore.epsilon;
  const choices = atDecision ? explorationChoices(explore, sequence) : [];
  for (const id of choices)
    if (id >= n)
      throw new PolicyRequestError('bad_sampling', `explore token id ${id} is outside the vocabulary`);
  const token =
    explored && choices.length > 0
      ? choices[Math.floor(rng.next() * choices.length)]!
      : drawFrom(nucleus, rng.next());
  // log p̃(x): the policy's logprob less the nucleus' log mass (none to take away when nothing is cut).
  const truncatedLogprob = nucleus.has(token)
    ? logprobs[token]! - (nucleus.ids ? Math.log(nucleus.mass) : 0)
    : Number.NEGATIVE_INFINITY;
  const epsilon = choices.length > 0 ? explore!.epsilon : 0;
  const logprob =
    epsilon === 0
      ? truncatedLogprob
      : Math.log(
          (choices.includes(token) ? epsilon / choices.length : 0) +
            (1 - epsilon) * Math.exp(truncatedLogprob),
        );
  return { token, logprob, policyLogprob: logprobs[token]! };
}

/**
 * The nucleus of top-k / top-p truncation over the first `n` logprobs: its ids, highest first
 * (undefined when neither applies: every id, in order), each one's probability in `probScratch`,
 * and their total mass.
 */
interface Nucleus {
  ids: number[] | undefined;
  n: number;
  mass: number;
  has(id: number): boolean;
}

function truncated(logprobs: Float64Array, n: number, topK: number, topP: number): Nucleus {
  const probs = probScratch;
  let mass = 0;
  if (topK === 0 && topP >= 1) {
    for (let c = 0; c < n; c++) mass += probs[c] = Math.exp(logprobs[c]!);
    return { ids: undefined, n, mass, has: (id) => id < n };
  }
  let ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(i);
  ids.sort((a, b) => logprobs[b]! - logprobs[a]!);
  if (topK > 0) ids = ids.slice(0, topK);
  if (topP < 1) {
    let head = 0;
    let keep = 0;
    while (keep < ids.length && head < topP) head += Math.exp(logprobs[ids[keep++]!]!);
    ids = ids.slice(0, Math.max(1, keep));
  }
  for (const c of ids) mass += probs[c] = Math.exp(logprobs[c]!);
  const kept = new Set(ids);
  return { ids, n, mass, has: (id) => kept.has(id) };
}

/** Inverse-CDF draw from the nucleus with a uniform `u` in [0, 1). */
function drawFrom(nucleus: Nucleus, u: number): number {
  const probs = probScratch;
  let rest = u * nucleus.mass;
  if (!nucleus.ids) {
    for (let c = 0; c < nucleus.n; c++) {
      rest -= probs[c]!;
      if (rest < 0) return c;
    }
    return nucleus.n - 1;
  }
  for (const c of nucleus.ids) {
    rest -= probs[c]!;
    if (rest < 0) return c;
  }
  return nucleus.ids.at(-1)!;
}

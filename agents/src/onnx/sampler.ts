/**
 * Picks the next token from one row of logits and reports its logprob.
 *
 * The reported logprob is log-softmax(logits / temperature) at the sampled id — the distribution the
 * temperature defines, before top-k / top-p truncation — which is exactly what the learner recomputes
 * from the same logits (trainer: log-softmax of raw logits / temperature). Greedy decoding
 * (temperature 0) reports log-softmax(logits), i.e. temperature 1.
 */
import type { Rng } from '@toolgym/protocol';
import type { SamplingParams, TokenExploration } from '../policy.ts';
import { PolicyRequestError } from './errors.ts';

export interface SampledToken {
  token: number;
  logprob: number;
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
 * The next token after `sequence` (the tokens so far): from the policy, or — with
 * `sampling.explore` at one of its decision points — a uniform pick from its tokens with
 * probability ε (reported with the policy's own logprob of that token). No choice left (every
 * `untried` token tried, or a decision point before `fromDecision`): the policy samples.
 */
export function sampleToken(
  logits: Float32Array,
  sampling: SamplingParams,
  rng: Rng,
  sequence: readonly number[] = [],
): SampledToken {
  const explore = sampling.explore;
  const previous = sequence.at(-1);
  if (
    explore &&
    previous !== undefined &&
    explore.afterTokenIds.includes(previous) &&
    (sampling.temperature ?? 1) > 0 &&
    rng.next() < explore.epsilon
  ) {
    const choices = explorationChoices(explore, sequence);
    if (choices.length > 0) {
      const token = choices[Math.floor(rng.next() * choices.length)]!;
      if (token >= logits.length)
        throw new PolicyRequestError('bad_sampling', `explore token id ${token} is outside the vocabulary`);
      return { token, logprob: logSoftmax(logits, sampling.temperature ?? 1)[token]! };
    }
  }
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
    return { token: best, logprob: logprobs[best]! };
  }
  logSoftmaxInto(logits, temperature, logprobs);
  const topK = sampling.topK ?? 0;
  const topP = sampling.topP ?? 1;
  // exp(logprob) of each candidate, computed once for the total and the walk below.
  const probs = probScratch;
  if (topK > 0 || topP < 1) {
    let candidates: number[] = [];
    for (let i = 0; i < n; i++) candidates.push(i);
    candidates.sort((a, b) => logprobs[b]! - logprobs[a]!);
    if (topK > 0) candidates = candidates.slice(0, topK);
    if (topP < 1) {
      let mass = 0;
      let keep = 0;
      while (keep < candidates.length && mass < topP) mass += Math.exp(logprobs[candidates[keep++]!]!);
      candidates = candidates.slice(0, Math.max(1, keep));
    }
    let total = 0;
    for (const c of candidates) total += probs[c] = Math.exp(logprobs[c]!);
    let u = rng.next() * total;
    for (const c of candidates) {
      u -= probs[c]!;
      if (u < 0) return { token: c, logprob: logprobs[c]! };
    }
    const last = candidates[candidates.length - 1]!;
    return { token: last, logprob: logprobs[last]! };
  }
  let total = 0;
  for (let c = 0; c < n; c++) total += probs[c] = Math.exp(logprobs[c]!);
  let u = rng.next() * total;
  for (let c = 0; c < n; c++) {
    u -= probs[c]!;
    if (u < 0) return { token: c, logprob: logprobs[c]! };
  }
  return { token: n - 1, logprob: logprobs[n - 1]! };
}

import { logSoftmax } from './sampler.ts';

/** One alternative at a sampled position. */
export interface TopLogprob {
  token: number;
  logprob: number;
}

/**
 * The `k` likeliest tokens of one row of logits, likeliest first, under the distribution a sampled
 * token's logprob is reported under (log-softmax(logits / T); T = 1 for greedy decoding, see sampler.ts).
 */
export function topLogprobs(logits: Float32Array, temperature: number, k: number): TopLogprob[] {
  const logprobs = logSoftmax(logits, temperature > 0 ? temperature : 1);
  const top: TopLogprob[] = [];
  for (let token = 0; token < logprobs.length; token++) {
    const logprob = logprobs[token]!;
    if (top.length === k && logprob <= top[k - 1]!.logprob) continue;
    let at = top.length === k ? k - 1 : top.length;
    while (at > 0 && top[at - 1]!.logprob < logprob) at--;
    top.splice(at, 0, { token, logprob });
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * Logprobs in OpenAI's two shapes. Each logprob is log-softmax(logits / temperature) at the token
 * (onnx/sampler.ts); `top_logprobs` lists the likeliest tokens of the same distribution.
 */
import type { TopLogprob } from '../onnx/top-logprobs.ts';
import type { Tokenizer } from '../tokenizer.ts';

/** One sampled position: the token, its logprob, and the alternatives asked for. */
export interface SampledPosition {
  token: number;
  logprob: number;
  top: TopLogprob[];
}

type Decoder = Pick<Tokenizer, 'decode'>;

/** vLLM `return_tokens_as_token_ids`: tokens are named `token_id:<id>`. */
function tokenName(tokenizer: Decoder, token: number, asIds: boolean): string {
  return asIds ? `token_id:${token}` : tokenizer.decode([token]);
}

/** /v1/completions: `{tokens, token_logprobs, top_logprobs, text_offset}`. */
export function completionLogprobs(
  tokenizer: Decoder,
  positions: readonly SampledPosition[],
  asIds: boolean,
) {
  let offset = 0;
  return {
    tokens: positions.map((p) => tokenName(tokenizer, p.token, asIds)),
    token_logprobs: positions.map((p) => p.logprob),
    top_logprobs: positions.map((p) =>
      Object.fromEntries(p.top.map((t) => [tokenName(tokenizer, t.token, asIds), t.logprob])),
    ),
    text_offset: positions.map((p) => {
      const at = offset;
      offset += tokenizer.decode([p.token]).length;
      return at;
    }),
  };
}

/** /v1/chat/completions: `[{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]`. */
export function chatLogprobs(tokenizer: Decoder, positions: readonly SampledPosition[], asIds: boolean) {
  const entry = (token: number, logprob: number) => ({
    token: tokenName(tokenizer, token, asIds),
    logprob,
    bytes: [...Buffer.from(tokenizer.decode([token]), 'utf8')],
  });
  return positions.map((p) => ({
    ...entry(p.token, p.logprob),
    top_logprobs: p.top.map((t) => entry(t.token, t.logprob)),
  }));
}

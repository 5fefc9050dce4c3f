/**
 * The model side of a running batch: what the onnx policy's generation loop drives, the same for
 * every cache strategy. Rows are numbered 0 … rows−1; `add` appends, `remove` may reorder, and the
 * policy keeps its own per-row records in the same order.
 *
 * Strategies: `in-place` (in-place-batch.ts: a fixed-capacity cache written in place, ToolGym's
 * models), `present` and `recompute` (padded-batch.ts: the Optimum decoder-with-past convention of
 * exported models, or no cache at all).
 */
import type { DecodeWatch } from './decode-profile.ts';

/** The next-token logits of row `b` (a view; valid until the batch's next call). */
export type RowLogits = (b: number) => Float32Array;

export interface DecodeBatch {
  readonly rows: number;
  /**
   * Runs the prompts and appends them as rows rows … rows+n−1; returns their next-token logits.
   * Identical prompts (a GRPO group's) run once and share their keys and values.
   */
  add(prompts: readonly (readonly number[])[], watch?: DecodeWatch): Promise<RowLogits>;
  /** One decode step: row b's next input is `tokens[b]`. */
  step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits>;
  /** Drops the rows `finished`; returns the new order as old row numbers (`order[newRow] = oldRow`). */
  remove(finished: readonly number[]): number[];
}

/** Prompts without repeats, and for each prompt the index of its copy in `unique`. */
export function uniquePrompts(prompts: readonly (readonly number[])[]): {
  unique: Array<readonly number[]>;
  source: number[];
} {
  const unique: Array<readonly number[]> = [];
  const seen = new Map<string, number>();
  const source = prompts.map((prompt) => {
    const key = prompt.join(',');
    let at = seen.get(key);
    if (at === undefined) {
      at = unique.push(prompt) - 1;
      seen.set(key, at);
    }
    return at;
  });
  return { unique, source };
}

/**
 * Left-pads prompts to the longest as one [n, longest] forward input: pad ids with attention_mask 0,
 * and position ids that count real tokens only (padding sits at 0).
 */
export function leftPaddedPrompts(
  prompts: readonly (readonly number[])[],
  padTokenId: number,
): { longest: number; inputIds: BigInt64Array; attentionMask: BigInt64Array; positionIds: BigInt64Array } {
  const longest = Math.max(...prompts.map((p) => p.length));
  const size = prompts.length * longest;
  const inputIds = new BigInt64Array(size).fill(BigInt(padTokenId));
  const attentionMask = new BigInt64Array(size);
  const positionIds = new BigInt64Array(size);
  prompts.forEach((prompt, r) => {
    const start = r * longest + longest - prompt.length;
    prompt.forEach((token, i) => {
      inputIds[start + i] = BigInt(token);
      attentionMask[start + i] = 1n;
      positionIds[start + i] = BigInt(i);
    });
  });
  return { longest, inputIds, attentionMask, positionIds };
}

/**
 * Most bytes of one attention-score tensor ([rows, heads, longest, longest] float32, over the
 * attention heads) a prefill forward may hold. A graph materialises several such tensors per layer
 * and onnxruntime's arena keeps their peak, so a forward of every prompt at once grew with
 * rows × length²: 32 prompts of 2,000 tokens need 2 GB per tensor. 64 MiB is one such prompt of a
 * 4-head model; short prompts still prefill many to a forward. Both cache strategies keep to it.
 */
export const PREFILL_SCORE_BYTES = 64 * 2 ** 20;

/**
 * Splits prompts (by index, shortest first) into prefill forwards whose attention scores,
 * rows × heads × longest² × 4 bytes, stay within `PREFILL_SCORE_BYTES`; a prompt that alone
 * exceeds it runs alone.
 */
export function prefillChunks(lengths: readonly number[], heads: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const chunks: number[][] = [];
  let chunk: number[] = [];
  for (const i of order) {
    const longest = lengths[i]!;
    if (chunk.length > 0 && (chunk.length + 1) * heads * longest * longest * 4 > PREFILL_SCORE_BYTES) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(i);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

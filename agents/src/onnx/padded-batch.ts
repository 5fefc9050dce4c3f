/**
 * A running batch in the Optimum decoder-with-past convention (`present`), or with no cache at all
 * (`recompute`: every step runs each whole sequence again, the baseline the cache is measured
 * against). Rows are left-padded to one length: attention_mask 0 on the padding, position ids
 * counting real tokens only. Rows that join are prefilled on their own and their cache is merged in,
 * the shorter side left-padded; rows that finish are selected out. Each of those copies the whole
 * cache, which the graph's `present` output already does every step: exported models pay it,
 * ToolGym's own run `in-place` (in-place-batch.ts).
 */
import * as ort from 'onnxruntime-node';
import type { DecodeWatch } from './decode-profile.ts';
import { type DecodeBatch, leftPaddedPrompts, type RowLogits, uniquePrompts } from './decode-batch.ts';
import type { DecoderSession, ForwardOutput, KvCache } from './decoder-session.ts';

export class PaddedBatch implements DecodeBatch {
  /** Per row: every position so far, left padding included (pad ids), and its attention mask. */
  private sequences: number[][] = [];
  private masks: number[][] = [];
  /** Per row: real tokens so far (the next position id). */
  private counts: number[] = [];
  private cache: KvCache | undefined;

  constructor(
    private readonly decoder: DecoderSession,
    private readonly padTokenId: number,
    private readonly strategy: 'present' | 'recompute',
  ) {}

  get rows(): number {
    return this.sequences.length;
  }

  async add(prompts: readonly (readonly number[])[], watch?: DecodeWatch): Promise<RowLogits> {
    const { unique, source } = uniquePrompts(prompts);
    const feeds = leftPaddedPrompts(unique, this.padTokenId);
    const out = await this.decoder.forward({ batch: unique.length, ...feeds }, watch);
    const { longest } = feeds;
    const sequences: number[][] = prompts.map((p) => [...p]);
    const masks: number[][] = prompts.map((p) => p.map(() => 1));
    if (this.strategy === 'present') {
      const expanded = source.every((u, j) => u === j) ? out.keyValues : selectRows(out.keyValues, source);
      this.cache = this.cache ? concatRows(this.cache, expanded) : expanded;
    }
    const length = Math.max(longest, this.sequences[0]?.length ?? 0);
    for (const [group, groupMasks] of [
      [this.sequences, this.masks],
      [sequences, masks],
    ])
      for (const [b, sequence] of group!.entries())
        leftPad(sequence, groupMasks![b]!, length, this.padTokenId);
    this.sequences.push(...sequences);
    this.masks.push(...masks);
    this.counts.push(...prompts.map((p) => p.length));
    watch?.lap('cache');
    return lastLogits(out, (j) => source[j]!);
  }

  async step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits> {
    tokens.forEach((token, b) => {
      this.sequences[b]!.push(token);
      this.masks[b]!.push(1);
    });
    const batch = this.rows;
    const out =
      this.strategy === 'present'
        ? await this.decoder.forward(
            {
              batch,
              inputIds: tokens,
              attentionMask: this.masks.flat(),
              positionIds: this.counts,
              past: this.cache!,
            },
            watch,
          )
        : await this.decoder.forward(
            {
              batch,
              inputIds: this.sequences.flat(),
              attentionMask: this.masks.flat(),
              positionIds: this.masks.flatMap(positionsOf),
            },
            watch,
          );
    for (let b = 0; b < batch; b++) this.counts[b]!++;
    if (this.strategy === 'present') this.cache = out.keyValues;
    return lastLogits(out, (b) => b);
  }

  remove(finished: readonly number[]): number[] {
    const gone = new Set(finished);
    const keep = this.sequences.flatMap((_, b) => (gone.has(b) ? [] : [b]));
    this.sequences = keep.map((b) => this.sequences[b]!);
    this.masks = keep.map((b) => this.masks[b]!);
    this.counts = keep.map((b) => this.counts[b]!);
    if (this.cache) this.cache = keep.length > 0 ? selectRows(this.cache, keep) : undefined;
    return keep;
  }
}

/** Row b's logits at the last position, read from forward row `rowOf(b)`. */
function lastLogits(out: ForwardOutput, rowOf: (b: number) => number): RowLogits {
  return (b) => {
    const offset = (rowOf(b) * out.logitsSeq + out.logitsSeq - 1) * out.vocab;
    return out.logits.subarray(offset, offset + out.vocab);
  };
}

/** Shifts a row right to `length` positions with padding (its cache is left-padded to match). */
function leftPad(sequence: number[], mask: number[], length: number, padTokenId: number): void {
  const count = length - sequence.length;
  if (count === 0) return;
  sequence.unshift(...new Array(count).fill(padTokenId));
  mask.unshift(...new Array(count).fill(0));
}

/** Position ids for a left-padded row: real tokens count 0, 1, 2, …; padding sits at 0. */
function positionsOf(mask: number[]): number[] {
  let next = 0;
  return mask.map((m) => (m === 1 ? next++ : 0));
}

/** The given batch rows of a cache, in that order (a row may repeat). */
function selectRows(cache: KvCache, rows: readonly number[]): KvCache {
  const tensors = cache.tensors.map((t) => {
    const [, heads, length, headDim] = t.dims as [number, number, number, number];
    const rowSize = heads * length * headDim;
    const data = t.data as Float32Array | Uint16Array;
    const kept = new (data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(
      rows.length * rowSize,
    );
    rows.forEach((row, i) => {
      kept.set(data.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
    });
    return new ort.Tensor(t.type as 'float32', kept as Float32Array, [rows.length, heads, length, headDim]);
  });
  return { tensors, batch: rows.length, length: cache.length };
}

/**
 * Stacks two caches along the batch axis, left-padding the shorter one with zeros along the
 * sequence axis (those positions get attention_mask 0), for rows that join a running batch.
 */
function concatRows(a: KvCache, b: KvCache): KvCache {
  const length = Math.max(a.length, b.length);
  const tensors = a.tensors.map((ta, i) => {
    const tb = b.tensors[i]!;
    const [, heads, , headDim] = ta.dims as [number, number, number, number];
    const data = ta.data as Float32Array | Uint16Array;
    const Kind = data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor;
    const merged = new Kind((a.batch + b.batch) * heads * length * headDim);
    let rowOffset = 0;
    for (const [cache, t] of [
      [a, ta],
      [b, tb],
    ] as const) {
      const src = t.data as Float32Array | Uint16Array;
      const shift = (length - cache.length) * headDim;
      const srcBlock = cache.length * headDim;
      for (let r = 0; r < cache.batch; r++) {
        for (let h = 0; h < heads; h++) {
          const from = (r * heads + h) * srcBlock;
          const to = ((rowOffset + r) * heads + h) * length * headDim + shift;
          merged.set(src.subarray(from, from + srcBlock), to);
        }
      }
      rowOffset += cache.batch;
    }
    return new ort.Tensor(ta.type as 'float32', merged as Float32Array, [
      a.batch + b.batch,
      heads,
      length,
      headDim,
    ]);
  });
  return { tensors, batch: a.batch + b.batch, length };
}

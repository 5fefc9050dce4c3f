/**
 * A running batch in the Optimum decoder-with-past convention (`present`), or with no cache at all
 * (`recompute`: every step runs each whole sequence again, the baseline the cache is measured
 * against). Rows are left-padded to one length: attention_mask 0 on the padding, position ids
 * counting real tokens only. Rows that join are prefilled on their own (in forwards of
 * `PREFILL_SCORE_BYTES` of attention scores at most) and their cache is merged in, the shorter side
 * left-padded; rows that finish are selected out. Each of those copies the whole
 * cache, which the graph's `present` output already does every step: exported models pay it,
 * ToolGym's own run `in-place` (in-place-batch.ts).
 */
import * as ort from 'onnxruntime-node';
import type { DecodeWatch } from './decode-profile.ts';
import {
  type DecodeBatch,
  leftPaddedPrompts,
  prefillChunks,
  type RowLogits,
  uniquePrompts,
} from './decode-batch.ts';
import type { DecoderSession, ForwardInput, ForwardOutput, KvCache } from './decoder-session.ts';

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
    const prefilled = await this.forwardChunked(
      unique.map((p) => p.length),
      (rows) =>
        leftPaddedPrompts(
          rows.map((u) => unique[u]!),
          this.padTokenId,
        ),
      watch,
    );
    if (this.strategy === 'present') {
      const cache = this.cache;
      this.cache = gatherRows([
        ...Array.from({ length: cache?.batch ?? 0 }, (_, row) => ({ cache: cache!, row })),
        ...source.map((u) => ({ cache: prefilled[u]!.out.keyValues, row: prefilled[u]!.row })),
      ]);
    }
    const sequences: number[][] = prompts.map((p) => [...p]);
    const masks: number[][] = prompts.map((p) => p.map(() => 1));
    const length = Math.max(...unique.map((p) => p.length), this.sequences[0]?.length ?? 0);
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
    return (j) => {
      const { out, row } = prefilled[source[j]!]!;
      return lastLogits(out, row);
    };
  }

  async step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits> {
    tokens.forEach((token, b) => {
      this.sequences[b]!.push(token);
      this.masks[b]!.push(1);
    });
    const batch = this.rows;
    if (this.strategy === 'recompute') {
      // Every step is a prefill of every row: bounded as one.
      const outs = await this.forwardChunked(
        this.sequences.map((s) => s.length),
        (rows) => ({
          inputIds: rows.flatMap((b) => this.sequences[b]!),
          attentionMask: rows.flatMap((b) => this.masks[b]!),
          positionIds: rows.flatMap((b) => positionsOf(this.masks[b]!)),
        }),
        watch,
      );
      for (let b = 0; b < batch; b++) this.counts[b]!++;
      return (b) => lastLogits(outs[b]!.out, outs[b]!.row);
    }
    const out = await this.decoder.forward(
      {
        batch,
        inputIds: tokens,
        attentionMask: this.masks.flat(),
        positionIds: this.counts,
        past: this.cache!,
      },
      watch,
    );
    for (let b = 0; b < batch; b++) this.counts[b]!++;
    this.cache = out.keyValues;
    return (b) => lastLogits(out, b);
  }

  /**
   * Runs rows of these lengths in forwards of `PREFILL_SCORE_BYTES` of attention scores at most
   * (`prefillChunks`), `feedsOf` giving the feeds of each forward's rows; returns each row's output
   * and its row there.
   */
  private async forwardChunked(
    lengths: readonly number[],
    feedsOf: (rows: number[]) => Omit<ForwardInput, 'batch'>,
    watch: DecodeWatch | undefined,
  ): Promise<Array<{ out: ForwardOutput; row: number }>> {
    const outputs: Array<{ out: ForwardOutput; row: number }> = [];
    for (const rows of prefillChunks(lengths, this.decoder.shape.numHeads)) {
      const out = await this.decoder.forward({ batch: rows.length, ...feedsOf(rows) }, watch);
      rows.forEach((r, row) => {
        outputs[r] = { out, row };
      });
    }
    return outputs;
  }

  remove(finished: readonly number[]): number[] {
    const gone = new Set(finished);
    const keep = this.sequences.flatMap((_, b) => (gone.has(b) ? [] : [b]));
    this.sequences = keep.map((b) => this.sequences[b]!);
    this.masks = keep.map((b) => this.masks[b]!);
    this.counts = keep.map((b) => this.counts[b]!);
    const cache = this.cache;
    if (cache) this.cache = keep.length > 0 ? gatherRows(keep.map((row) => ({ cache, row }))) : undefined;
    return keep;
  }
}

/** The logits of forward row `row` at its last position. */
function lastLogits(out: ForwardOutput, row: number): Float32Array {
  const offset = (row * out.logitsSeq + out.logitsSeq - 1) * out.vocab;
  return out.logits.subarray(offset, offset + out.vocab);
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

/**
 * A cache of the given rows, in that order (a row may repeat; rows may come from several caches),
 * each left-padded with zeros along the sequence axis to the longest (those positions get
 * attention_mask 0): rows that join a running batch, or the rows that stay.
 */
function gatherRows(rows: ReadonlyArray<{ cache: KvCache; row: number }>): KvCache {
  const length = Math.max(...rows.map((r) => r.cache.length));
  const tensors = rows[0]!.cache.tensors.map((first, k) => {
    const [, heads, , headDim] = first.dims as [number, number, number, number];
    const Kind = (first.data as Float32Array | Uint16Array).constructor as
      | Float32ArrayConstructor
      | Uint16ArrayConstructor;
    const merged = new Kind(rows.length * heads * length * headDim);
    rows.forEach(({ cache, row }, i) => {
      const src = cache.tensors[k]!.data as Float32Array | Uint16Array;
      const block = cache.length * headDim;
      for (let h = 0; h < heads; h++) {
        const from = (row * heads + h) * block;
        merged.set(src.subarray(from, from + block), ((i * heads + h) * length + length - cache.length) * headDim);
      }
    });
    return new ort.Tensor(first.type as 'float32', merged as Float32Array, [rows.length, heads, length, headDim]);
  });
  return { tensors, batch: rows.length, length };
}

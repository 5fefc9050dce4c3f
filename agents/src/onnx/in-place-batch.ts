/**
 * A running batch on the `in-place` graph layout (decoder-graph.ts): the engine owns the KV cache,
 * one preallocated buffer per layer and kind, [rowCapacity, kvHeads, capacity, headDim], fed to every
 * call as it is (onnxruntime-node reads input typed arrays without copying). A call returns only its
 * own keys and values; they are written into each row's next free slots here. Nothing is copied per
 * step but those new entries:
 * - each row keeps its own length: its keys sit in slots 0 … length−1, no left padding, and the
 *   attention mask (kept in place too, one int64 row per batch row) marks the used slots;
 * - a row that joins takes the next free row, its prompt's keys written to its first slots;
 * - a row that finishes is replaced by the last row (one row copied, not the batch);
 * - the capacity grows in steps of `CAPACITY_STEP` slots (one re-layout copy per step of growth),
 *   bounded by the position table; attention over unused slots is masked and costs at most that step.
 * The buffers outlive a batch: the next one reuses them.
 */
import * as ort from 'onnxruntime-node';
import type { DecodeWatch } from './decode-profile.ts';
import { type DecodeBatch, leftPaddedPrompts, type RowLogits, uniquePrompts } from './decode-batch.ts';
import type { DecoderSession } from './decoder-session.ts';

/** Slots added to every row's capacity at once when a row needs more. */
export const CAPACITY_STEP = 32;

export class InPlaceBatch implements DecodeBatch {
  rows = 0;
  private rowCapacity = 0;
  /** Slots per row. */
  private capacity = 0;
  /** Per layer: key, value buffers, [rowCapacity, kvHeads, capacity, headDim]. */
  private buffers: Float32Array[] = [];
  /** [rowCapacity, capacity + 1]: 1 on a row's used slots, and on the last column (this step's token). */
  private mask = new BigInt64Array(0);
  private lengths = new Int32Array(0);
  private inputIds = new BigInt64Array(0);
  private positionIds = new BigInt64Array(0);
  private readonly heads: number;
  private readonly headDim: number;

  constructor(
    private readonly decoder: DecoderSession,
    private readonly padTokenId: number,
  ) {
    if (decoder.layout !== 'in-place') throw new Error('internal: InPlaceBatch needs an in-place graph');
    this.heads = decoder.shape.numKvHeads;
    this.headDim = decoder.shape.headDim;
  }

  /** Empties the batch, keeping the buffers for the next one. */
  reset(): void {
    this.rows = 0;
  }

  async add(prompts: readonly (readonly number[])[], watch?: DecodeWatch): Promise<RowLogits> {
    const { unique, source } = uniquePrompts(prompts);
    const feeds = leftPaddedPrompts(unique, this.padTokenId);
    const out = await this.decoder.forward({ batch: unique.length, ...feeds }, watch);
    const first = this.rows;
    this.reserve(first + prompts.length, Math.max(...prompts.map((p) => p.length)) + 1);
    const { heads, headDim, capacity } = this;
    const { longest } = feeds;
    prompts.forEach((prompt, j) => {
      const row = first + j;
      const u = source[j]!;
      const length = prompt.length;
      // The prompt's keys sit at the end of its (left-padded) prefill row; they go to slots 0 … length−1.
      out.keyValues.tensors.forEach((t, k) => {
        const from = t.data as Float32Array;
        const to = this.buffers[k]!;
        for (let h = 0; h < heads; h++) {
          const src = ((u * heads + h) * longest + longest - length) * headDim;
          to.set(from.subarray(src, src + length * headDim), (row * heads + h) * capacity * headDim);
        }
      });
      const maskRow = row * (capacity + 1);
      this.mask.fill(1n, maskRow, maskRow + length);
      this.mask.fill(0n, maskRow + length, maskRow + capacity);
      this.mask[maskRow + capacity] = 1n;
      this.lengths[row] = length;
    });
    this.rows = first + prompts.length;
    watch?.lap('cache');
    return (j) => out.logits.subarray(source[j]! * out.vocab, (source[j]! + 1) * out.vocab);
  }

  async step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits> {
    const batch = this.rows;
    let longest = 0;
    for (let b = 0; b < batch; b++) longest = Math.max(longest, this.lengths[b]!);
    this.reserve(batch, longest + 1);
    const { heads, headDim, capacity } = this;
    for (let b = 0; b < batch; b++) {
      this.inputIds[b] = BigInt(tokens[b]!);
      this.positionIds[b] = BigInt(this.lengths[b]!);
    }
    const dims = [batch, heads, capacity, headDim];
    const size = batch * heads * capacity * headDim;
    const out = await this.decoder.forward(
      {
        batch,
        inputIds: this.inputIds.subarray(0, batch),
        attentionMask: this.mask.subarray(0, batch * (capacity + 1)),
        positionIds: this.positionIds.subarray(0, batch),
        past: {
          tensors: this.buffers.map((buffer) => new ort.Tensor('float32', buffer.subarray(0, size), dims)),
          batch,
          length: capacity,
        },
      },
      watch,
    );
    // This step's key and value of row b, head h go to slot lengths[b].
    out.keyValues.tensors.forEach((t, k) => {
      const from = t.data as Float32Array;
      const to = this.buffers[k]!;
      for (let b = 0; b < batch; b++) {
        const slot = this.lengths[b]!;
        for (let h = 0; h < heads; h++) {
          const src = (b * heads + h) * headDim;
          const dst = ((b * heads + h) * capacity + slot) * headDim;
          for (let d = 0; d < headDim; d++) to[dst + d] = from[src + d]!;
        }
      }
    });
    for (let b = 0; b < batch; b++) this.mask[b * (capacity + 1) + this.lengths[b]!++] = 1n;
    watch?.lap('cache');
    return (b) => out.logits.subarray(b * out.vocab, (b + 1) * out.vocab);
  }

  remove(finished: readonly number[]): number[] {
    const order = Array.from({ length: this.rows }, (_, b) => b);
    for (const b of [...finished].sort((x, y) => y - x)) {
      const last = this.rows - 1;
      if (b !== last) {
        this.moveRow(last, b);
        order[b] = order[last]!;
      }
      order.pop();
      this.rows--;
    }
    return order;
  }

  private moveRow(from: number, to: number): void {
    const rowSize = this.heads * this.capacity * this.headDim;
    for (const buffer of this.buffers) buffer.copyWithin(to * rowSize, from * rowSize, (from + 1) * rowSize);
    const width = this.capacity + 1;
    this.mask.copyWithin(to * width, from * width, (from + 1) * width);
    this.lengths[to] = this.lengths[from]!;
  }

  /** Grows the buffers to hold `rows` rows of at least `slots` slots each, keeping what they hold. */
  private reserve(rows: number, slots: number): void {
    const limit = this.decoder.shape.maxPositions;
    const capacity =
      slots <= this.capacity
        ? this.capacity
        : Math.min(limit, Math.ceil(slots / CAPACITY_STEP) * CAPACITY_STEP);
    if (slots > capacity) throw new Error(`internal: ${slots} cache slots exceed the ${limit} positions`);
    const rowCapacity = rows <= this.rowCapacity ? this.rowCapacity : Math.max(rows, 2 * this.rowCapacity);
    if (capacity === this.capacity && rowCapacity === this.rowCapacity) return;
    const { heads, headDim } = this;
    const layers = 2 * this.decoder.shape.numLayers;
    this.buffers = Array.from({ length: layers }, (_, k) => {
      const next = new Float32Array(rowCapacity * heads * capacity * headDim);
      const old = this.buffers[k];
      if (old)
        for (let r = 0; r < this.rows * heads; r++)
          next.set(
            old.subarray(r * this.capacity * headDim, (r + 1) * this.capacity * headDim),
            r * capacity * headDim,
          );
      return next;
    });
    const mask = new BigInt64Array(rowCapacity * (capacity + 1));
    for (let r = 0; r < this.rows; r++) {
      mask.set(
        this.mask.subarray(r * (this.capacity + 1), r * (this.capacity + 1) + this.capacity),
        r * (capacity + 1),
      );
      mask[r * (capacity + 1) + capacity] = 1n;
    }
    this.mask = mask;
    const lengths = new Int32Array(rowCapacity);
    lengths.set(this.lengths.subarray(0, this.rows));
    this.lengths = lengths;
    this.inputIds = new BigInt64Array(rowCapacity);
    this.positionIds = new BigInt64Array(rowCapacity);
    this.capacity = capacity;
    this.rowCapacity = rowCapacity;
  }
}

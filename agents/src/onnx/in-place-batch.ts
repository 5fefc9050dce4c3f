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
 * - batch-invariant (the policy's default), prompts are prefilled with prompts of their own length
 *   only, so no padding shifts a prompt's reductions;
 * - where a prompt is kept is `PromptSlots`: in its rows' own slots, or stored once in the shared slots
 *   (`shared_key_values`, other sessions of the same weights with those inputs): every row scores
 *   every shared slot in one matrix product per head (a lone row in its own, `PER_ROW_SHARED_PRODUCTS`),
 *   so a group reads its prompt's keys once per step instead of once per row. Its rows' own slots
 *   then hold only what they generate. The shared slots of a prompt go when its last row leaves;
 * - a prefill forward holds at most `PREFILL_SCORE_BYTES` of attention scores: prompts that need
 *   more run in several forwards (prefillChunks).
 * The buffers outlive a batch: the next one reuses them.
 */
import * as ort from 'onnxruntime-node';
import type { SharedSlotProducts } from '../model/decoder-graph.ts';
import type { DecodeWatch } from './decode-profile.ts';
import {
  type DecodeBatch,
  leftPaddedPrompts,
  prefillChunks,
  type RowLogits,
  uniquePrompts,
} from './decode-batch.ts';
import type { DecoderSession, ForwardOutput } from './decoder-session.ts';

/**
 * Slots added to every row's capacity at once when a row needs more. Each step of growth copies the
 * cache once; every decode step attends over the unused slots too. With a shared prompt the rows' own
 * slots are few, and 16 against 32 made a batch-32 step 1.13× faster (`session.run`, built-in model).
 */
export const CAPACITY_STEP = 16;

/**
 * A prompt goes to the shared slots when at least this fraction of the batch's rows have it. Every
 * row scores every shared slot, at about a fifth of what a row's own cached slot costs it (`pnpm
 * bench policy`, built-in model, batch 32), so sharing pays while a few prompts fill the batch.
 */
export const SHARE_FRACTION = 1 / 4;

/**
 * Where a prompt's keys and values are kept:
 * - `own`: in its rows' own slots, prompt and generated tokens summed as one attention (the default;
 *   batch-invariant);
 * - `groups`: a prompt that at least `SHARE_FRACTION` of the batch's rows have goes to the shared
 *   slots, the others to their own. Whether a row's prompt is shared depends on its batch, and the
 *   attention then sums its prompt apart from its own slots: not batch-invariant;
 * - `shared`: every prompt goes to the shared slots, alone as in any batch, each at an offset and with
 *   a length rounded up to `PROMPT_ALIGN` slots. A row's attention then always sums its prompt, its
 *   generated tokens and this step's token apart and in one order, and every one of its nonzero
 *   scores lands at the same place in each reduction's vector lanes and blocks (`productBlock`)
 *   whatever other prompts sit beside it: batch-invariant, and a group still reads its prompt once
 *   per step;
 * - `sections`: every row keeps its prompt in a section of its own beside its own slots
 *   (`row-sections` products), at offset 0 as a prompt alone in the shared slots: the same bits as
 *   `shared`, and no row scores another row's prompt (for rows whose prompt no other row shares, see
 *   prompt-group-batch.ts).
 */
export type PromptSlots = 'own' | 'groups' | 'shared' | 'sections';

/**
 * `shared` prompt slots: each prompt starts at a multiple of this many slots and takes a multiple of
 * it, as the cache's capacity (`CAPACITY_STEP`) does, so the rows' own slots start at one too.
 * onnxruntime's softmax sums 16 floats per vector (AVX-512; 8 slots failed the invariance test): a
 * shift by a multiple of 16 keeps every score in its lane, and the masked slots between add exact zeros.
 */
export const PROMPT_ALIGN = 16;

/**
 * The shared slots onnxruntime's CPU matrix product (MLAS sgemm) sums in one block when it weighs the
 * shared values by their probabilities ([rows, shared] · [shared, headDim]): its panels hold 128 × 128
 * floats, narrowed to the head's width (not under 16) and deepened to match, 512 slots for 32-wide
 * heads. Blocks are summed apart and then added, so a prompt that straddles a block boundary in a
 * batch but not alone sums in another order: `shared` prompt slots move such a prompt to the next
 * boundary.
 */
export function productBlock(headDim: number): number {
  let width = 128;
  let depth = 128;
  while (width > 16 && width / 2 >= headDim) {
    width /= 2;
    depth *= 2;
  }
  return depth;
}

/**
 * Steps of at most this many rows multiply the shared slots one row at a time (`per-row`
 * products): at batch 1 that saves the 4 Transposes per layer that move rows head-major and back.
 * Both forms give a row the same bits.
 */
export const PER_ROW_SHARED_PRODUCTS = 1;

/** A prompt stored once in the shared slots. */
interface SharedPrompt {
  length: number;
  /** Slots it takes: `length`, rounded up to `PROMPT_ALIGN` for `shared` prompt slots. */
  slots: number;
  /** Its first slot among the shared slots (set by `setShared`). */
  start: number;
  /** Rows that attend to it. */
  rows: number;
  /** Per layer key, value: [kvHeads, slots, headDim], zero past `length`. */
  keyValues: Float32Array[];
}

export class InPlaceBatch implements DecodeBatch {
  rows = 0;
  private rowCapacity = 0;
  /** Slots per row. */
  private capacity = 0;
  /** Per layer: key, value buffers, [rowCapacity, kvHeads, capacity, headDim]. */
  private buffers: Float32Array[] = [];
  /**
   * [rowCapacity, sharedLength + capacity + 1]: 1 on the shared slots of a row's prompt, on its used
   * slots, and on the last column (this step's token).
   */
  private mask = new BigInt64Array(0);
  /** Slots each row uses in its own cache. */
  private lengths = new Int32Array(0);
  /** Index into `shared` of each row's prompt, or −1 when its prompt sits in its own slots. */
  private sharedOf = new Int32Array(0);
  private shared: SharedPrompt[] = [];
  /** `sections`: per layer key, value, [rowCapacity, kvHeads, sectionCapacity, headDim], each row's prompt. */
  private sections: Float32Array[] = [];
  /** `sections`: slots of each row's section, a multiple of `PROMPT_ALIGN`. */
  private sectionCapacity = 0;
  /** `sections`: each row's prompt length. */
  private promptLengths = new Int32Array(0);
  /** The shared prompts laid end to end, per layer key and value: [kvHeads, sharedLength, headDim]. */
  private sharedTensors: ort.Tensor[] = [];
  private sharedLength = 0;
  private inputIds = new BigInt64Array(0);
  private positionIds = new BigInt64Array(0);
  private readonly heads: number;
  private readonly headDim: number;

  /** Run the steps while some prompt is shared (from `openSharing`, at the first step that needs each). */
  private readonly sharing = new Map<SharedSlotProducts, DecoderSession>();

  /**
   * `decoder` runs the graph without shared slots; `openSharing` gives the same weights with them
   * (opened at the first shared prompt: batches of distinct prompts never need it).
   */
  constructor(
    private readonly decoder: DecoderSession,
    private readonly openSharing: (products: SharedSlotProducts) => Promise<DecoderSession>,
    private readonly padTokenId: number,
    /** Prefill a prompt only with prompts of its own length (see `OnnxPolicySettings.batchInvariant`). */
    private readonly batchInvariant: boolean,
    /** Where prompts are kept; by default as `batchInvariant` allows (`own`, or else `groups`). */
    private readonly promptSlots: PromptSlots = batchInvariant ? 'own' : 'groups',
  ) {
    if (decoder.layout !== 'in-place') throw new Error('internal: InPlaceBatch needs an in-place graph');
    this.heads = decoder.shape.numKvHeads;
    this.headDim = decoder.shape.headDim;
  }

  /** Slots of the prompts stored once for several rows (0 when no prompt is shared). */
  get sharedSlots(): number {
    return this.sharedLength;
  }

  /** The mask's columns before the rows' own slots: the shared slots, or the rows' prompt sections. */
  private get promptColumns(): number {
    return this.promptSlots === 'sections' ? this.sectionCapacity : this.sharedLength;
  }

  /** Empties the batch, keeping the buffers for the next one. */
  reset(): void {
    this.rows = 0;
    this.setShared([]);
    this.writeMask();
  }

  async add(prompts: readonly (readonly number[])[], watch?: DecodeWatch): Promise<RowLogits> {
    const { unique, source } = uniquePrompts(prompts);
    const prefilled = await this.prefill(unique, watch);
    const first = this.rows;
    const rows = first + prompts.length;
    const { heads, headDim } = this;
    const kvTensors = 2 * this.decoder.shape.numLayers;
    /**
     * Key (k even) or value (k odd) tensor k of unique prompt u, head h: slots longest − length …
     * longest − 1 of its prefill row.
     */
    const prefilledSlots = (k: number, u: number, h: number) => {
      const { out, row, longest } = prefilled[u]!;
      const length = unique[u]!.length;
      const start = ((row * heads + h) * longest + longest - length) * headDim;
      return (out.keyValues.tensors[k]!.data as Float32Array).subarray(start, start + length * headDim);
    };
    const rowsOf = new Array<number>(unique.length).fill(0);
    for (const u of source) rowsOf[u]!++;
    /** Index in `shared` of each unique prompt stored there. */
    const sharedAt = new Map<number, number>();
    const shared = [...this.shared];
    unique.forEach((prompt, u) => {
      const share =
        this.promptSlots === 'shared' ||
        (this.promptSlots === 'groups' && rowsOf[u]! >= 2 && rowsOf[u]! >= SHARE_FRACTION * rows);
      if (!share) return;
      const slots =
        this.promptSlots === 'shared'
          ? Math.ceil(prompt.length / PROMPT_ALIGN) * PROMPT_ALIGN
          : prompt.length;
      const keyValues = Array.from({ length: kvTensors }, (_, k) => {
        const data = new Float32Array(heads * slots * headDim);
        for (let h = 0; h < heads; h++) data.set(prefilledSlots(k, u, h), h * slots * headDim);
        return data;
      });
      sharedAt.set(
        u,
        shared.push({ length: prompt.length, slots, start: 0, rows: rowsOf[u]!, keyValues }) - 1,
      );
    });
    if (sharedAt.size > 0) this.setShared(shared);
    const sections = this.promptSlots === 'sections';
    const ownSlots = prompts.map((p, j) => (sections || sharedAt.has(source[j]!) ? 0 : p.length));
    this.reserve(rows, Math.max(...ownSlots) + 1, sections ? Math.max(...prompts.map((p) => p.length)) : 0);
    const { capacity, sectionCapacity } = this;
    prompts.forEach((prompt, j) => {
      const row = first + j;
      const u = source[j]!;
      this.sharedOf[row] = sharedAt.get(u) ?? -1;
      this.lengths[row] = ownSlots[j]!;
      if (sections) {
        this.promptLengths[row] = prompt.length;
        for (let k = 0; k < kvTensors; k++)
          for (let h = 0; h < heads; h++)
            this.sections[k]!.set(prefilledSlots(k, u, h), (row * heads + h) * sectionCapacity * headDim);
      }
      if (ownSlots[j] === 0) return;
      for (let k = 0; k < kvTensors; k++)
        for (let h = 0; h < heads; h++)
          this.buffers[k]!.set(prefilledSlots(k, u, h), (row * heads + h) * capacity * headDim);
    });
    this.rows = rows;
    this.writeMask();
    watch?.lap('cache');
    return (j) => {
      const { out, row } = prefilled[source[j]!]!;
      return out.logits.subarray(row * out.vocab, (row + 1) * out.vocab);
    };
  }

  /**
   * Runs the prompts: each prompt's output, its row in that output and the output's padded length.
   * Batch-invariant, prompts run with the others of their length only, so none is padded; else
   * together, left-padded to the longest. Either way in forwards of `PREFILL_SCORE_BYTES` at most.
   */
  private async prefill(
    unique: ReadonlyArray<readonly number[]>,
    watch: DecodeWatch | undefined,
  ): Promise<Array<{ out: ForwardOutput; row: number; longest: number }>> {
    const groups = new Map<number, number[]>();
    unique.forEach((prompt, u) => {
      const key = this.batchInvariant ? prompt.length : 0;
      const group = groups.get(key);
      if (group) group.push(u);
      else groups.set(key, [u]);
    });
    const prefilled: Array<{ out: ForwardOutput; row: number; longest: number }> = [];
    const chunks = [...groups.values()].flatMap((group) =>
      prefillChunks(
        group.map((u) => unique[u]!.length),
        this.decoder.shape.numHeads,
      ).map((chunk) => chunk.map((i) => group[i]!)),
    );
    for (const group of chunks) {
      const feeds = leftPaddedPrompts(
        group.map((u) => unique[u]!),
        this.padTokenId,
      );
      const out = await this.decoder.forward({ batch: group.length, ...feeds }, watch);
      group.forEach((u, row) => {
        prefilled[u] = { out, row, longest: feeds.longest };
      });
    }
    return prefilled;
  }

  async step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits> {
    const batch = this.rows;
    let longest = 0;
    for (let b = 0; b < batch; b++) longest = Math.max(longest, this.lengths[b]!);
    this.reserve(batch, longest + 1);
    const { heads, headDim, capacity, sharedLength, sectionCapacity } = this;
    const sections = this.promptSlots === 'sections';
    for (let b = 0; b < batch; b++) {
      this.inputIds[b] = BigInt(tokens[b]!);
      const prompt = sections ? this.promptLengths[b]! : (this.shared[this.sharedOf[b]!]?.length ?? 0);
      this.positionIds[b] = BigInt(prompt + this.lengths[b]!);
    }
    const dims = [batch, heads, capacity, headDim];
    const size = batch * heads * capacity * headDim;
    const prefix = this.promptColumns;
    const width = prefix + capacity + 1;
    const sectionDims = [batch, heads, sectionCapacity, headDim];
    const sectionSize = batch * heads * sectionCapacity * headDim;
    // The prompt slots before the rows' own: each row's section, or the shared slots, or none.
    const shared = sections
      ? {
          tensors: this.sections.map(
            (buffer) => new ort.Tensor('float32', buffer.subarray(0, sectionSize), sectionDims),
          ),
          length: sectionCapacity,
        }
      : sharedLength > 0
        ? { tensors: this.sharedTensors, length: sharedLength }
        : undefined;
    const decoder = shared
      ? await this.sharingSession(batch, sections ? 'row-sections' : undefined)
      : this.decoder;
    const out = await decoder.forward(
      {
        batch,
        inputIds: this.inputIds.subarray(0, batch),
        attentionMask: this.mask.subarray(0, batch * width),
        positionIds: this.positionIds.subarray(0, batch),
        past: {
          tensors: this.buffers.map((buffer) => new ort.Tensor('float32', buffer.subarray(0, size), dims)),
          batch,
          length: capacity,
        },
        ...(shared ? { shared } : {}),
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
    for (let b = 0; b < batch; b++) this.mask[b * width + prefix + this.lengths[b]!++] = 1n;
    watch?.lap('cache');
    return (b) => out.logits.subarray(b * out.vocab, (b + 1) * out.vocab);
  }

  /** The shared-slot session for a step of `rows` rows (see `PER_ROW_SHARED_PRODUCTS`). */
  private async sharingSession(
    rows: number,
    products: SharedSlotProducts = rows <= PER_ROW_SHARED_PRODUCTS ? 'per-row' : 'batched',
  ): Promise<DecoderSession> {
    let session = this.sharing.get(products);
    if (!session) {
      session = await this.openSharing(products);
      if (!session.sharesSlots) throw new Error('internal: the shared-slot session has no shared slots');
      this.sharing.set(products, session);
    }
    return session;
  }

  remove(finished: readonly number[]): number[] {
    const order = Array.from({ length: this.rows }, (_, b) => b);
    for (const b of [...finished].sort((x, y) => y - x)) {
      const prompt = this.shared[this.sharedOf[b]!];
      if (prompt) prompt.rows--;
      const last = this.rows - 1;
      if (b !== last) {
        this.moveRow(last, b);
        order[b] = order[last]!;
      }
      order.pop();
      this.rows--;
    }
    if (this.shared.some((p) => p.rows === 0)) {
      this.setShared(this.shared.filter((p) => p.rows > 0));
      this.writeMask();
    }
    return order;
  }

  private moveRow(from: number, to: number): void {
    const rowSize = this.heads * this.capacity * this.headDim;
    for (const buffer of this.buffers) buffer.copyWithin(to * rowSize, from * rowSize, (from + 1) * rowSize);
    const sectionSize = this.heads * this.sectionCapacity * this.headDim;
    for (const buffer of this.sections)
      buffer.copyWithin(to * sectionSize, from * sectionSize, (from + 1) * sectionSize);
    const width = this.promptColumns + this.capacity + 1;
    this.mask.copyWithin(to * width, from * width, (from + 1) * width);
    this.lengths[to] = this.lengths[from]!;
    this.sharedOf[to] = this.sharedOf[from]!;
    this.promptLengths[to] = this.promptLengths[from]!;
  }

  /**
   * Makes `prompts` the shared slots, end to end (for `shared` prompt slots, none across a
   * `productBlock` boundary); rows keep pointing at their own prompt.
   */
  private setShared(prompts: SharedPrompt[]): void {
    const at = new Map(prompts.map((p, i) => [p, i]));
    for (let b = 0; b < this.rows; b++) {
      const prompt = this.shared[this.sharedOf[b]!];
      this.sharedOf[b] = prompt ? at.get(prompt)! : -1;
    }
    this.shared = prompts;
    const { heads, headDim } = this;
    const block = productBlock(headDim);
    let end = 0;
    for (const p of prompts) {
      p.start = end;
      if (this.promptSlots === 'shared' && (end % block) + p.slots > block)
        p.start = Math.ceil(end / block) * block;
      end = p.start + p.slots;
    }
    this.sharedLength = end;
    // A lone prompt's own keys and values are the shared slots as they are.
    const alone = prompts.length === 1 && end === prompts[0]!.slots ? prompts[0] : undefined;
    this.sharedTensors = Array.from({ length: 2 * this.decoder.shape.numLayers }, (_, k) => {
      let data = alone?.keyValues[k];
      if (!data) {
        data = new Float32Array(heads * end * headDim);
        for (const p of prompts)
          for (let h = 0; h < heads; h++)
            data.set(
              p.keyValues[k]!.subarray(h * p.slots * headDim, (h + 1) * p.slots * headDim),
              (h * end + p.start) * headDim,
            );
      }
      return new ort.Tensor('float32', data, [heads, end, headDim]);
    });
  }

  /** Rebuilds the mask of every row from `sharedOf` and `lengths` (after the shared slots or capacity change). */
  private writeMask(): void {
    const prefix = this.promptColumns;
    const width = prefix + this.capacity + 1;
    if (this.mask.length < this.rowCapacity * width) this.mask = new BigInt64Array(this.rowCapacity * width);
    for (let b = 0; b < this.rows; b++) {
      const row = b * width;
      this.mask.fill(0n, row, row + width);
      const prompt = this.shared[this.sharedOf[b]!];
      if (prompt) this.mask.fill(1n, row + prompt.start, row + prompt.start + prompt.length);
      if (this.promptSlots === 'sections') this.mask.fill(1n, row, row + this.promptLengths[b]!);
      this.mask.fill(1n, row + prefix, row + prefix + this.lengths[b]!);
      this.mask[row + width - 1] = 1n;
    }
  }

  /**
   * Grows the buffers to hold `rows` rows of at least `slots` slots each (and, for `sections`, prompt
   * sections of at least `promptSlots` slots), keeping what they hold.
   */
  private reserve(rows: number, slots: number, promptSlots = 0): void {
    const limit = this.decoder.shape.maxPositions;
    const capacity =
      slots <= this.capacity
        ? this.capacity
        : Math.min(limit, Math.ceil(slots / CAPACITY_STEP) * CAPACITY_STEP);
    if (slots > capacity) throw new Error(`internal: ${slots} cache slots exceed the ${limit} positions`);
    const sectionCapacity =
      promptSlots <= this.sectionCapacity
        ? this.sectionCapacity
        : Math.ceil(promptSlots / PROMPT_ALIGN) * PROMPT_ALIGN;
    const rowCapacity = rows <= this.rowCapacity ? this.rowCapacity : Math.max(rows, 2 * this.rowCapacity);
    const sectionsChange =
      this.promptSlots === 'sections' &&
      (sectionCapacity !== this.sectionCapacity || rowCapacity !== this.rowCapacity);
    if (capacity === this.capacity && rowCapacity === this.rowCapacity && !sectionsChange) return;
    const { heads, headDim } = this;
    const layers = 2 * this.decoder.shape.numLayers;
    /** `old` ([rows, heads, from, headDim]) laid out for `to` slots per row and head. */
    const relaid = (old: Float32Array | undefined, from: number, to: number) => {
      const next = new Float32Array(rowCapacity * heads * to * headDim);
      if (old)
        for (let r = 0; r < this.rows * heads; r++)
          next.set(old.subarray(r * from * headDim, (r + 1) * from * headDim), r * to * headDim);
      return next;
    };
    if (capacity !== this.capacity || rowCapacity !== this.rowCapacity)
      this.buffers = Array.from({ length: layers }, (_, k) =>
        relaid(this.buffers[k], this.capacity, capacity),
      );
    if (sectionsChange)
      this.sections = Array.from({ length: layers }, (_, k) =>
        relaid(this.sections[k], this.sectionCapacity, sectionCapacity),
      );
    const grown = (old: Int32Array<ArrayBuffer>) => {
      if (rowCapacity === this.rowCapacity) return old;
      const next = new Int32Array(rowCapacity);
      next.set(old.subarray(0, this.rows));
      return next;
    };
    this.lengths = grown(this.lengths);
    this.sharedOf = grown(this.sharedOf);
    this.promptLengths = grown(this.promptLengths);
    if (rowCapacity !== this.rowCapacity) {
      this.inputIds = new BigInt64Array(rowCapacity);
      this.positionIds = new BigInt64Array(rowCapacity);
    }
    this.capacity = capacity;
    this.sectionCapacity = sectionCapacity;
    this.rowCapacity = rowCapacity;
    this.writeMask();
  }
}

/**
 * `sharedPrompts`' running batch: rows split by prompt into sub-batches, each an `InPlaceBatch` run by
 * its own `session.run` per step.
 * - A prompt that at least `GROUP_ROWS` rows of one join have (a GRPO group's) gets a sub-batch of
 *   its own, its prompt stored once in that sub-batch's shared slots: its rows read it once per step
 *   and score no other group's prompt.
 * - Every other row joins one sub-batch where each row keeps its prompt in a section of its own
 *   (`sections` prompt slots): a row reads only its own prompt, as the default engine's rows do.
 * In a single batch of every prompt's rows (what `sharedPrompts` ran before) every row scored every
 * prompt in the shared slots, so a batch of several groups or of distinct prompts ran slower than the
 * default engine. A row's bits are the same in either form: where its prompt sits (shared slots of
 * one prompt or of many, or its own section, each at an offset of `PROMPT_ALIGN` slots) and its
 * batch mates change nothing in its logits (batch-invariance.test.ts, prompt-group-batch.test.ts).
 */
import type { DecodeWatch } from './decode-profile.ts';
import { type DecodeBatch, type RowLogits, uniquePrompts } from './decode-batch.ts';
import type { InPlaceBatch, PromptSlots } from './in-place-batch.ts';

/**
 * Rows of one join that give their prompt a sub-batch of its own. A sub-batch costs a `session.run`
 * per step; in its own section each row reads its prompt itself. `pnpm bench prompt-groups` (built-in
 * model, 162-token prompts, 32 rows, CPU ms per decode step, load 7.4): groups of 4 rows as
 * sub-batches 6.79 against 6.54 in sections, of 6 rows 5.79 against 6.89 (an earlier probe 5.00
 * against 4.79), of 8 rows 4.87 against 6.10, of 16 rows 3.12 against 6.45.
 */
export const GROUP_ROWS = 8;

/** Where a row of the batch runs. */
interface Place {
  part: InPlaceBatch;
  row: number;
}

export class PromptGroupBatch implements DecodeBatch {
  /** Each row's sub-batch and its row there, in the batch's row order. */
  private places: Place[] = [];
  /** Sub-batches holding rows: the rows with their prompt in their own section first, then groups. */
  private parts: InPlaceBatch[];
  /** Group sub-batches without rows, whose buffers the next group reuses. */
  private spare: InPlaceBatch[] = [];
  private readonly sections: InPlaceBatch;

  /**
   * `newPart` makes an empty sub-batch that keeps its prompts so (`shared` or `sections`); a prompt
   * with `groupRows` rows in a join gets a sub-batch of its own.
   */
  constructor(
    private readonly newPart: (slots: PromptSlots) => InPlaceBatch,
    private readonly groupRows = GROUP_ROWS,
  ) {
    this.sections = newPart('sections');
    this.parts = [this.sections];
  }

  get rows(): number {
    return this.places.length;
  }

  /** Sub-batches with rows: a `session.run` each per step. */
  get subBatches(): number {
    return this.parts.filter((p) => p.rows > 0).length;
  }

  /** Empties the batch, keeping the sub-batches' buffers for the next one. */
  reset(): void {
    for (const part of this.parts) part.reset();
    this.spare.push(...this.parts.filter((p) => p !== this.sections));
    this.parts = [this.sections];
    this.places = [];
  }

  async add(prompts: readonly (readonly number[])[], watch?: DecodeWatch): Promise<RowLogits> {
    const { unique, source } = uniquePrompts(prompts);
    const rowsOf = new Array<number>(unique.length).fill(0);
    for (const u of source) rowsOf[u]!++;
    /** The sub-batch of each unique prompt, and the new rows of each sub-batch (indices into `prompts`). */
    const partOf = unique.map((_, u) => {
      if (rowsOf[u]! < this.groupRows) return this.sections;
      const part = this.spare.pop() ?? this.newPart('shared');
      part.reset();
      this.parts.push(part);
      return part;
    });
    const joining = new Map<InPlaceBatch, number[]>();
    source.forEach((u, j) => {
      appendTo(joining, partOf[u]!, j);
    });
    const logitsOf: Array<() => Float32Array> = [];
    const base = this.places.length;
    for (const [part, rows] of joining) {
      const first = part.rows;
      const logits = await part.add(
        rows.map((j) => prompts[j]!),
        watch,
      );
      rows.forEach((j, i) => {
        logitsOf[j] = () => logits(i);
        this.places[base + j] = { part, row: first + i };
      });
    }
    return (j) => logitsOf[j]!();
  }

  async step(tokens: readonly number[], watch?: DecodeWatch): Promise<RowLogits> {
    const tokensOf = new Map<InPlaceBatch, number[]>(this.parts.map((p) => [p, new Array<number>(p.rows)]));
    this.places.forEach(({ part, row }, b) => {
      tokensOf.get(part)![row] = tokens[b]!;
    });
    const logits = new Map<InPlaceBatch, RowLogits>();
    for (const part of this.parts)
      if (part.rows > 0) logits.set(part, await part.step(tokensOf.get(part)!, watch));
    return (b) => {
      const { part, row } = this.places[b]!;
      return logits.get(part)!(row);
    };
  }

  remove(finished: readonly number[]): number[] {
    const leaving = new Map<InPlaceBatch, number[]>();
    for (const b of finished) {
      const { part, row } = this.places[b]!;
      appendTo(leaving, part, row);
    }
    /** Per sub-batch that lost rows: each remaining row's new row there, by its old row. */
    const moved = new Map<InPlaceBatch, Int32Array>();
    for (const [part, rows] of leaving) {
      const old = part.remove(rows);
      const newRowOf = new Int32Array(part.rows + rows.length);
      old.forEach((oldRow, newRow) => {
        newRowOf[oldRow] = newRow;
      });
      moved.set(part, newRowOf);
    }
    const gone = new Set(finished);
    const order: number[] = [];
    const places: Place[] = [];
    this.places.forEach((place, b) => {
      if (gone.has(b)) return;
      order.push(b);
      const newRowOf = moved.get(place.part);
      places.push(newRowOf ? { part: place.part, row: newRowOf[place.row]! } : place);
    });
    this.places = places;
    for (const part of this.parts) if (part !== this.sections && part.rows === 0) this.spare.push(part);
    this.parts = this.parts.filter((p) => p === this.sections || p.rows > 0);
    return order;
  }
}

/** Appends `value` to `key`'s list in `lists`, starting the list when it has none. */
function appendTo<K, V>(lists: Map<K, V[]>, key: K, value: V): void {
  const list = lists.get(key);
  if (list) list.push(value);
  else lists.set(key, [value]);
}

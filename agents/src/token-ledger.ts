import type { Branch, Span } from '@toolgym/protocol';
import { SampledTokenError, TemplateMismatchError } from './errors.ts';
import { GrowableBuffer } from './growable-buffer.ts';
import { SequenceBuffers } from './sequence-buffers.ts';
import type { Tokenizer } from './tokenizer.ts';

/** An observation ready to append: the text the template rendered and its tokens. */
export interface Observation {
  text: string;
  tokens: ArrayLike<number>;
}

/**
 * The exact token record of one episode. Sampled tokens are stored as the engine returned them
 * (loss mask 1); everything else is the chat template's rendering of the conversation, tokenized
 * one observation at a time (loss mask 0). Sampled text is never tokenized again.
 *
 * When the template rewrites history (strips earlier reasoning, compacts), the record branches:
 * the sequence so far is closed as a `Branch` and a new one starts from the template's full render
 * of the conversation, so every sampled token stays in the exact context it was sampled in.
 */
export class TokenLedger {
  /** The current sequence's ids, mask and behaviour logprobs; made at its first append. */
  private record: SequenceBuffers | undefined;
  /**
   * The policy's own logprob of each sampled token (0 elsewhere) while every turn's engine reported
   * it (`GenerateResult.policyLogprobs`): null before the first sampled turn (all 0 so far),
   * undefined from the first turn without.
   */
  private own: GrowableBuffer<Float64Array> | null | undefined = null;
  /** Length of the current sequence's prompt (before its first sampled token). */
  promptLength = 0;
  /** Sequences closed by a rewrite of history, in order. */
  readonly branches: Branch[] = [];
  /**
   * The conversation text the current sequence stands for: the template's text, with each sampled
   * turn as the template writes it (its end-of-turn token in the template's spelling).
   */
  private text = '';

  /**
   * @param headroom room a sequence's record keeps beyond its prompt when it is made, in tokens
   *   (a run's `RenderCache.recordHeadroom`); by default half the prompt, at least `MIN_HEADROOM`.
   *   Only where the record's memory is allocated depends on it, never what it holds.
   */
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly headroom?: number,
  ) {}

  get length(): number {
    return this.record?.length ?? 0;
  }

  /** The token ids so far, as a view (see `SequenceBuffers`). */
  get tokens(): Int32Array {
    return this.record?.tokens ?? new Int32Array(0);
  }

  /** The loss mask so far (1 on sampled tokens), as a view. */
  get lossMask(): Uint8Array {
    return this.record?.lossMask ?? new Uint8Array(0);
  }

  /** The behaviour logprobs so far (0 off sampled tokens), as a view. */
  get logprobs(): Float64Array {
    return this.record?.logprobs ?? new Float64Array(0);
  }

  /** The policy's own logprobs so far, as a view; undefined once a turn came without them. */
  get policyLogprobs(): Float64Array | undefined {
    if (this.own === null) return new Float64Array(this.length);
    return this.own?.view();
  }

  /** The conversation text of the current sequence (see `text`). */
  get renderedText(): string {
    return this.text;
  }

  /**
   * The current sequence as a trajectory stores it: views onto the record, no copy (the record
   * only appends, so they keep their values; a branch's buffers are replaced, never reused).
   */
  sequence(): Branch {
    const own = this.policyLogprobs;
    return {
      tokens: this.tokens,
      lossMask: this.lossMask,
      logprobs: this.logprobs,
      promptLength: this.promptLength,
      ...(own ? { policyLogprobs: own } : {}),
    };
  }

  /**
   * Appends the engine's sampled tokens. `logprobs` is the engine's, one per token (0 where
   * unknown); `policyLogprobs` the policy's own, when the engine reports them. `text` is the turn
   * as the template writes it (the caller maps a sampled end token the template spells differently
   * onto the template's own).
   */
  appendSampled(
    tokens: readonly number[],
    logprobs: readonly number[] | undefined,
    text: string,
    policyLogprobs?: readonly number[],
  ): Span {
    const n = tokens.length;
    for (let i = 0; i < n; i++) {
      const id = tokens[i]!;
      // The record holds ids as int32: anything else would be stored as some other id.
      if (!Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) throw new SampledTokenError(id, i);
    }
    const record = this.recordFor(n);
    const start = record.length;
    record.appendSampled(tokens, logprobs);
    if (policyLogprobs?.length !== n) this.own = undefined;
    else if (this.own !== undefined) {
      if (this.own === null) {
        this.own = new GrowableBuffer(Float64Array, record.capacity);
        this.own.appendRepeated(0, start);
      }
      this.own.append(policyLogprobs);
    }
    this.text += text;
    return { start, end: record.length };
  }

  /** An observation given as text, tokenized alone. */
  observationOfText(text: string): Observation {
    return { text, tokens: this.tokenizer.encode(text) };
  }

  /** Whether `rendered` extends the current sequence's text (the prefix property). */
  extendedBy(rendered: string): boolean {
    return rendered.startsWith(this.text);
  }

  /**
   * What appending the template's render of the whole conversation would add: the rendered text
   * must extend what the ledger holds, else the template rewrote history (TemplateMismatchError).
   */
  observationFor(rendered: string): Observation {
    if (!this.extendedBy(rendered)) throw mismatch(this.text, rendered);
    return this.observationOfText(rendered.slice(this.text.length));
  }

  /** Appends an observation (loss mask 0). */
  appendObservation(observation: Observation): Span {
    const n = observation.tokens.length;
    const record = this.recordFor(n);
    const start = record.length;
    record.appendObservation(observation.tokens);
    this.own?.appendRepeated(0, n);
    this.text += observation.text;
    if (start === this.promptLength) this.promptLength = record.length;
    return { start, end: record.length };
  }

  /**
   * The current sequence's record, made at its first append (its prompt, the bulk of its tokens,
   * `n` long): room for it and, in most episodes, the turns after.
   */
  private recordFor(n: number): SequenceBuffers {
    if (!this.record)
      this.record = new SequenceBuffers(n + (this.headroom ?? Math.max(MIN_HEADROOM, n >> 1)));
    return this.record;
  }

  /**
   * Closes the current sequence as a branch and starts a new one whose prompt is `rendered`, the
   * template's render of the whole conversation as it now stands. Returns the closed branch's index.
   */
  branch(rendered: string): number {
    this.branches.push(this.sequence());
    this.record = undefined;
    if (this.own) this.own = new GrowableBuffer(Float64Array, 0);
    this.promptLength = 0;
    this.text = '';
    this.appendObservation(this.observationOfText(rendered));
    return this.branches.length - 1;
  }
}

/** The largest id an int32 record holds. */
const MAX_TOKEN_ID = 0x7fff_ffff;
/** Room a sequence's buffers keep beyond its prompt at least, in tokens. */
const MIN_HEADROOM = 256;

/** The error for a render that does not extend `held`, naming where they part. */
export function mismatch(held: string, rendered: string): TemplateMismatchError {
  let offset = 0;
  while (offset < held.length && held[offset] === rendered[offset]) offset++;
  return new TemplateMismatchError(
    offset,
    held.slice(offset, offset + 80),
    rendered.slice(offset, offset + 80),
  );
}

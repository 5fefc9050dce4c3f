import type { Branch, Span } from '@toolgym/protocol';
import { TemplateMismatchError } from './errors.ts';
import type { Tokenizer } from './tokenizer.ts';

/** An observation ready to append: the text the template rendered and its tokens. */
export interface Observation {
  text: string;
  tokens: readonly number[];
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
  tokens: number[] = [];
  lossMask: Array<0 | 1> = [];
  logprobs: number[] = [];
  /**
   * The policy's own logprob of each sampled token (0 elsewhere) while every turn's engine reported
   * it (`GenerateResult.policyLogprobs`); undefined from the first turn without.
   */
  policyLogprobs: number[] | undefined = [];
  /** Length of the current sequence's prompt (before its first sampled token). */
  promptLength = 0;
  /** Sequences closed by a rewrite of history, in order. */
  readonly branches: Branch[] = [];
  /**
   * The conversation text the current sequence stands for: the template's text, with each sampled
   * turn as the template writes it (its end-of-turn token in the template's spelling).
   */
  private text = '';

  constructor(private readonly tokenizer: Tokenizer) {}

  get length(): number {
    return this.tokens.length;
  }

  /** The conversation text of the current sequence (see `text`). */
  get renderedText(): string {
    return this.text;
  }

  /**
   * Appends the engine's sampled tokens. `logprobs` is the engine's, one per token (0 where
   * unknown); `policyLogprobs` the policy's own, when the engine reports them. `text` is the turn as the template writes it (the caller maps a sampled end token
   * the template spells differently onto the template's own).
   */
  appendSampled(
    tokens: readonly number[],
    logprobs: readonly number[] | undefined,
    text: string,
    policyLogprobs?: readonly number[],
  ): Span {
    const start = this.tokens.length;
    if (policyLogprobs?.length !== tokens.length) this.policyLogprobs = undefined;
    for (let i = 0; i < tokens.length; i++) {
      this.tokens.push(tokens[i]!);
      this.lossMask.push(1);
      this.logprobs.push(logprobs?.[i] ?? 0);
    }
    if (this.policyLogprobs) for (const logprob of policyLogprobs!) this.policyLogprobs.push(logprob);
    this.text += text;
    return { start, end: this.tokens.length };
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
    const start = this.tokens.length;
    const n = observation.tokens.length;
    if (start === 0) {
      // A sequence's prompt, the bulk of its tokens: arrays of its size at once, not grown by pushes.
      this.tokens = observation.tokens.slice();
      this.lossMask = new Array<0 | 1>(n).fill(0);
      this.logprobs = new Array<number>(n).fill(0);
      if (this.policyLogprobs) this.policyLogprobs = new Array<number>(n).fill(0);
    } else
      for (let i = 0; i < n; i++) {
        this.tokens.push(observation.tokens[i]!);
        this.lossMask.push(0);
        this.logprobs.push(0);
        this.policyLogprobs?.push(0);
      }
    this.text += observation.text;
    if (this.lossMask.lastIndexOf(1, start) < 0) this.promptLength = this.tokens.length;
    return { start, end: this.tokens.length };
  }

  /**
   * Closes the current sequence as a branch and starts a new one whose prompt is `rendered`, the
   * template's render of the whole conversation as it now stands. Returns the closed branch's index.
   */
  branch(rendered: string): number {
    this.branches.push({
      tokens: this.tokens,
      lossMask: this.lossMask,
      logprobs: this.logprobs,
      promptLength: this.promptLength,
      ...(this.policyLogprobs ? { policyLogprobs: this.policyLogprobs } : {}),
    });
    this.tokens = [];
    this.lossMask = [];
    this.logprobs = [];
    if (this.policyLogprobs) this.policyLogprobs = [];
    this.text = '';
    this.appendObservation(this.observationOfText(rendered));
    return this.branches.length - 1;
  }
}

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

import type { Span } from '@toolgym/protocol';
import { TemplateMismatchError } from './errors.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * The exact token record of one episode. Sampled tokens are stored as the engine returned them
 * (loss mask 1); everything else is the chat template's rendering of the conversation, tokenized
 * one observation at a time as the difference between consecutive renders (loss mask 0). Sampled
 * text is never tokenized again.
 */
export class TokenLedger {
  readonly tokens: number[] = [];
  readonly lossMask: Array<0 | 1> = [];
  readonly logprobs: number[] = [];
  /**
   * The policy's own logprob of each sampled token (0 elsewhere) while every turn's engine reported
   * it (`GenerateResult.policyLogprobs`); undefined from the first turn without.
   */
  policyLogprobs: number[] | undefined = [];
  /** The conversation text the tokens stand for (what the template rendered plus what was sampled). */
  private text = '';
  /** The text of the last sampled turn. */
  lastSampledText = '';

  constructor(private readonly tokenizer: Tokenizer) {}

  get length(): number {
    return this.tokens.length;
  }

  /**
   * Appends the engine's sampled tokens. `logprobs` (behaviour) and `policyLogprobs` are the
   * engine's, one per token (logprobs 0 where unknown).
   */
  appendSampled(
    tokens: readonly number[],
    logprobs: readonly number[] | undefined,
    policyLogprobs?: readonly number[],
  ): Span {
    const start = this.tokens.length;
    if (policyLogprobs?.length !== tokens.length) this.policyLogprobs = undefined;
    tokens.forEach((id, i) => {
      this.tokens.push(id);
      this.lossMask.push(1);
      this.logprobs.push(logprobs?.[i] ?? 0);
      this.policyLogprobs?.push(policyLogprobs![i]!);
    });
    this.lastSampledText = this.tokenizer.decode(tokens);
    this.text += this.lastSampledText;
    return { start, end: this.tokens.length };
  }

  /** An observation given as text (see `continuationObservation` in the agent loop), tokenized alone. */
  observationOfText(text: string): { text: string; tokens: number[] } {
    return { text, tokens: this.tokenizer.encode(text) };
  }

  /**
   * What appending the template's render of the whole conversation would add: the rendered text
   * must extend what the ledger holds, else the template rewrote history (TemplateMismatchError).
   */
  observationFor(rendered: string): { text: string; tokens: number[] } {
    if (!rendered.startsWith(this.text)) {
      let offset = 0;
      while (offset < this.text.length && this.text[offset] === rendered[offset]) offset++;
      throw new TemplateMismatchError(
        offset,
        this.text.slice(offset, offset + 80),
        rendered.slice(offset, offset + 80),
      );
    }
    const text = rendered.slice(this.text.length);
    return { text, tokens: this.tokenizer.encode(text) };
  }

  /** Appends an observation from `observationFor` (loss mask 0). */
  appendObservation(observation: { text: string; tokens: number[] }): Span {
    const start = this.tokens.length;
    for (const id of observation.tokens) {
      this.tokens.push(id);
      this.lossMask.push(0);
      this.logprobs.push(0);
      this.policyLogprobs?.push(0);
    }
    this.text += observation.text;
    return { start, end: this.tokens.length };
  }
}

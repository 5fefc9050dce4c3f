import type { TokenIds } from '@toolgym/protocol';

/** The tokenizer a token-mode policy exposes (loaded from a model's tokenizer.json). */
export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: TokenIds): string;
  /**
   * `decode` of the first `count` ids, without copying them out (a sampled turn is decoded without
   * its end token every turn). Optional: without it, callers decode a copy.
   */
  decodeFirst?(ids: TokenIds, count: number): string;
  /** Ids that end a turn (eos, `<|im_end|>`). */
  readonly eosTokenIds: readonly number[];
  /** Special tokens by content, e.g. `<|im_start|>` → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /**
   * Added tokens matched in text before anything else and never joined with their neighbours (no
   * whitespace stripping, not single-word, not normalized): the text on either side of one
   * tokenizes on its own, so a long text may be tokenized piece by piece. Absent when unknown.
   */
  readonly boundaryTokens?: ReadonlySet<string>;
}

/** The tokenizer a token-mode policy exposes (loaded from a model's tokenizer.json). */
export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Ids that end a turn (eos, `<|im_end|>`). */
  readonly eosTokenIds: readonly number[];
  /** Special tokens by content, e.g. `<|im_start|>` → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
}

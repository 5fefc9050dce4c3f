/**
 * `Tokenizer` over a model's tokenizer.json through @huggingface/tokenizers (the maintained pure-JS
 * implementation behind transformers.js): the same files work for ToolGym's byte tokenizer and for
 * any exported Hugging Face model (Qwen, Llama, …). Added tokens (`<|im_start|>`, `<tool_call>`, …)
 * are matched in text and decoded back verbatim; nothing is skipped on decode.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../tokenizer.ts';

export class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly boundaryTokens: ReadonlySet<string>;
  private readonly inner: HfTokenizer;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json
   * @param eosTokenIds ids that end a turn (from generation_config.json / config.json / eos_token)
   */
  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    eosTokenIds: readonly number[],
  ) {
    // Decoding must reproduce the text exactly; cleanup would turn " ." into ".".
    this.inner = new HfTokenizer(tokenizerJson, { ...tokenizerConfig, clean_up_tokenization_spaces: false });
    const added = this.inner.get_added_tokens_decoder();
    this.specialTokens = new Map([...added].map(([id, token]) => [token.content, id]));
    this.boundaryTokens = new Set(
      [...added.values()]
        .filter((t) => !t.lstrip && !t.rstrip && !t.single_word && !t.normalized)
        .map((t) => t.content),
    );
    const vocab = this.inner.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.eosTokenIds = eosTokenIds;
  }

  encode(text: string): number[] {
    if (text === '') return [];
    return this.inner.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** Id of a token string (vocabulary or added token), if it exists. */
  tokenId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }
}

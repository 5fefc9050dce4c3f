import type { TokenIds } from '@toolgym/protocol';
import { HERMES_SPECIAL_TOKENS } from '../src/chat/hermes-template.ts';
import type { Tokenizer } from '../src/tokenizer.ts';

/**
 * TEST DOUBLE of the ToolGym small model's tokenizer (the real one is `model/byte-tokenizer.ts`
 * through `model/hf-tokenizer.ts`): 256 byte tokens, then the Hermes special tokens. Enough to
 * exercise exact-token trajectories without a model directory.
 */
export class ByteTokenizerTestDouble implements Tokenizer {
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  private readonly byId: string[];

  constructor(specials: readonly string[] = HERMES_SPECIAL_TOKENS) {
    this.byId = [...specials];
    this.specialTokens = new Map(specials.map((s, i) => [s, 256 + i]));
    this.vocabSize = 256 + specials.length;
    this.eosTokenIds = ['<|im_end|>', '<|endoftext|>'].flatMap((s) =>
      this.specialTokens.has(s) ? [this.specialTokens.get(s)!] : [],
    );
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let plain = '';
    const flush = () => {
      ids.push(...new TextEncoder().encode(plain));
      plain = '';
    };
    for (let i = 0; i < text.length; ) {
      const special = this.byId.find((s) => text.startsWith(s, i));
      if (special) {
        flush();
        ids.push(this.specialTokens.get(special)!);
        i += special.length;
      } else {
        plain += text[i];
        i++;
      }
    }
    flush();
    return ids;
  }

  decode(ids: TokenIds): string {
    let out = '';
    let bytes: number[] = [];
    const flush = () => {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (id < 256) bytes.push(id);
      else {
        flush();
        out += this.byId[id - 256] ?? '';
      }
    }
    flush();
    return out;
  }
}

/**
 * The byte-level decode path gives exactly what the library's own ByteLevel decoder gives: byte
 * runs decoded as UTF-8 between added tokens (a character split by an added token decodes as
 * replacement characters on both paths), added tokens verbatim.
 */
import { Tokenizer as LibraryTokenizer } from '@huggingface/tokenizers';
import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  byteTokenizerConfig,
  byteTokenizerId,
  byteTokenizerJson,
} from './byte-tokenizer.ts';
import { HuggingFaceTokenizer } from './hf-tokenizer.ts';

const json = byteTokenizerJson(['<think>', '</think>']);
const config = byteTokenizerConfig(1024, ['<think>', '</think>']);
const ours = new HuggingFaceTokenizer(json, config, []);
const library = new LibraryTokenizer(json, { ...config, clean_up_tokenization_spaces: false });
const libraryDecode = (ids: number[]) =>
  library.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });

describe('byte-level decoding', () => {
  it("matches the library's decoder on random ids, added tokens and split characters included", () => {
    const rng = new Rng(7);
    const ids = [...Array(ours.vocabSize).keys()];
    for (let i = 0; i < 300; i++) {
      const sequence = Array.from({ length: rng.int(1, 40) }, () => rng.pick(ids));
      expect(ours.decode(sequence)).toBe(libraryDecode(sequence));
    }
    const text = 'żółw 🐢 <think>why</think>\n<|im_start|>user\n"quotes" & <b>';
    expect(ours.decode(ours.encode(text))).toBe(text);
    // The two bytes of 'ż' with an added token between them.
    const [first, second] = ours.encode('ż');
    const split = [first!, byteTokenizerId('<|im_end|>'), second!];
    expect(ours.decode(split)).toBe(libraryDecode(split));
    expect(ours.decode(split)).toContain('\ufffd');
  });

  it('decodes ASCII runs, long runs and runs that outgrow its scratch buffer as the library does', () => {
    const rng = new Rng(11);
    const ascii = [...Array(128).keys()];
    for (let i = 0; i < 100; i++) {
      const sequence = Array.from({ length: rng.int(1, 60) }, () => rng.pick(ascii));
      expect(ours.decode(sequence)).toBe(libraryDecode(sequence));
    }
    for (const text of [
      'a'.repeat(5_000),
      `${'b'.repeat(3_000)}ż`,
      'żółw '.repeat(900),
      `x${'<think>y'.repeat(700)}`,
    ]) {
      const ids = ours.encode(text);
      expect(ours.decode(ids)).toBe(text);
      expect(ours.decode(ids)).toBe(libraryDecode(ids));
      expect(ours.decode(Int32Array.from(ids))).toBe(text);
    }
  });

  it('decodes the first ids of a sequence as the decode of their copy, on both paths, whatever the count', () => {
    const rng = new Rng(13);
    const ids = [...Array(ours.vocabSize).keys()];
    for (let i = 0; i < 100; i++) {
      const sequence = Array.from({ length: rng.int(1, 30) }, () => rng.pick(ids));
      expect(ours.decodeFirst(sequence, 0)).toBe('');
      for (let count = 1; count <= sequence.length; count++) {
        expect(ours.decodeFirst(sequence, count)).toBe(libraryDecode(sequence.slice(0, count)));
        expect(ours.decodeFirst(Int32Array.from(sequence), count)).toBe(
          ours.decode(sequence.slice(0, count)),
        );
      }
    }
    // An id outside the vocabulary sends the decode to the library, which gets only the first ids.
    const outside = [65, 66, BYTE_TOKENIZER_VOCAB_SIZE + 10_000, 67];
    expect(ours.decodeFirst(outside, 3)).toBe(libraryDecode(outside.slice(0, 3)));
    expect(ours.decodeFirst([65, 66], 5)).toBe('AB');
    expect(ours.decodeFirst([65, 66], -1)).toBe('');
  });

  it('leaves an id outside the vocabulary to the library', () => {
    expect(() => ours.decode([BYTE_TOKENIZER_VOCAB_SIZE + 10_000])).not.toThrow();
    expect(ours.decode([65, BYTE_TOKENIZER_VOCAB_SIZE + 10_000])).toBe(
      libraryDecode([65, BYTE_TOKENIZER_VOCAB_SIZE + 10_000]),
    );
  });
});

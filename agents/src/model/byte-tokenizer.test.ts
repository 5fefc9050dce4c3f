import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../chat/chat-template.ts';
import { HERMES_SPECIAL_TOKENS } from '../chat/hermes-template.ts';
import { hermesToolCalls } from '../chat/hermes-tool-calls.ts';
import { HuggingFaceTokenizer } from './hf-tokenizer.ts';
import {
  BYTE_MODEL_CHAT_TEMPLATE,
  BYTE_TOKENIZER_VOCAB_SIZE,
  byteTokenizerAddedTokens,
  byteTokenizerConfig,
  byteTokenizerId,
  byteTokenizerJson,
} from './byte-tokenizer.ts';

const tokenizer = new HuggingFaceTokenizer(byteTokenizerJson(), byteTokenizerConfig(1024), [
  byteTokenizerId('<|im_end|>'),
]);

function randomText(rng: Rng, length: number): string {
  // Mix ASCII, controls, Latin-1, CJK and astral-plane characters (emoji), i.e. 1- to 4-byte UTF-8.
  const ranges: Array<[number, number]> = [
    [0, 0x7f],
    [0x80, 0x7ff],
    [0x800, 0xd7ff],
    [0xe000, 0xfffd],
    [0x10000, 0x10ffff],
  ];
  let s = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = rng.pick(ranges);
    s += String.fromCodePoint(rng.int(lo, hi));
  }
  return s;
}

describe('byte tokenizer through @huggingface/tokenizers', () => {
  it('encodes any UTF-8 text to its bytes and decodes it back exactly', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 200; i++) {
      const text = randomText(rng, rng.int(0, 40));
      const ids = tokenizer.encode(text);
      expect(ids).toEqual([...Buffer.from(text, 'utf8')]);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    for (const text of ['  two  spaces ', "it's . , ?", '\n\t\r\u0000', 'héllo 🚀 日本語']) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    }
  });

  it('maps each special token to one id (256…262) and decodes it verbatim', () => {
    expect(tokenizer.vocabSize).toBe(263);
    HERMES_SPECIAL_TOKENS.forEach((token, i) => {
      expect(tokenizer.specialTokens.get(token)).toBe(256 + i);
      expect(tokenizer.encode(`a${token}b`)).toEqual([97, 256 + i, 98]);
      expect(tokenizer.decode([256 + i])).toBe(token);
    });
    expect(tokenizer.eosTokenIds).toEqual([258]);
  });

  it('chat template renders with @huggingface/jinja: compact tools, Hermes calls, grouped tool responses', () => {
    const text = new ChatTemplate(BYTE_MODEL_CHAT_TEMPLATE).render(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        // Assistant turns render as the model wrote them: its calls in Hermes' format.
        { role: 'assistant', content: hermesToolCalls.render([{ name: 'weather', arguments: { city: 'Paris' } }]) },
        { role: 'tool', content: '18C', toolCallId: 'a' },
        { role: 'tool', content: 'sunny', toolCallId: 'b' },
      ],
      [
        {
          name: 'weather',
          description: 'Current weather.',
          inputSchema: {
            type: 'object',
            properties: { city: { type: 'string' }, unit: { type: 'string' } },
            required: ['city'],
          },
        },
      ],
      { addGenerationPrompt: true },
    );
    expect(text).toBe(
      '<|im_start|>system\nBe brief.\nTools (call: <tool_call>{"name": ..., "arguments": {...}}</tool_call>):\n' +
        '- weather(city: string, unit?: string): Current weather.<|im_end|>\n' +
        '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
        '<|im_start|>assistant\n<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\n18C\n</tool_response>\n<tool_response>\nsunny\n</tool_response><|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
    const ids = tokenizer.encode(text);
    expect(ids.filter((id) => id === byteTokenizerId('<|im_start|>'))).toHaveLength(5);
    expect(ids).toContain(byteTokenizerId('<tool_call>'));
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it('renders without tools or system message', () => {
    const text = new ChatTemplate(BYTE_MODEL_CHAT_TEMPLATE).render([{ role: 'user', content: 'hi' }], [], {
      addGenerationPrompt: false,
    });
    expect(text).toBe('<|im_start|>user\nhi<|im_end|>\n');
  });
});

describe('byte tokenizer with extra tokens (tool names as single tokens)', () => {
  const extra = ['reverse', 'swap_ends', 'answer'];
  const withTools = new HuggingFaceTokenizer(byteTokenizerJson(extra), byteTokenizerConfig(1024, extra), [
    byteTokenizerId('<|im_end|>'),
  ]);

  it('gives each extra token the next id after the fixed ones, and matches it inside text', () => {
    expect(withTools.vocabSize).toBe(BYTE_TOKENIZER_VOCAB_SIZE + 3);
    const ids = withTools.encode('<tool_call>swap_ends:abc</tool_call> then answer');
    expect(ids.slice(0, 3)).toEqual([byteTokenizerId('<tool_call>'), BYTE_TOKENIZER_VOCAB_SIZE + 1, 58]);
    expect(ids.at(-1)).toBe(BYTE_TOKENIZER_VOCAB_SIZE + 2);
    expect(withTools.decode(ids)).toBe('<tool_call>swap_ends:abc</tool_call> then answer');
    // Without the extra tokens the same text is spelled out byte by byte.
    expect(tokenizer.encode('swap_ends')).toHaveLength('swap_ends'.length);
  });

  it('rejects an empty, repeated or reserved extra token', () => {
    expect(() => byteTokenizerAddedTokens(['reverse', 'reverse'])).toThrow(/"reverse" is empty or repeated/);
    expect(() => byteTokenizerAddedTokens([''])).toThrow(/empty or repeated/);
    expect(() => byteTokenizerAddedTokens(['<tool_call>'])).toThrow(/repeated/);
  });
});

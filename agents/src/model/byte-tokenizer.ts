/**
 * The tokenizer and chat template of ToolGym's own small model, as Hugging Face files
 * (tokenizer.json, tokenizer_config.json): 256 byte tokens (id = byte value, spelled with GPT-2's
 * byte-to-unicode mapping so the file is a valid ByteLevel BPE without merges) and, as added tokens
 * in id order from 256, the special tokens of the ChatML/Hermes layout its chat template writes.
 * Any UTF-8 text round-trips exactly through encode/decode.
 */
import { HERMES_SPECIAL_TOKENS } from '../chat/hermes-template.ts';

export const BYTE_TOKENIZER_VOCAB_SIZE = 256 + HERMES_SPECIAL_TOKENS.length;

/**
 * Every added token of a byte tokenizer with `extraTokens` (ids from 256 on): the fixed special
 * tokens, then the extra ones, e.g. an environment's tool names as single tokens ("toolkens",
 * Hao et al. 2023, "ToolkenGPT"), so a tool call names its tool with one token.
 */
export function byteTokenizerAddedTokens(extraTokens: readonly string[] = []): string[] {
  const fixed: readonly string[] = HERMES_SPECIAL_TOKENS;
  const seen = new Set<string>();
  for (const token of extraTokens) {
    if (token === '' || fixed.includes(token) || seen.has(token))
      throw new Error(`byte tokenizer: extra token ${JSON.stringify(token)} is empty or repeated`);
    seen.add(token);
  }
  return [...fixed, ...extraTokens];
}

/** Id of an added token of the byte tokenizer. */
export function byteTokenizerId(token: (typeof HERMES_SPECIAL_TOKENS)[number]): number {
  return 256 + HERMES_SPECIAL_TOKENS.indexOf(token);
}

/** Tokens the model treats as control tokens (skipped by `skip_special_tokens`); tool tags stay text, as in Qwen. */
const CONTROL_TOKENS = new Set(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);

/** GPT-2's reversible byte → printable unicode character mapping. */
export function gpt2ByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return map;
}

/**
 * ChatML with Hermes tool calls, kept short for a tiny model: each tool is one line
 * `- name(arg: type, optional?: type): description`. Accepts OpenAI/HF-shaped tools
 * (`{type, function: {name, description, parameters}}`) and MCP-shaped ones (`{name, description,
 * inputSchema}`); assistant `tool_calls` in HF shape (`{function: {name, arguments}}`) or flat.
 * Consecutive tool results share one user turn, each inside <tool_response>…</tool_response>.
 */
export const BYTE_MODEL_CHAT_TEMPLATE = String.raw`
{%- set system_first = messages and messages[0].role == 'system' %}
{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if system_first %}{{- messages[0].content + '\n' }}{%- endif %}
{{- 'Tools (call: <tool_call>{"name": ..., "arguments": {...}}</tool_call>):' }}
{%- for tool in tools %}
{%- set fn = tool.function if tool.function is defined else tool %}
{%- set schema = fn.parameters if fn.parameters is defined else fn.inputSchema %}
{{- '\n- ' + fn.name + '(' }}
{%- if schema is defined and schema.properties is defined %}
{%- for name, prop in schema.properties.items() %}
{{- name }}
{%- if not (schema.required is defined and name in schema.required) %}{{- '?' }}{%- endif %}
{{- ': ' + (prop.type if prop.type is defined else 'any') }}
{%- if not loop.last %}{{- ', ' }}{%- endif %}
{%- endfor %}
{%- endif %}
{{- ')' }}
{%- if fn.description %}{{- ': ' + fn.description }}{%- endif %}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- elif system_first %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}
{%- if not loop.first %}{{- '<|im_start|>system\n' + message.content + '<|im_end|>\n' }}{%- endif %}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant\n' }}
{%- if message.content %}{{- message.content }}{%- endif %}
{%- if message.tool_calls is defined and message.tool_calls %}
{%- for call in message.tool_calls %}
{%- set fn = call.function if call.function is defined else call %}
{%- if message.content or not loop.first %}{{- '\n' }}{%- endif %}
{{- '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' }}
{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}{%- endif %}
{{- '}\n</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
`.trim();

/** tokenizer.json (Hugging Face `tokenizers` format) of the byte tokenizer, with optional extra added tokens. */
export function byteTokenizerJson(extraTokens: readonly string[] = []): Record<string, unknown> {
  const byteToUnicode = gpt2ByteToUnicode();
  const vocab: Record<string, number> = {};
  byteToUnicode.forEach((ch, byte) => {
    vocab[ch] = byte;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: byteTokenizerAddedTokens(extraTokens).map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: CONTROL_TOKENS.has(content),
    })),
    normalizer: null,
    // The GPT-2 split regex only bounds the word length BPE works on; with no merges every byte is a token.
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** tokenizer_config.json of the byte tokenizer, with the chat template (ChatML/Hermes unless given). */
export function byteTokenizerConfig(
  modelMaxLength: number,
  extraTokens: readonly string[] = [],
  chatTemplate: string = BYTE_MODEL_CHAT_TEMPLATE,
): Record<string, unknown> {
  const addedTokensDecoder: Record<string, unknown> = {};
  byteTokenizerAddedTokens(extraTokens).forEach((content, i) => {
    addedTokensDecoder[String(256 + i)] = {
      content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: CONTROL_TOKENS.has(content),
    };
  });
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    split_special_tokens: false,
    errors: 'replace',
    model_max_length: modelMaxLength,
    added_tokens_decoder: addedTokensDecoder,
    chat_template: chatTemplate,
  };
}

/**
 * The model directory: a decoder in the Hugging Face / Optimum layout. The `onnx` policy reads
 * ToolGym's own directories and exported Hugging Face models through the same `readModelDir`;
 * `writeDecoderModelDir` (write-model-directory.ts) writes ToolGym's:
 *
 *   config.json             architecture sizes under HF names (num_hidden_layers, num_attention_heads, …)
 *   model.onnx              the graph with the weights as initializers (decoder-graph.ts); or onnx/model.onnx
 *   tokenizer.json          byte-level BPE without merges + special tokens (+ optional extra tokens)
 *   tokenizer_config.json   eos, pad and the chat template
 *   generation_config.json  eos ids
 *   toolgym.json            { format, policyVersion, decoder, … }: ToolGym's own metadata; `decoder` is the
 *                           DecoderConfig exactly as given (positions / ropeTheta included), the source of
 *                           truth when the directory is read back (readDecoderModelDir)
 *
 * Reading takes sizes from config.json under any of the common names (num_hidden_layers,
 * num_key_value_heads for GQA, head_dim or hidden_size / num_attention_heads), the tokenizer from
 * tokenizer.json, the chat template and eos from tokenizer_config.json / generation_config.json.
 * Every problem names the file to fix. Writing names the position encoding the way Hugging Face
 * configs do: RoPE models carry `position_embedding_type: 'rope'` and `rope_theta`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolGymError } from '@toolgym/protocol';
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from './decoder-config.ts';
import { HuggingFaceTokenizer } from './hf-tokenizer.ts';
import { decodeOnnxInitializers, OnnxDataType } from './onnx-proto.ts';

/** Why a model directory could not be used. */
export type ModelDirErrorCode =
  | 'missing_model_dir'
  | 'missing_model_file'
  | 'malformed_model_file'
  | 'unwritable_model_dir';

/** What to do about each kind of model directory problem, unless the error says better. */
const MODEL_DIR_HINTS: Record<ModelDirErrorCode, string> = {
  missing_model_dir:
    'create one with `toolgym policy init <dir>`, or export a Hugging Face model with `optimum-cli export onnx`',
  missing_model_file:
    'a model directory is written whole (`toolgym policy init`, `toolgym train`, `optimum-cli export onnx`): write it again, or copy all of it',
  malformed_model_file:
    'a model directory is written whole (`toolgym policy init`, `toolgym train`, `optimum-cli export onnx`): write it again, or copy all of it',
  unwritable_model_dir: 'pick a directory you can write to',
};

/** A configuration error: the model directory is missing or broken; `file` names what to fix. */
export class ModelDirError extends ToolGymError {
  constructor(
    code: ModelDirErrorCode,
    readonly file: string,
    message: string,
    hint: string = MODEL_DIR_HINTS[code],
  ) {
    super(code, `${file}: ${message}`, hint);
  }
}

export const TOOLGYM_MODEL_FORMAT = 'toolgym-decoder@1';

/** Contents of toolgym.json. */
export interface ToolgymModelMeta {
  format: typeof TOOLGYM_MODEL_FORMAT;
  policyVersion: number;
  decoder: DecoderConfig;
  /** Seed of the initial weights, when they came from `initDecoderWeights`. */
  initSeed?: number;
  /** Added tokens after the byte tokenizer's own (ids from 263 on), e.g. tool names as single tokens. */
  extraTokens?: string[];
  /**
   * How the model writes tool calls, when not Hermes JSON: `compact` is `<tool_call>name:value</tool_call>`
   * (agents/src/chat/compact-format.ts), the layout `toolgym train` uses with `template.kind: compact`.
   */
  toolCalls?: 'compact';
}

/** The chat layout a model was trained with, when not the default ChatML/Hermes one: its Jinja template and call format. */
export interface ModelChat {
  template: string;
  toolCalls: 'compact';
}

/** Architecture sizes the engine needs to drive the KV cache. */
export interface DecoderShape {
  numLayers: number;
  /** Attention heads (of the queries). */
  numHeads: number;
  /** Heads of the K/V cache (= attention heads without GQA). */
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Longest sequence (prompt + generated) the model supports. */
  maxPositions: number;
}

export interface ModelDir {
  dir: string;
  /** model.onnx, or onnx/model.onnx (the transformers.js layout). */
  modelPath: string;
  shape: DecoderShape;
  tokenizer: HuggingFaceTokenizer;
  chatTemplate?: string;
  eosTokenIds: number[];
  /** Pad id for batching (pad_token_id, else the first eos). */
  padTokenId: number;
  /** toolgym.json, present for ToolGym's own models. */
  toolgym?: ToolgymModelMeta;
}

function readJson(dir: string, file: string, required: true): Record<string, unknown>;
function readJson(dir: string, file: string, required: false): Record<string, unknown> | undefined;
function readJson(dir: string, file: string, required: boolean): Record<string, unknown> | undefined {
  const full = path.join(dir, file);
  if (!existsSync(full)) {
    if (required)
      throw new ModelDirError('missing_model_file', full, `missing; a model directory needs ${file}`);
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(full, 'utf8'));
  } catch (error) {
    throw new ModelDirError('malformed_model_file', full, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelDirError('malformed_model_file', full, 'must hold a JSON object');
  }
  return value as Record<string, unknown>;
}

function positiveInt(file: string, config: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const v = config[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ModelDirError(
        'malformed_model_file',
        file,
        `'${key}' must be a positive integer, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }
  return undefined;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Loads and validates a model directory (does not create the onnxruntime session). */
export function readModelDir(dir: string): ModelDir {
  const root = path.resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new ModelDirError('missing_model_dir', root, 'no such model directory');
  }
  const configFile = path.join(root, 'config.json');
  const config = readJson(root, 'config.json', true);
  const textConfig = (config.text_config as Record<string, unknown> | undefined) ?? config;
  const need = (label: string, ...keys: string[]) => {
    const v = positiveInt(configFile, textConfig, ...keys);
    if (v === undefined)
      throw new ModelDirError('malformed_model_file', configFile, `missing '${keys[0]}' (${label})`);
    return v;
  };
  const numLayers = need('number of decoder layers', 'num_hidden_layers', 'n_layer', 'num_layers');
  const numHeads = need('number of attention heads', 'num_attention_heads', 'n_head');
  const numKvHeads = positiveInt(configFile, textConfig, 'num_key_value_heads') ?? numHeads;
  const hidden = positiveInt(configFile, textConfig, 'hidden_size', 'n_embd', 'd_model');
  const headDim =
    positiveInt(configFile, textConfig, 'head_dim') ?? (hidden !== undefined ? hidden / numHeads : undefined);
  if (headDim === undefined || !Number.isInteger(headDim)) {
    throw new ModelDirError(
      'malformed_model_file',
      configFile,
      "needs 'head_dim', or 'hidden_size' divisible by 'num_attention_heads'",
    );
  }
  const vocabSize = need('vocabulary size', 'vocab_size');
  const maxPositions =
    positiveInt(configFile, textConfig, 'max_position_embeddings', 'n_positions') ?? Number.MAX_SAFE_INTEGER;

  const modelPath = [path.join(root, 'model.onnx'), path.join(root, 'onnx', 'model.onnx')].find((p) =>
    existsSync(p),
  );
  if (!modelPath) {
    throw new ModelDirError(
      'missing_model_file',
      path.join(root, 'model.onnx'),
      'missing; a model directory needs model.onnx (or onnx/model.onnx)',
    );
  }

  const { tokenizer: eosTokenizer, chatTemplate, eosTokenIds, padTokenId } = readTokenizerDir(root, config);

  const toolgymRaw = readJson(root, 'toolgym.json', false);
  let toolgym: ToolgymModelMeta | undefined;
  if (toolgymRaw) {
    const file = path.join(root, 'toolgym.json');
    if (toolgymRaw.format !== TOOLGYM_MODEL_FORMAT) {
      throw new ModelDirError(
        'malformed_model_file',
        file,
        `'format' must be '${TOOLGYM_MODEL_FORMAT}', got ${JSON.stringify(toolgymRaw.format)}`,
      );
    }
    if (typeof toolgymRaw.policyVersion !== 'number' || typeof toolgymRaw.decoder !== 'object') {
      throw new ModelDirError(
        'malformed_model_file',
        file,
        "needs a numeric 'policyVersion' and a 'decoder' config",
      );
    }
    if (toolgymRaw.toolCalls !== undefined && toolgymRaw.toolCalls !== 'compact') {
      throw new ModelDirError(
        'malformed_model_file',
        file,
        `'toolCalls' is 'compact' or absent (Hermes), got ${JSON.stringify(toolgymRaw.toolCalls)}`,
      );
    }
    toolgym = toolgymRaw as unknown as ToolgymModelMeta;
  }

  return {
    dir: root,
    modelPath,
    shape: { numLayers, numHeads, numKvHeads, headDim, vocabSize, maxPositions },
    tokenizer: eosTokenizer,
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
    eosTokenIds,
    padTokenId,
    ...(toolgym ? { toolgym } : {}),
  };
}

/** What a model's tokenizer files give: the tokenizer, its eos and pad ids and the chat template. */
export interface TokenizerDir {
  tokenizer: HuggingFaceTokenizer;
  chatTemplate?: string;
  eosTokenIds: number[];
  padTokenId: number;
}

/**
 * The tokenizer of a model directory from tokenizer.json, tokenizer_config.json and, when present,
 * generation_config.json and chat_template.jinja; `config` is config.json's (eos and pad ids). A
 * directory of tokenizer files only (a GPU service's base model, sampled remotely) needs no more.
 */
export function readTokenizerDir(root: string, config: Record<string, unknown> = {}): TokenizerDir {
  const tokenizerJson = readJson(root, 'tokenizer.json', true);
  const tokenizerConfig = readJson(root, 'tokenizer_config.json', false) ?? {};
  const generationConfig = readJson(root, 'generation_config.json', false) ?? {};
  let tokenizer: HuggingFaceTokenizer;
  try {
    tokenizer = new HuggingFaceTokenizer(tokenizerJson, tokenizerConfig, []);
  } catch (error) {
    throw new ModelDirError(
      'malformed_model_file',
      path.join(root, 'tokenizer.json'),
      `cannot build the tokenizer: ${(error as Error).message}`,
    );
  }
  const eosToken = tokenizerConfig.eos_token;
  const eosContent =
    typeof eosToken === 'string' ? eosToken : (eosToken as { content?: string } | undefined)?.content;
  const eosFromTokenizer = eosContent !== undefined ? tokenizer.tokenId(eosContent) : undefined;
  const eosTokenIds = [
    ...new Set([
      ...idList(generationConfig.eos_token_id),
      ...idList(config.eos_token_id),
      ...(eosFromTokenizer !== undefined ? [eosFromTokenizer] : []),
    ]),
  ];
  if (eosTokenIds.length === 0) {
    throw new ModelDirError(
      'malformed_model_file',
      path.join(root, 'generation_config.json'),
      "no eos token: set 'eos_token_id' (or eos_token in tokenizer_config.json)",
    );
  }
  const eosTokenizer = new HuggingFaceTokenizer(tokenizerJson, tokenizerConfig, eosTokenIds);
  const padTokenId =
    idList(generationConfig.pad_token_id)[0] ?? idList(config.pad_token_id)[0] ?? eosTokenIds[0]!;

  let chatTemplate: string | undefined;
  const rawTemplate = tokenizerConfig.chat_template;
  if (typeof rawTemplate === 'string') chatTemplate = rawTemplate;
  else if (Array.isArray(rawTemplate)) {
    const named = rawTemplate as Array<{ name?: string; template?: string }>;
    chatTemplate = (named.find((t) => t.name === 'default') ?? named[0])?.template;
  } else if (existsSync(path.join(root, 'chat_template.jinja'))) {
    chatTemplate = readFileSync(path.join(root, 'chat_template.jinja'), 'utf8');
  }

  return {
    tokenizer: eosTokenizer,
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
    eosTokenIds,
    padTokenId,
  };
}

/**
 * A ToolGym decoder's weights, read back out of its model.onnx (initializers are named by the decoder
 * weight names), e.g. for the learner to start from the weights a policy serves. `file` names the
 * graph in errors.
 */
export function readDecoderWeights(
  onnxBytes: Uint8Array,
  config: DecoderConfig,
  file = 'model.onnx',
): DecoderWeights {
  let initializers: ReturnType<typeof decodeOnnxInitializers>;
  try {
    initializers = decodeOnnxInitializers(onnxBytes);
  } catch (error) {
    throw new ModelDirError('malformed_model_file', file, `not an ONNX model (${(error as Error).message})`);
  }
  const weights: DecoderWeights = {};
  for (const [name, shape] of Object.entries(decoderWeightShapes(config))) {
    const t = initializers.get(name);
    if (!t || t.data_type !== OnnxDataType.FLOAT || !t.raw_data)
      throw new ModelDirError('malformed_model_file', file, `no float32 initializer '${name}'`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.raw_data.byteLength !== size * 4)
      throw new ModelDirError(
        'malformed_model_file',
        file,
        `initializer '${name}' has ${t.raw_data.byteLength / 4} values, expected ${size} (toolgym.json's decoder)`,
      );
    // Copy: raw_data may be unaligned inside the decoded buffer.
    weights[name] = new Float32Array(Uint8Array.from(t.raw_data).buffer);
  }
  return weights;
}

/** Config and weights of a ToolGym model directory (needs toolgym.json). */
export async function readDecoderModelDir(
  dir: string,
): Promise<{ config: DecoderConfig; weights: DecoderWeights; policyVersion: number }> {
  const model = readModelDir(dir);
  if (!model.toolgym)
    throw new ModelDirError(
      'missing_model_file',
      path.join(model.dir, 'toolgym.json'),
      'missing; only ToolGym decoders have readable weights',
    );
  const config = model.toolgym.decoder;
  return {
    config,
    weights: readDecoderWeights(await readFile(model.modelPath), config, model.modelPath),
    policyVersion: model.toolgym.policyVersion,
  };
}

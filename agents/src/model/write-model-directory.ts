/**
 * Writes a ToolGym decoder as a model directory (the layout in model-directory.ts), which the `onnx`
 * policy loads exactly like an exported Hugging Face model. The trainer publishes new weights with
 * `writeDecoderModelDir` (or hands them straight to `OnnxPolicy.loadWeights`).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  byteTokenizerConfig,
  byteTokenizerId,
  byteTokenizerJson,
} from './byte-tokenizer.ts';
import {
  DEFAULT_ROPE_THETA,
  type DecoderConfig,
  DecoderConfigError,
  type DecoderWeights,
  decoderPositions,
} from './decoder-config.ts';
import { buildDecoderOnnx } from './decoder-graph.ts';
import { initDecoderWeights } from './init-weights.ts';
import {
  type ModelChat,
  ModelDirError,
  TOOLGYM_MODEL_FORMAT,
  type ToolgymModelMeta,
} from './model-directory.ts';

/**
 * The size of ToolGym's built-in policy: small enough to train on a 2-core CPU with the TF.js learner
 * (~1M parameters). The trainer may pick a different training size (pass it as `config`);
 * everything here reads sizes from the config, nothing assumes these numbers.
 */
export const DEFAULT_DECODER_CONFIG: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
  dModel: 128,
  nLayers: 4,
  nHeads: 4,
  dFF: 512,
  // Byte-level tokens make prompts long: the compose environment's first prompt (task + tool list
  // rendered by the chat template) is ~1,200 tokens, so 1024 positions would not hold one episode.
  maxPositions: 2048,
  layerNormEps: 1e-5,
};

export interface WriteDecoderModelOptions {
  config: DecoderConfig;
  weights: DecoderWeights;
  policyVersion?: number;
  initSeed?: number;
  /** Added tokens after the byte tokenizer's own, e.g. an environment's tool names (see `byteTokenizerAddedTokens`). */
  extraTokens?: readonly string[];
  chat?: ModelChat;
}

/** Writes (or overwrites) a complete model directory; each file appears atomically. */
export async function writeDecoderModelDir(dir: string, options: WriteDecoderModelOptions): Promise<void> {
  const { config, weights } = options;
  const extraTokens = options.extraTokens ?? [];
  const tokenizerSize = BYTE_TOKENIZER_VOCAB_SIZE + extraTokens.length;
  if (config.vocabSize < tokenizerSize) {
    throw new DecoderConfigError(
      `vocabSize ${config.vocabSize} is below the tokenizer's ${tokenizerSize} tokens (${BYTE_TOKENIZER_VOCAB_SIZE} byte-tokenizer tokens + ${extraTokens.length} extra)`,
      `set vocabSize to at least ${tokenizerSize}`,
    );
  }
  const imEnd = byteTokenizerId('<|im_end|>');
  const endOfText = byteTokenizerId('<|endoftext|>');
  const meta: ToolgymModelMeta = {
    format: TOOLGYM_MODEL_FORMAT,
    policyVersion: options.policyVersion ?? 0,
    decoder: config,
    ...(options.initSeed !== undefined ? { initSeed: options.initSeed } : {}),
    ...(extraTokens.length > 0 ? { extraTokens: [...extraTokens] } : {}),
    ...(options.chat ? { toolCalls: options.chat.toolCalls } : {}),
  };
  const files: Array<[string, string | Uint8Array]> = [
    ['model.onnx', buildDecoderOnnx(config, weights)],
    [
      'config.json',
      json({
        architectures: ['ToolGymDecoder'],
        model_type: 'toolgym-decoder',
        vocab_size: config.vocabSize,
        hidden_size: config.dModel,
        num_hidden_layers: config.nLayers,
        num_attention_heads: config.nHeads,
        num_key_value_heads: config.nHeads,
        head_dim: config.dModel / config.nHeads,
        intermediate_size: config.dFF,
        max_position_embeddings: config.maxPositions,
        layer_norm_eps: config.layerNormEps,
        ...positionEncodingConfig(config),
        hidden_act: 'gelu_pytorch_tanh',
        tie_word_embeddings: false,
        bos_token_id: null,
        eos_token_id: imEnd,
        pad_token_id: endOfText,
        torch_dtype: 'float32',
      }),
    ],
    ['generation_config.json', json({ eos_token_id: [imEnd, endOfText], pad_token_id: endOfText })],
    ['tokenizer.json', json(byteTokenizerJson(extraTokens))],
    [
      'tokenizer_config.json',
      json(byteTokenizerConfig(config.maxPositions, extraTokens, options.chat?.template)),
    ],
    ['toolgym.json', json(meta)],
  ];
  try {
    await mkdir(dir, { recursive: true });
    for (const [name, content] of files) {
      const target = path.join(dir, name);
      const temp = `${target}.${process.pid}.tmp`;
      await writeFile(temp, content);
      await rename(temp, target);
    }
  } catch (error) {
    const { code, path: where } = error as NodeJS.ErrnoException;
    if (code === undefined) throw error;
    throw new ModelDirError(
      'unwritable_model_dir',
      where ?? path.resolve(dir),
      `cannot write the model directory (${code})`,
    );
  }
}

/** Creates ToolGym's default small model (seeded random init) in `dir`. No downloads. */
export async function createDefaultModel(
  dir: string,
  options: { seed?: number; config?: DecoderConfig } = {},
): Promise<{ dir: string; config: DecoderConfig }> {
  const config = options.config ?? DEFAULT_DECODER_CONFIG;
  const seed = options.seed ?? 0;
  await writeDecoderModelDir(dir, { config, weights: initDecoderWeights(config, { seed }), initSeed: seed });
  return { dir, config };
}

/** config.json keys for the position encoding: none for learned positions (as before RoPE existed). */
function positionEncodingConfig(config: DecoderConfig): Record<string, unknown> {
  if (decoderPositions(config) === 'learned') return {};
  return {
    position_embedding_type: 'rope',
    rope_theta: config.ropeTheta ?? DEFAULT_ROPE_THETA,
    rope_scaling: null,
    partial_rotary_factor: 1,
  };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

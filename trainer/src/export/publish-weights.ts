/**
 * Publishing the policy's weights to other inference engines, with the policy version:
 *
 *   <dir>/v<version>/
 *     hf/model.safetensors   Hugging Face GPT-2 names and layout, for vLLM / SGLang-style disk reloads
 *     hf/config.json         GPT2LMHeadModel config (tie_word_embeddings false)
 *     onnx/                  the onnx policy's model directory (agents' writeDecoderModelDir)
 *     toolgym-publish.json   { policyVersion, step, formats }
 *   <dir>/latest             the newest version number, replaced atomically after the rest is written
 *
 * Why GPT-2: ToolGym's decoder (agents/src/model/decoder-config.ts) is exactly GPT-2's block —
 * pre-norm LayerNorm, learned positions, tanh-GELU ("gelu_new"), weights stored [in, out] like
 * GPT-2's Conv1D — so only names change and q/k/v are concatenated into `c_attn`. The one
 * difference is the untied `lm_head`, which HF stores as an nn.Linear [vocab, d]: transposed here.
 * A decoder with RoPE positions is not GPT-2 (no wpe table, rotated q/k): the GPT-2 functions and the
 * `safetensors` format reject it with `UnsupportedExportError`; publish it with formats ['onnx'].
 * Name mapping (layer i):
 *   embed.tokens → transformer.wte.weight          embed.positions → transformer.wpe.weight
 *   layers.i.ln1.{weight,bias} → transformer.h.i.ln_1.{weight,bias}
 *   layers.i.attn.{q,k,v}.weight → transformer.h.i.attn.c_attn.weight  ([d, 3d], q|k|v column blocks)
 *   layers.i.attn.{q,k,v}.bias → transformer.h.i.attn.c_attn.bias      ([3d])
 *   layers.i.attn.o.{weight,bias} → transformer.h.i.attn.c_proj.{weight,bias}
 *   layers.i.ln2.{weight,bias} → transformer.h.i.ln_2.{weight,bias}
 *   layers.i.mlp.up.{weight,bias} → transformer.h.i.mlp.c_fc.{weight,bias}
 *   layers.i.mlp.down.{weight,bias} → transformer.h.i.mlp.c_proj.{weight,bias}
 *   final_norm.{weight,bias} → transformer.ln_f.{weight,bias}
 *   lm_head.weight ([d, vocab]) → lm_head.weight ([vocab, d])
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type DecoderConfig,
  type DecoderWeights,
  decoderPositions,
  type ModelChat,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { ToolGymError } from '@toolgym/protocol';
import { fsyncPath, writeFileAtomic } from '../checkpoint/atomic-file.ts';
import { type SafeTensor, writeSafetensors } from './safetensors.ts';

export type PublishFormat = 'safetensors' | 'onnx';

export interface PublishOptions {
  dir: string;
  decoder: DecoderConfig;
  weights: DecoderWeights;
  policyVersion: number;
  /** Learner step that produced the weights (metadata). */
  step?: number;
  /** Default both. */
  formats?: PublishFormat[];
  /** Tokens after the byte tokenizer's (a `template.toolTokens` run's tool names), for the ONNX directory's tokenizer. */
  extraTokens?: readonly string[];
  /** The chat layout the ONNX directory records (`modelChat` of the run's template). */
  chat?: ModelChat;
}

export interface Published {
  dir: string;
  policyVersion: number;
  formats: PublishFormat[];
}

/** A decoder the asked export format cannot represent (e.g. RoPE positions as HF GPT-2). */
export class UnsupportedExportError extends ToolGymError {
  constructor(message: string, hint: string) {
    super('unsupported-export', message, hint);
    this.name = 'UnsupportedExportError';
  }
}

/** Throws `UnsupportedExportError` unless the decoder is GPT-2 shaped (learned absolute positions). */
export function assertGpt2Exportable(decoder: DecoderConfig): void {
  if (decoderPositions(decoder) === 'rope')
    throw new UnsupportedExportError(
      "cannot export a decoder with RoPE positions (positions: 'rope') as Hugging Face GPT-2: GPT-2 has a learned position table (wpe) and no rotary q/k, so the exported model would compute different logits",
      "publish only the ONNX model directory (formats ['onnx'], `--format onnx`), or train with positions: 'learned'",
    );
}

/** ToolGym weights as Hugging Face GPT-2 tensors (see the mapping above). */
export function toHuggingFaceGpt2(
  decoder: DecoderConfig,
  weights: DecoderWeights,
): Record<string, SafeTensor> {
  assertGpt2Exportable(decoder);
  const d = decoder.dModel;
  const get = (name: string) => {
    const w = weights[name];
    if (!w) throw new Error(`weights lack ${name}`);
    return w;
  };
  const out: Record<string, SafeTensor> = {
    'transformer.wte.weight': { shape: [decoder.vocabSize, d], data: get('embed.tokens') },
    'transformer.wpe.weight': { shape: [decoder.maxPositions, d], data: get('embed.positions') },
    'transformer.ln_f.weight': { shape: [d], data: get('final_norm.weight') },
    'transformer.ln_f.bias': { shape: [d], data: get('final_norm.bias') },
    'lm_head.weight': {
      shape: [decoder.vocabSize, d],
      data: transpose(get('lm_head.weight'), d, decoder.vocabSize),
    },
  };
  for (let i = 0; i < decoder.nLayers; i++) {
    const p = `layers.${i}`;
    const h = `transformer.h.${i}`;
    const q = get(`${p}.attn.q.weight`);
    const k = get(`${p}.attn.k.weight`);
    const v = get(`${p}.attn.v.weight`);
    const cAttn = new Float32Array(d * 3 * d);
    for (let row = 0; row < d; row++) {
      cAttn.set(q.subarray(row * d, row * d + d), row * 3 * d);
      cAttn.set(k.subarray(row * d, row * d + d), row * 3 * d + d);
      cAttn.set(v.subarray(row * d, row * d + d), row * 3 * d + 2 * d);
    }
    const cAttnBias = new Float32Array(3 * d);
    cAttnBias.set(get(`${p}.attn.q.bias`), 0);
    cAttnBias.set(get(`${p}.attn.k.bias`), d);
    cAttnBias.set(get(`${p}.attn.v.bias`), 2 * d);
    Object.assign(out, {
      [`${h}.ln_1.weight`]: { shape: [d], data: get(`${p}.ln1.weight`) },
      [`${h}.ln_1.bias`]: { shape: [d], data: get(`${p}.ln1.bias`) },
      [`${h}.attn.c_attn.weight`]: { shape: [d, 3 * d], data: cAttn },
      [`${h}.attn.c_attn.bias`]: { shape: [3 * d], data: cAttnBias },
      [`${h}.attn.c_proj.weight`]: { shape: [d, d], data: get(`${p}.attn.o.weight`) },
      [`${h}.attn.c_proj.bias`]: { shape: [d], data: get(`${p}.attn.o.bias`) },
      [`${h}.ln_2.weight`]: { shape: [d], data: get(`${p}.ln2.weight`) },
      [`${h}.ln_2.bias`]: { shape: [d], data: get(`${p}.ln2.bias`) },
      [`${h}.mlp.c_fc.weight`]: { shape: [d, decoder.dFF], data: get(`${p}.mlp.up.weight`) },
      [`${h}.mlp.c_fc.bias`]: { shape: [decoder.dFF], data: get(`${p}.mlp.up.bias`) },
      [`${h}.mlp.c_proj.weight`]: { shape: [decoder.dFF, d], data: get(`${p}.mlp.down.weight`) },
      [`${h}.mlp.c_proj.bias`]: { shape: [d], data: get(`${p}.mlp.down.bias`) },
    });
  }
  return out;
}

/** The inverse of `toHuggingFaceGpt2` (reads a published safetensors file back into ToolGym names). */
export function fromHuggingFaceGpt2(
  decoder: DecoderConfig,
  tensors: Record<string, SafeTensor>,
): DecoderWeights {
  assertGpt2Exportable(decoder);
  const d = decoder.dModel;
  const get = (name: string) => {
    const t = tensors[name];
    if (!t) throw new Error(`safetensors lack ${name}`);
    return t.data;
  };
  const out: DecoderWeights = {
    'embed.tokens': get('transformer.wte.weight'),
    'embed.positions': get('transformer.wpe.weight'),
    'final_norm.weight': get('transformer.ln_f.weight'),
    'final_norm.bias': get('transformer.ln_f.bias'),
    'lm_head.weight': transpose(get('lm_head.weight'), decoder.vocabSize, d),
  };
  for (let i = 0; i < decoder.nLayers; i++) {
    const p = `layers.${i}`;
    const h = `transformer.h.${i}`;
    const cAttn = get(`${h}.attn.c_attn.weight`);
    const cAttnBias = get(`${h}.attn.c_attn.bias`);
    ['q', 'k', 'v'].forEach((name, part) => {
      const w = new Float32Array(d * d);
      for (let row = 0; row < d; row++)
        w.set(cAttn.subarray(row * 3 * d + part * d, row * 3 * d + part * d + d), row * d);
      out[`${p}.attn.${name}.weight`] = w;
      out[`${p}.attn.${name}.bias`] = cAttnBias.slice(part * d, part * d + d);
    });
    Object.assign(out, {
      [`${p}.ln1.weight`]: get(`${h}.ln_1.weight`),
      [`${p}.ln1.bias`]: get(`${h}.ln_1.bias`),
      [`${p}.attn.o.weight`]: get(`${h}.attn.c_proj.weight`),
      [`${p}.attn.o.bias`]: get(`${h}.attn.c_proj.bias`),
      [`${p}.ln2.weight`]: get(`${h}.ln_2.weight`),
      [`${p}.ln2.bias`]: get(`${h}.ln_2.bias`),
      [`${p}.mlp.up.weight`]: get(`${h}.mlp.c_fc.weight`),
      [`${p}.mlp.up.bias`]: get(`${h}.mlp.c_fc.bias`),
      [`${p}.mlp.down.weight`]: get(`${h}.mlp.c_proj.weight`),
      [`${p}.mlp.down.bias`]: get(`${h}.mlp.c_proj.bias`),
    });
  }
  return out;
}

/** The Hugging Face config.json of the GPT-2 export. */
export function huggingFaceGpt2Config(decoder: DecoderConfig): Record<string, unknown> {
  assertGpt2Exportable(decoder);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: decoder.vocabSize,
    n_embd: decoder.dModel,
    n_layer: decoder.nLayers,
    n_head: decoder.nHeads,
    n_inner: decoder.dFF,
    n_positions: decoder.maxPositions,
    n_ctx: decoder.maxPositions,
    layer_norm_epsilon: decoder.layerNormEps,
    activation_function: 'gelu_new',
    tie_word_embeddings: false,
    torch_dtype: 'float32',
  };
}

/** Writes `<dir>/v<version>/` in the asked formats, then points `<dir>/latest` at it. */
export async function publishWeights(options: PublishOptions): Promise<Published> {
  const formats = options.formats ?? ['safetensors', 'onnx'];
  const { decoder, weights, policyVersion } = options;
  if (formats.includes('safetensors')) assertGpt2Exportable(decoder); // before anything is written
  await mkdir(options.dir, { recursive: true });
  const final = path.join(options.dir, `v${policyVersion}`);
  const temp = path.join(options.dir, `.v${policyVersion}.tmp-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  const metadata = {
    format: 'pt',
    policy_version: String(policyVersion),
    ...(options.step !== undefined ? { step: String(options.step) } : {}),
  };
  if (formats.includes('safetensors')) {
    await mkdir(path.join(temp, 'hf'));
    await writeSafetensors(
      path.join(temp, 'hf', 'model.safetensors'),
      toHuggingFaceGpt2(decoder, weights),
      metadata,
    );
    await writeFileAtomic(
      path.join(temp, 'hf', 'config.json'),
      `${JSON.stringify(huggingFaceGpt2Config(decoder), null, 2)}\n`,
    );
  }
  if (formats.includes('onnx'))
    await writeDecoderModelDir(path.join(temp, 'onnx'), {
      config: decoder,
      weights,
      policyVersion,
      extraTokens: options.extraTokens ?? [],
      ...(options.chat ? { chat: options.chat } : {}),
    });
  await writeFile(
    path.join(temp, 'toolgym-publish.json'),
    `${JSON.stringify({ policyVersion, step: options.step ?? null, formats }, null, 2)}\n`,
  );
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  await fsyncPath(options.dir);
  await writeFileAtomic(path.join(options.dir, 'latest'), `${policyVersion}\n`);
  return { dir: final, policyVersion, formats };
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

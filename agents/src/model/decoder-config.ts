/**
 * ToolGym's small decoder: a GPT-style pre-norm transformer shared by the ONNX graph builder
 * (decoder-graph.ts, for inference) and the TensorFlow.js learner (training, trainer/). Both
 * implement exactly this maths so that logprobs agree to 1e-4:
 *
 *   positions 'learned' (default, GPT-2):  h0 = embed.tokens[ids] + embed.positions[pos]
 *   positions 'rope' (RoFormer, Su et al. 2021; the GPT-NeoX / Llama "rotate_half" layout):
 *                                          h0 = embed.tokens[ids]     (no embed.positions weight)
 *   per layer i:
 *     a = LayerNorm(h; ln1)                      LayerNorm eps = layerNormEps, over the last axis
 *     q,k,v = a @ W{q,k,v} + b{q,k,v}            split into nHeads heads of headDim = dModel / nHeads
 *     rope only: q, k = rotate(q, pos), rotate(k, pos)   per head, before the scores (the KV cache
 *                                                         holds rotated keys)
 *     att = softmax(q k^T / sqrt(headDim) + causalMask) v    masked scores = -1e9 before softmax
 *     h = h + (concat heads) @ Wo + bo
 *     m = LayerNorm(h; ln2)
 *     h = h + GELU_tanh(m @ Wup + bup) @ Wdown + bdown
 *   logits = LayerNorm(h; final_norm) @ lm_head        (no bias, not tied)
 *
 * GELU_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * RoPE, for one head's vector x of headDim = 2·half values at position pos:
 *   invFreq[j] = ropeTheta^(-2j / headDim), angle[j] = pos · invFreq[j]   (j < half)
 *   rotate(x) = concat(x[:half] cos(angle) - x[half:] sin(angle), x[half:] cos(angle) + x[:half] sin(angle))
 * pos is the token's position id: 0..T-1 in the learner; real tokens counted, padding excluded, in the
 * onnx policy (padding is masked out, so its position does not matter).
 * Every matrix is stored [in, out] row-major (y = x @ W), as Float32Array.
 */
import { ToolGymError } from '@toolgym/protocol';

export interface DecoderConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Width of the MLP's hidden layer. */
  dFF: number;
  /** Longest sequence the model takes (rows of the learned position table, or of the RoPE tables). */
  maxPositions: number;
  layerNormEps: number;
  /** How positions enter the model: a learned table added to h0 (absent = 'learned') or rotary q/k. */
  positions?: PositionKind;
  /** RoPE base θ (absent = 10000, the RoFormer / Llama-2 value); unused with learned positions. */
  ropeTheta?: number;
}

/** Learned absolute position embeddings (GPT-2) or rotary position embeddings (RoPE). */
export type PositionKind = 'learned' | 'rope';

/** RoPE base used when `ropeTheta` is absent. */
export const DEFAULT_ROPE_THETA = 10000;

/** A decoder config the decoder cannot be built from: a configuration error naming the field. */
export class DecoderConfigError extends ToolGymError {
  constructor(message: string, hint: string) {
    super('invalid_decoder_config', `decoder config: ${message}`, hint);
  }
}

/**
 * The config's position kind, after checking the config is one the decoder can build: nHeads divides
 * dModel, and with RoPE the head width is even and θ is positive. Throws a DecoderConfigError naming the field.
 */
export function decoderPositions(c: DecoderConfig): PositionKind {
  const kind = c.positions ?? 'learned';
  if (kind !== 'learned' && kind !== 'rope')
    throw new DecoderConfigError(
      `positions must be 'learned' or 'rope', got ${JSON.stringify(kind)}`,
      "set positions to 'learned' or 'rope'",
    );
  if (!Number.isInteger(c.nHeads) || c.nHeads <= 0 || c.dModel % c.nHeads !== 0)
    throw new DecoderConfigError(
      `dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`,
      'pick nHeads that divides dModel (each head gets dModel / nHeads values)',
    );
  if (kind === 'rope') {
    const headDim = c.dModel / c.nHeads;
    if (headDim % 2 !== 0)
      throw new DecoderConfigError(
        `RoPE rotates pairs of values, so the head width dModel / nHeads must be even; got ${c.dModel} / ${c.nHeads} = ${headDim}`,
        "pick dModel and nHeads with an even quotient, or positions: 'learned'",
      );
    const theta = c.ropeTheta ?? DEFAULT_ROPE_THETA;
    if (!(Number.isFinite(theta) && theta > 0))
      throw new DecoderConfigError(
        `ropeTheta must be a positive number, got ${JSON.stringify(theta)}`,
        `leave ropeTheta out for ${DEFAULT_ROPE_THETA}`,
      );
  }
  return kind;
}

/**
 * RoPE tables for positions 0..length-1: cos and sin of pos · invFreq[j], each [length, half] row-major
 * with half = headDim / 2, computed in float64 (callers store them as float32).
 */
export function ropeTables(
  c: DecoderConfig,
  length: number,
): { half: number; cos: Float64Array; sin: Float64Array } {
  if (decoderPositions(c) !== 'rope')
    throw new Error("ropeTables: the decoder config does not use positions 'rope'");
  const headDim = c.dModel / c.nHeads;
  const half = headDim / 2;
  const theta = c.ropeTheta ?? DEFAULT_ROPE_THETA;
  const cos = new Float64Array(length * half);
  const sin = new Float64Array(length * half);
  for (let pos = 0; pos < length; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * theta ** ((-2 * j) / headDim);
      cos[pos * half + j] = Math.cos(angle);
      sin[pos * half + j] = Math.sin(angle);
    }
  }
  return { half, cos, sin };
}

/** Weight names and shapes for a config; the one definition both sides use. */
export function decoderWeightShapes(c: DecoderConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = { 'embed.tokens': [c.vocabSize, c.dModel] };
  if (decoderPositions(c) === 'learned') shapes['embed.positions'] = [c.maxPositions, c.dModel];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}`;
    Object.assign(shapes, {
      [`${p}.ln1.weight`]: [c.dModel],
      [`${p}.ln1.bias`]: [c.dModel],
      [`${p}.attn.q.weight`]: [c.dModel, c.dModel],
      [`${p}.attn.q.bias`]: [c.dModel],
      [`${p}.attn.k.weight`]: [c.dModel, c.dModel],
      [`${p}.attn.k.bias`]: [c.dModel],
      [`${p}.attn.v.weight`]: [c.dModel, c.dModel],
      [`${p}.attn.v.bias`]: [c.dModel],
      [`${p}.attn.o.weight`]: [c.dModel, c.dModel],
      [`${p}.attn.o.bias`]: [c.dModel],
      [`${p}.ln2.weight`]: [c.dModel],
      [`${p}.ln2.bias`]: [c.dModel],
      [`${p}.mlp.up.weight`]: [c.dModel, c.dFF],
      [`${p}.mlp.up.bias`]: [c.dFF],
      [`${p}.mlp.down.weight`]: [c.dFF, c.dModel],
      [`${p}.mlp.down.bias`]: [c.dModel],
    });
  }
  shapes['final_norm.weight'] = [c.dModel];
  shapes['final_norm.bias'] = [c.dModel];
  shapes['lm_head.weight'] = [c.dModel, c.vocabSize];
  return shapes;
}

/** A full set of weights by name (see `decoderWeightShapes`). */
export type DecoderWeights = Record<string, Float32Array>;

/**
 * ToolGym's small decoder in TensorFlow.js — exactly the maths of agents' decoder-config.ts (the
 * contract the ONNX builder implements too), so the learner's logprobs equal the onnx policy's.
 * Embeddings are a Gather whose gradient is a ScatterNd (the wasm backend has no gradient for Gather).
 * Sequences are right-padded: with a causal mask, padding after the last real token never
 * influences a real position, so no key mask is needed.
 * With RoPE positions, q and k [B, H, T, headDim] are rotated with cos/sin constants (agents'
 * `ropeTables`, broadcast over batch and heads), one kernel each way on wasm (`rope-kernel.ts`).
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  type DecoderConfig,
  type DecoderWeights,
  decoderPositions,
  ropeTables,
} from '@toolgym/agents/decoder-config';
import { causalSoftmax } from './causal-softmax-kernel.ts';
import { gatherRows } from './gather-rows-kernel.ts';
import { gelu } from './gelu-kernel.ts';
import { layerNorm } from './layer-norm-kernel.ts';
import { rope } from './rope-kernel.ts';
import { type ProductMode, simdBatchMatMul } from './simd-batch-matmul.ts';

/** x with its last two axes swapped. */
function swapLast(x: tf.Tensor): tf.Tensor {
  const axes = x.shape.map((_, i) => i);
  axes.splice(-2, 2, x.rank - 1, x.rank - 2);
  return tf.transpose(x, axes);
}

/**
 * a @ b, for 2-D operands on tfjs' own matMul (XNNPACK on wasm) and for batched ones ([B, H, T, ·],
 * attention) on the SIMD kernel when the backend is wasm (its own batched path is a scalar loop).
 */
function product<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  return a.rank > 2 && tf.getBackend() === 'wasm' ? simdBatchMatMul(a, b) : (tf.matMul(a, b) as T);
}

/**
 * a @ b (batched over leading axes) whose gradient multiplies explicitly transposed operands:
 * dA = dY @ Bᵀ, dB = Aᵀ @ dY. tfjs's own MatMul gradient passes transpose flags instead, and the
 * wasm backend's BatchMatMul runs ~8× slower with a flag than on a transposed copy (measured on a
 * [1504, 64] × [64, 256] layer: 60 ms vs 7 ms), which made the backward pass most of a step.
 * For attention's causal T×T matrices each of the three products names the terms it may skip
 * (`PRODUCT_MODES`); on backends without the SIMD kernel the products are whole, and the terms a
 * mode skips are zeros or never read.
 */
function productWithGradients(forward: ProductMode, dA: ProductMode, dB: ProductMode) {
  const batched = <T extends tf.Tensor>(a: T, b: tf.Tensor, mode: ProductMode): T =>
    mode === 'full'
      ? product(a, b)
      : tf.getBackend() === 'wasm'
        ? simdBatchMatMul(a, b, mode)
        : (tf.matMul(a, b) as T);
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: batched(a, b, forward),
      gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
        batched(dy, swapLast(sb!), dA),
        batched(swapLast(sa!), dy, dB),
      ],
    };
  }) as unknown as <T extends tf.Tensor>(a: T, b: tf.Tensor) => T;
}

export const matMul = productWithGradients('full', 'full', 'full');

/**
 * Attention scores q · kᵀ [..., T, T] for query i over keys 0..i only (the rest is left 0, for the
 * causal softmax to ignore). Their gradient ds is 0 after each query's keys, so dq = ds · k reads
 * ds's lower triangle and d(kᵀ) = qᵀ · ds each of ds's rows up to its diagonal.
 */
const causalScores = productWithGradients('outLower', 'aLower', 'bLower');

/**
 * The causal softmax's probabilities p [..., T, T] (0 after each query's keys) times v: row i of p
 * reads v's rows 0..i. Backward, dp is needed on p's lower triangle only, and dv = pᵀ · dy reads
 * pᵀ's upper triangle.
 */
const causalMix = productWithGradients('aLower', 'outLower', 'aUpper');

/**
 * x @ w + b for 2-D x, with `matMul`'s gradients for x and w, and the bias gradient as a product
 * with a row of ones: tfjs' Add gradient sums dy over its rows with the wasm Sum kernel, which
 * transposes first (7.6 ms of CPU on a [6144, 256] gradient against 0.4 ms for the product).
 */
const affine = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(product(x, w), b),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      product(dy, swapLast(sw!)),
      product(swapLast(sx!), dy),
      tf.reshape(tf.matMul(tf.ones([1, dy.shape[0]!]), dy as tf.Tensor2D), [dy.shape[1]!]),
    ],
  };
}) as unknown as (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/**
 * Rows `ids` of an embedding table. The gradient adds each position's dy into its token's row
 * (ScatterNd sums repeated indices): O(tokens · d) where the one-hot product it replaces was
 * O(tokens · vocab · d) forward and again backward, plus a gradient for the one-hot side that
 * nothing used (a custom gradient computes every input's). tfjs's own Gather gradient needs
 * UnsortedSegmentSum, which the wasm backend lacks.
 */
function embed(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  // Tensors the gradient reads go through `save`: the forward pass's own are disposed before it runs.
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    save([ids]);
    return {
      value: gatherRows(t, ids),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.scatterND(tf.expandDims(saved!, 1), dy, table.shape),
    };
  })(table) as tf.Tensor2D;
}

/** One-hot rows as float32. Built as int32 then cast: the wasm OneHot kernel ignores a float32 dtype. */
function oneHotFloat(indices: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(indices, depth), 'float32') as tf.Tensor2D;
}

/**
 * A RoPE table [positions · half] for positions 0..seq-1 as [seq, 2·half], each row twice over
 * (cos for both halves of a head).
 */
function ropeTable(table: Float32Array, seq: number, half: number): tf.Tensor2D {
  const headDim = 2 * half;
  const out = new Float32Array(seq * headDim);
  for (let t = 0; t < seq; t++)
    for (let j = 0; j < half; j++) out[t * headDim + j] = out[t * headDim + half + j] = table[t * half + j]!;
  return tf.tensor2d(out, [seq, headDim]);
}

export class TfDecoder {
  readonly variables: Map<string, tf.Variable>;
  /**
   * RoPE tables [maxPositions, headDim] (each position's row twice over), when the config uses RoPE:
   * made once, where a forward pass made its own every step.
   */
  private readonly rope?: { cos: tf.Tensor2D; sin: tf.Tensor2D };

  constructor(
    readonly config: DecoderConfig,
    weights: DecoderWeights,
    shapes: Record<string, number[]>,
  ) {
    if (decoderPositions(config) === 'rope') {
      const { half, cos, sin } = ropeTables(config, config.maxPositions);
      this.rope = {
        cos: ropeTable(Float32Array.from(cos), config.maxPositions, half),
        sin: ropeTable(Float32Array.from(sin), config.maxPositions, half),
      };
    }
    this.variables = new Map();
    for (const [name, shape] of Object.entries(shapes)) {
      const values = weights[name];
      if (!values) throw new Error(`TfDecoder: missing weight '${name}'`);
      const size = shape.reduce((a, b) => a * b, 1);
      if (values.length !== size)
        throw new Error(
          `TfDecoder: weight '${name}' has ${values.length} values, expected ${size} for shape [${shape}]`,
        );
      this.variables.set(name, tf.variable(tf.tensor(values, shape, 'float32'), true));
    }
  }

  private v(name: string): tf.Variable {
    const found = this.variables.get(name);
    if (!found) throw new Error(`TfDecoder: no variable '${name}'`);
    return found;
  }

  /** Replaces every weight in place (shapes must match). */
  assign(weights: DecoderWeights): void {
    for (const [name, variable] of this.variables) {
      const values = weights[name];
      if (!values) throw new Error(`loadWeights: missing weight '${name}'`);
      if (values.length !== variable.size)
        throw new Error(
          `loadWeights: weight '${name}' has ${values.length} values, expected ${variable.size}`,
        );
      variable.assign(tf.tensor(values, variable.shape, 'float32'));
    }
  }

  /** The current weights, copied out. */
  read(): DecoderWeights {
    const out: DecoderWeights = {};
    for (const [name, variable] of this.variables) out[name] = new Float32Array(variable.dataSync());
    return out;
  }

  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return layerNorm(x, this.v(`${prefix}.weight`), this.v(`${prefix}.bias`), this.config.layerNormEps);
  }

  private linear(x: tf.Tensor2D, prefix: string, bias = true): tf.Tensor2D {
    const w = this.v(`${prefix}.weight`);
    return bias ? affine(x, w, this.v(`${prefix}.bias`)) : matMul(x, w);
  }

  /** RoPE's rotation of q or k [B, H, T, headDim] for positions 0..T-1 (`rope`), or undefined without RoPE. */
  private ropeRotation(): ((x: tf.Tensor4D) => tf.Tensor4D) | undefined {
    const tables = this.rope;
    return tables && ((x) => rope(x, tables.cos, tables.sin));
  }

  /** Logits [B·T, vocab] for token ids [B][T] (all rows the same length T). */
  logits(ids: tf.Tensor2D): tf.Tensor2D {
    const [batch, seq] = ids.shape;
    const { dModel: d, nHeads } = this.config;
    if (seq > this.config.maxPositions)
      throw new RangeError(`sequence of ${seq} tokens exceeds maxPositions ${this.config.maxPositions}`);
    const headDim = d / nHeads;
    const flatIds = tf.reshape(ids, [batch * seq]) as tf.Tensor1D;
    const tokens = embed(this.v('embed.tokens'), flatIds);
    const rotate = this.ropeRotation();
    let h = rotate
      ? tokens
      : (tf.reshape(
          tf.add(tf.reshape(tokens, [batch, seq, d]), tf.slice(this.v('embed.positions'), [0, 0], [seq, d])),
          [batch * seq, d],
        ) as tf.Tensor2D);
    const toHeads = (x: tf.Tensor2D) =>
      tf.transpose(tf.reshape(x, [batch, seq, nHeads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
    for (let i = 0; i < this.config.nLayers; i++) {
      const p = `layers.${i}`;
      const a = this.layerNorm(h, `${p}.ln1`);
      let q = toHeads(this.linear(a, `${p}.attn.q`));
      let k = toHeads(this.linear(a, `${p}.attn.k`));
      if (rotate) [q, k] = [rotate(q), rotate(k)];
      const v = toHeads(this.linear(a, `${p}.attn.v`));
      // q / sqrt(headDim) before the product: [B, H, T, hd] values scaled instead of [B, H, T, T] scores.
      const scores = causalScores(tf.mul(q, 1 / Math.sqrt(headDim)), swapLast(k) as tf.Tensor4D);
      const context = causalMix(causalSoftmax(scores), v); // [B, H, T, hd]
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * seq, d]) as tf.Tensor2D;
      h = tf.add(h, this.linear(merged, `${p}.attn.o`)) as tf.Tensor2D;
      const m = this.layerNorm(h, `${p}.ln2`);
      h = tf.add(h, this.linear(gelu(this.linear(m, `${p}.mlp.up`)), `${p}.mlp.down`)) as tf.Tensor2D;
    }
    return this.linear(this.layerNorm(h, 'final_norm'), 'lm_head', false);
  }

  /**
   * Log-probabilities of `targets` [B][T] and per-position entropy, both [B, T], under
   * softmax(logits / temperature) — the sampling distribution when the policy samples at that temperature.
   */
  targetLogprobs(
    ids: tf.Tensor2D,
    targets: tf.Tensor2D,
    temperature = 1,
  ): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D } {
    const [batch, seq] = ids.shape;
    let logits = this.logits(ids);
    if (temperature !== 1) logits = tf.div(logits, temperature);
    const logSoftmax = tf.logSoftmax(logits);
    const targetOneHot = oneHotFloat(
      tf.reshape(targets, [batch * seq]) as tf.Tensor1D,
      this.config.vocabSize,
    );
    const logprobs = tf.reshape(tf.sum(tf.mul(logSoftmax, targetOneHot), -1), [batch, seq]) as tf.Tensor2D;
    const entropy = tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(logSoftmax), logSoftmax), -1)), [
      batch,
      seq,
    ]) as tf.Tensor2D;
    return { logprobs, entropy };
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    if (this.rope) tf.dispose([this.rope.cos, this.rope.sin]);
  }
}

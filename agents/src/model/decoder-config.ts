/**
 * ToolGym's small decoder: a GPT-style pre-norm transformer shared by the ONNX builder (inference,
 * agents/src/onnx) and the TensorFlow.js learner (training, trainer/). Both implement exactly this
 * maths so that logprobs agree to 1e-4:
 *
 *   h0 = embed.tokens[ids] + embed.positions[pos]
 *   per layer i:
 *     a = LayerNorm(h; ln1)                      LayerNorm eps = layerNormEps, over the last axis
 *     q,k,v = a @ W{q,k,v} + b{q,k,v}            split into nHeads heads of dModel / nHeads
 *     att = softmax(q k^T / sqrt(headDim) + causalMask) v    masked scores = -1e9 before softmax
 *     h = h + (concat heads) @ Wo + bo
 *     m = LayerNorm(h; ln2)
 *     h = h + GELU_tanh(m @ Wup + bup) @ Wdown + bdown
 *   logits = LayerNorm(h; final_norm) @ lm_head        (no bias, not tied)
 *
 * GELU_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * Every matrix is stored [in, out] row-major (y = x @ W), as Float32Array.
 */
export interface DecoderConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Width of the MLP's hidden layer. */
  dFF: number;
  /** Longest sequence the position table covers. */
  maxPositions: number;
  layerNormEps: number;
}

/** Weight names and shapes for a config; the one definition both sides use. */
export function decoderWeightShapes(c: DecoderConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = {
    'embed.tokens': [c.vocabSize, c.dModel],
    'embed.positions': [c.maxPositions, c.dModel],
  };
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

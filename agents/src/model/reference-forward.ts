/**
 * The decoder's maths (decoder-config.ts) in plain TypeScript, without a KV cache: the test oracle the
 * ONNX graph is checked against. Slow on purpose-free code paths: clarity over speed.
 */
import {
  DEFAULT_ROPE_THETA,
  type DecoderConfig,
  type DecoderWeights,
  decoderPositions,
} from './decoder-config.ts';

const MASKED_SCORE = -1e9;

export interface ReferenceForwardInput {
  /** [batch][seq] token ids. */
  inputIds: number[][];
  /** [batch][seq] 1 = real token, 0 = padding (keys only). Defaults to all ones. */
  attentionMask?: number[][];
  /** [batch][seq]. Defaults to 0..seq-1. */
  positionIds?: number[][];
}

/** Logits [batch][seq][vocab] for the full sequences. */
export function referenceForward(
  config: DecoderConfig,
  weights: DecoderWeights,
  input: ReferenceForwardInput,
): Float32Array[][] {
  const { dModel: d, nHeads, dFF, vocabSize, layerNormEps } = config;
  const headDim = d / nHeads;
  const rope = decoderPositions(config) === 'rope';
  const w = (name: string) => {
    const t = weights[name];
    if (!t) throw new Error(`reference forward: missing weight '${name}'`);
    return t;
  };
  const layerNorm = (x: Float64Array, prefix: string) => {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let variance = 0;
    for (const v of x) variance += (v - mean) ** 2;
    variance /= x.length;
    const inv = 1 / Math.sqrt(variance + layerNormEps);
    const gamma = w(`${prefix}.weight`);
    const beta = w(`${prefix}.bias`);
    return x.map((v, i) => (v - mean) * inv * gamma[i]! + beta[i]!);
  };
  const matmul = (x: Float64Array, name: string, outDim: number, biasName?: string) => {
    const m = w(name);
    const out = new Float64Array(outDim);
    if (biasName) out.set(w(biasName));
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const row = i * outDim;
      for (let j = 0; j < outDim; j++) out[j]! += xi * m[row + j]!;
    }
    return out;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  // RoPE, computed here from the formula (not from the shared tables) so the oracle stays independent.
  const theta = config.ropeTheta ?? DEFAULT_ROPE_THETA;
  const half = headDim / 2;
  const rotate = (x: Float64Array, pos: number) => {
    const out = new Float64Array(d);
    for (let o = 0; o < d; o += headDim) {
      for (let j = 0; j < half; j++) {
        const angle = pos * theta ** ((-2 * j) / headDim);
        const [c, s] = [Math.cos(angle), Math.sin(angle)];
        const [x1, x2] = [x[o + j]!, x[o + half + j]!];
        out[o + j] = x1 * c - x2 * s;
        out[o + half + j] = x2 * c + x1 * s;
      }
    }
    return out;
  };

  return input.inputIds.map((ids, b) => {
    const seq = ids.length;
    const mask = input.attentionMask?.[b] ?? ids.map(() => 1);
    const positions = input.positionIds?.[b] ?? ids.map((_, i) => i);
    const tokens = w('embed.tokens');
    const table = rope ? undefined : w('embed.positions');
    let h = ids.map((id, t) => {
      const row = new Float64Array(d);
      for (let j = 0; j < d; j++) row[j] = tokens[id * d + j]! + (table ? table[positions[t]! * d + j]! : 0);
      return row;
    });
    for (let layer = 0; layer < config.nLayers; layer++) {
      const p = `layers.${layer}`;
      const a = h.map((x) => layerNorm(x, `${p}.ln1`));
      let q = a.map((x) => matmul(x, `${p}.attn.q.weight`, d, `${p}.attn.q.bias`));
      let k = a.map((x) => matmul(x, `${p}.attn.k.weight`, d, `${p}.attn.k.bias`));
      if (rope) {
        q = q.map((x, t) => rotate(x, positions[t]!));
        k = k.map((x, t) => rotate(x, positions[t]!));
      }
      const v = a.map((x) => matmul(x, `${p}.attn.v.weight`, d, `${p}.attn.v.bias`));
      const context = ids.map(() => new Float64Array(d));
      for (let head = 0; head < nHeads; head++) {
        const o = head * headDim;
        for (let i = 0; i < seq; i++) {
          const scores = new Float64Array(seq);
          for (let j = 0; j < seq; j++) {
            let s = 0;
            for (let c = 0; c < headDim; c++) s += q[i]![o + c]! * k[j]![o + c]!;
            scores[j] = j <= i && mask[j] === 1 ? s / Math.sqrt(headDim) : MASKED_SCORE;
          }
          const max = Math.max(...scores);
          const exp = scores.map((s) => Math.exp(s - max));
          const sum = exp.reduce((x, y) => x + y, 0);
          for (let j = 0; j < seq; j++) {
            const pj = exp[j]! / sum;
            for (let c = 0; c < headDim; c++) context[i]![o + c]! += pj * v[j]![o + c]!;
          }
        }
      }
      h = h.map((x, t) => {
        const attn = matmul(context[t]!, `${p}.attn.o.weight`, d, `${p}.attn.o.bias`);
        const h1 = x.map((xv, j) => xv + attn[j]!);
        const up = matmul(layerNorm(h1, `${p}.ln2`), `${p}.mlp.up.weight`, dFF, `${p}.mlp.up.bias`).map(gelu);
        const down = matmul(up, `${p}.mlp.down.weight`, d, `${p}.mlp.down.bias`);
        return h1.map((hv, j) => hv + down[j]!);
      });
    }
    return h.map((x) => Float32Array.from(matmul(layerNorm(x, 'final_norm'), 'lm_head.weight', vocabSize)));
  });
}

import { Rng } from '@toolgym/protocol';
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from './decoder-config.ts';

/**
 * Seeded random initialisation in the GPT-2 style: matrices and embeddings ~ N(0, std²), LayerNorm
 * weights 1, every bias 0. The same seed gives the same weights on every machine (the generator is
 * env-kit's `Rng`, normals by Box–Muller).
 */
export function initDecoderWeights(
  config: DecoderConfig,
  options: { seed: number; std?: number },
): DecoderWeights {
  const rng = new Rng(options.seed);
  const std = options.std ?? 0.02;
  const normal = () => {
    const u = 1 - rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const weights: DecoderWeights = {};
  for (const [name, shape] of Object.entries(decoderWeightShapes(config))) {
    const w = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/(ln1|ln2|final_norm)\.weight$/.test(name)) w.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < w.length; i++) w[i] = normal() * std;
    weights[name] = w;
  }
  return weights;
}

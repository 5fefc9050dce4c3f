import type { DecoderConfig } from '@toolgym/agents';

/** The learner tests' decoder: byte vocabulary plus a few special tokens, small enough for milliseconds per step. */
export const TEST_DECODER: DecoderConfig = {
  vocabSize: 263,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  dFF: 64,
  maxPositions: 64,
  layerNormEps: 1e-5,
};

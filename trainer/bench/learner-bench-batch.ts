/**
 * The model and batch the learner benches train on (`pnpm bench learner`, `pnpm bench
 * optimizer-step`): the main job's decoder (configs/compose-main.yaml: byte vocabulary + 17 tool
 * tokens, RoPE) and a fixed batch of fully trained sequences.
 */
import type { DecoderConfig } from '@toolgym/agents';
import { type Datum, datumFromSequence } from '../src/learner/learner.ts';

/** The main job's decoder; its feed-forward width follows `dModel` (4×) unless given. */
export function mainJobDecoder(overrides: Partial<DecoderConfig> = {}): DecoderConfig {
  const dModel = overrides.dModel ?? 64;
  return {
    vocabSize: 280,
    nLayers: 2,
    nHeads: 4,
    dFF: 4 * dModel,
    maxPositions: 256,
    layerNormEps: 1e-5,
    positions: 'rope',
    ...overrides,
    dModel,
  };
}

/** `batch` sequences of `seq` trained tokens each (`seq` + 1 ids), the same on every run. */
export function benchBatch(batch: number, seq: number): Datum[] {
  return Array.from({ length: batch }, (_, b) => {
    const tokens = Array.from({ length: seq + 1 }, (_, i) => (b * 31 + i * 7) % 256);
    return datumFromSequence(
      tokens,
      tokens.map(() => 1),
      { advantages: tokens.map(() => 1), logprobs: tokens.map(() => -5) },
    );
  });
}

/**
 * A learner's state as one flat tensor map for a safetensors checkpoint: `weights.<name>`,
 * `adam_m.<name>`, `adam_v.<name>` (ToolGym weight names, see agents/src/model/decoder-config.ts);
 * and `sampling.<name>`, the weights a batch in flight is played with (`rl.asyncLevel`).
 */
import type { DecoderWeights } from '@toolgym/agents';
import type { SafeTensor } from '../export/safetensors.ts';
import type { LearnerState } from '../learner/learner.ts';

const GROUPS = [
  ['weights', 'weights'],
  ['adam_m', 'adamM'],
  ['adam_v', 'adamV'],
] as const;

export function learnerStateToTensors(
  state: LearnerState,
  shapes: Record<string, number[]>,
): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  for (const [prefix, key] of GROUPS) {
    for (const [name, data] of Object.entries(state[key]))
      out[`${prefix}.${name}`] = { shape: shapes[name] ?? [data.length], data };
  }
  return out;
}

export function learnerStateFromTensors(tensors: Record<string, SafeTensor>, step: number): LearnerState {
  const state: LearnerState = { step, weights: {}, adamM: {}, adamV: {} };
  for (const [full, tensor] of Object.entries(tensors)) {
    const dot = full.indexOf('.');
    const group = GROUPS.find(([prefix]) => prefix === full.slice(0, dot));
    if (group) state[group[1]][full.slice(dot + 1)] = tensor.data;
  }
  return state;
}

const SAMPLING = 'sampling.';

export function samplingWeightsToTensors(
  weights: DecoderWeights,
  shapes: Record<string, number[]>,
): Record<string, SafeTensor> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, data]) => [
      `${SAMPLING}${name}`,
      { shape: shapes[name] ?? [data.length], data },
    ]),
  );
}

export function samplingWeightsFromTensors(tensors: Record<string, SafeTensor>): DecoderWeights {
  return Object.fromEntries(
    Object.entries(tensors)
      .filter(([full]) => full.startsWith(SAMPLING))
      .map(([full, tensor]) => [full.slice(SAMPLING.length), tensor.data]),
  );
}

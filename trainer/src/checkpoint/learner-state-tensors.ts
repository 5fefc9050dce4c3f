/**
 * A learner's state as one flat tensor map for a safetensors checkpoint: `weights.<name>`,
 * `adam_m.<name>`, `adam_v.<name>` (ToolGym weight names, see agents/src/model/decoder-config.ts).
 */
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

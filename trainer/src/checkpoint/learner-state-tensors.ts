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

/** `weights` as tensors named `<prefix>.<name>`. */
function prefixed(
  prefix: string,
  weights: DecoderWeights,
  shapes: Record<string, number[]>,
): Record<string, SafeTensor> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, data]) => [
      `${prefix}.${name}`,
      { shape: shapes[name] ?? [data.length], data },
    ]),
  );
}

/** The tensors named `<prefix>.<name>`, by name. */
function unprefixed(prefix: string, tensors: Record<string, SafeTensor>): DecoderWeights {
  return Object.fromEntries(
    Object.entries(tensors)
      .filter(([full]) => full.startsWith(`${prefix}.`))
      .map(([full, tensor]) => [full.slice(prefix.length + 1), tensor.data]),
  );
}

export function learnerStateToTensors(
  state: LearnerState,
  shapes: Record<string, number[]>,
): Record<string, SafeTensor> {
  return Object.assign({}, ...GROUPS.map(([prefix, key]) => prefixed(prefix, state[key], shapes)));
}

export function learnerStateFromTensors(tensors: Record<string, SafeTensor>, step: number): LearnerState {
  const [weights, adamM, adamV] = GROUPS.map(([prefix]) => unprefixed(prefix, tensors)) as [
    DecoderWeights,
    DecoderWeights,
    DecoderWeights,
  ];
  return { step, weights, adamM, adamV };
}

export function samplingWeightsToTensors(
  weights: DecoderWeights,
  shapes: Record<string, number[]>,
): Record<string, SafeTensor> {
  return prefixed('sampling', weights, shapes);
}

export function samplingWeightsFromTensors(tensors: Record<string, SafeTensor>): DecoderWeights {
  return unprefixed('sampling', tensors);
}

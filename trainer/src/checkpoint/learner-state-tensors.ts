/**
 * A learner's state as one flat tensor map for a safetensors checkpoint: `weights.<name>`,
 * `adam_m.<name>`, `adam_v.<name>` (ToolGym weight names, see agents/src/model/decoder-config.ts);
 * `sampling.<name>`, the weights a batch in flight is played with (`rl.asyncLevel`); and `prm.…`,
 * PRIME's implicit PRM's own weights and moments (`rl.prime`).
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

/** A learner's state as tensors; a second learner of the run (PRIME's PRM) names its own `<owner>.weights.<name>`, …. */
export function learnerStateToTensors(
  state: LearnerState,
  shapes: Record<string, number[]>,
  owner?: string,
): Record<string, SafeTensor> {
  const at = (prefix: string) => (owner ? `${owner}.${prefix}` : prefix);
  return Object.assign({}, ...GROUPS.map(([prefix, key]) => prefixed(at(prefix), state[key], shapes)));
}

export function learnerStateFromTensors(
  tensors: Record<string, SafeTensor>,
  step: number,
  owner?: string,
): LearnerState {
  const at = (prefix: string) => (owner ? `${owner}.${prefix}` : prefix);
  const [weights, adamM, adamV] = GROUPS.map(([prefix]) => unprefixed(at(prefix), tensors)) as [
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

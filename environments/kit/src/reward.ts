import type { RewardBreakdown } from '@toolgym/protocol';

/**
 * A reward as named components and weights; `total` is the weighted sum. A weight of 0 keeps a
 * component as a logged metric without training on it.
 */
export function weightedReward(
  components: Record<string, number>,
  weights: Record<string, number>,
  info: Record<string, unknown> = {},
): RewardBreakdown {
  let total = 0;
  for (const [name, value] of Object.entries(components)) {
    if (!Number.isFinite(value)) throw new Error(`reward component '${name}' is not finite (${value})`);
    total += (weights[name] ?? 0) * value;
  }
  return { total, components, weights, info };
}

import { z } from 'zod';

/**
 * A graded episode. `total` is the weighted sum the environment declares; every component is kept
 * so that a weight of 0 still logs a metric. Advantages are never computed here (see the trainer).
 */
export const RewardBreakdownSchema = z.object({
  total: z.number().finite(),
  components: z.record(z.string(), z.number().finite()),
  weights: z.record(z.string(), z.number().finite()).default({}),
  info: z.record(z.string(), z.unknown()).default({}),
});
export type RewardBreakdown = z.infer<typeof RewardBreakdownSchema>;

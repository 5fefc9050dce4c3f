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
  /**
   * Process rewards, one per tool call the environment received, in the order received (e.g. 1 for
   * a call that is a right next step, else 0). Optional; a trainer with turn-level credit
   * (`rl.turnCredit`) sums them per assistant turn. `total` stays the outcome.
   */
  steps: z.array(z.number().finite()).optional(),
});
export type RewardBreakdown = z.infer<typeof RewardBreakdownSchema>;

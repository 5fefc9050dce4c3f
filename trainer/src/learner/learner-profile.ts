/**
 * Where a learner step's wall time goes: the forward pass (inside the gradient tape), the backward
 * pass (and accumulating micro-batch gradients), the optimiser step, and, data-parallel, the gradient
 * sync between replicas. `pnpm bench learner --profile` prints it per optimiser step.
 */

export type LearnerPhase = 'forward' | 'backward' | 'optimizer' | 'sync';

export interface LearnerProfile {
  /** Optimiser steps. */
  steps: number;
  ms: Record<LearnerPhase, number>;
}

export function emptyLearnerProfile(): LearnerProfile {
  return { steps: 0, ms: { forward: 0, backward: 0, optimizer: 0, sync: 0 } };
}

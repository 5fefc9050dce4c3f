import { describe, expect, it } from 'vitest';
import { rankByAccuracyVariance } from './data-selection.ts';

describe('historical variance score (Wang et al. 2025), hand-computed', () => {
  it('ranks tasks by the population variance of their accuracy over the visits, highest first', () => {
    const ranked = rankByAccuracyVariance([
      // mean 0.5: ((0.5)² + (0.5)² + 0) / 3 = 1/6
      { taskId: 'a', accuracies: [0, 1, 0.5] },
      // never changes: 0
      { taskId: 'b', accuracies: [0.25, 0.25] },
      // mean 0.5: ((0.5)² + (0.5)²) / 2 = 1/4
      { taskId: 'c', accuracies: [1, 0] },
      // one visit: no variance to speak of
      { taskId: 'd', accuracies: [0.75] },
    ]);
    expect(ranked.map((r) => r.taskId)).toEqual(['c', 'a', 'b', 'd']);
    expect(ranked[0]!.variance).toBeCloseTo(0.25, 12);
    expect(ranked[1]!.variance).toBeCloseTo(1 / 6, 12);
    expect(ranked.map((r) => r.visits)).toEqual([2, 3, 2, 1]);
  });

  it('keeps the tasks’ order among equal variances, so the top k is reproducible', () => {
    const ranked = rankByAccuracyVariance([
      { taskId: 'x', accuracies: [0, 0.5] },
      { taskId: 'y', accuracies: [1, 0.5] },
      { taskId: 'z', accuracies: [] },
    ]);
    expect(ranked.map((r) => r.taskId)).toEqual(['x', 'y', 'z']);
    expect(ranked[2]).toEqual({ taskId: 'z', variance: 0, visits: 0 });
  });
});

import type { Trajectory } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { reattemptMetrics } from './rl-metrics.ts';

/** An episode that answered wrong `failed` times and ended with `execution` (0/1), or failed outright. */
const episode = (
  failed: number,
  execution: number,
  status: Trajectory['status'] = 'terminated',
): Trajectory =>
  ({
    status,
    reward: {
      total: execution,
      components: { execution, attempts: failed + 1 },
      weights: { execution: 1 },
      info:
        failed > 0
          ? { failedAttempts: Array.from({ length: failed }, () => ({ answer: 'x', total: 0 })) }
          : {},
    },
  }) as unknown as Trajectory;

describe('re-attempt metrics', () => {
  it('count the first answer right, the episodes retried, and the retries whose last answer was right', () => {
    const played = [
      episode(0, 1), // right at once
      episode(0, 0), // wrong, no re-attempt left (or none given)
      episode(1, 1), // the guided re-attempt succeeded where the first failed
      episode(1, 0),
      episode(2, 0),
      episode(1, 1, 'failed'), // a failed episode is not graded: left out
    ];
    expect(reattemptMetrics(played, 'execution')).toEqual({
      'feedback/first_correct': 1 / 5,
      'feedback/retried': 3 / 5,
      'feedback/retry_correct': 1 / 3,
    });
  });

  it('are 0, not NaN, for a batch without graded episodes or without retries', () => {
    expect(reattemptMetrics([], 'execution')).toEqual({
      'feedback/first_correct': 0,
      'feedback/retried': 0,
      'feedback/retry_correct': 0,
    });
    expect(reattemptMetrics([episode(0, 1)], 'execution')['feedback/retry_correct']).toBe(0);
    // The verdict is the named component: a right `execution` is not a right `all_pass`.
    expect(reattemptMetrics([episode(1, 1)], 'all_pass')['feedback/retry_correct']).toBe(0);
  });
});

import { parseTrainConfig, type TrainResult } from '@toolgym/trainer';
import { describe, expect, it } from 'vitest';
import { trainSummary } from './train.ts';

const split = (accuracy: number) => ({ accuracy, episodes: 200, components: {} });

describe('toolgym train: the summary of a seed', () => {
  const result: TrainResult = {
    runId: 'compose-main-seed0',
    outDir: 'runs/compose-main-seed0',
    evals: [
      { step: 0, accuracy: 0.05, splits: { test: split(0.05), 'test-iid': split(0.2) }, seconds: 3 },
      { step: 228, accuracy: 0.34, splits: { test: split(0.34), 'test-iid': split(0.61) }, seconds: 3 },
    ],
    before: 0.05,
    after: 0.34,
    rlSteps: 228,
    stoppedBy: 'steps',
    rlSeconds: 600,
    policyVersion: 229,
    seed: 0,
    metricsDigest: '0'.repeat(64),
    config: parseTrainConfig({
      environment: { id: 'compose' },
      rl: { tasks: { split: 'train' }, steps: 228 },
      eval: { tasks: { split: 'test' } },
    }),
  };

  it('gives accuracy before and after RL with the curve, the other splits after RL, and the outputs', () => {
    expect(trainSummary(0, result).split('\n')).toEqual([
      'seed 0: held-out accuracy before RL 5.0%, after 228 RL steps (10.0 min) 34.0% (+29.0 points); curve 0:5.0% 228:34.0%',
      '  after RL on test-iid 61.0%',
      '  outputs in runs/compose-main-seed0',
      '',
    ]);
  });

  it('names the checkpoint validation chose, and an early stop with the steps it left', () => {
    const lines = trainSummary(0, {
      ...result,
      best: { step: 200, validation: 0.7, accuracy: 0.3 },
      stoppedBy: 'time-budget',
      rlSteps: 150,
    }).split('\n');
    expect(lines).toContain('  chosen by validation: step 200 (validation 70.0%), held-out 30.0%');
    expect(lines).toContain('  RL stopped early (time-budget) after 150 of 228 steps');
  });

  it('has no line for other splits when only eval.tasks was evaluated', () => {
    const onlyTest = {
      ...result,
      evals: result.evals.map((e) => ({ ...e, splits: { test: e.splits.test! } })),
    };
    expect(trainSummary(0, onlyTest)).not.toContain('after RL on');
  });
});

import { describe, expect, it } from 'vitest';
import {
  ADVANTAGE_ESTIMATOR_NAMES,
  ADVANTAGE_ESTIMATORS,
  drGrpoAdvantages,
  grpoAdvantages,
  minFormReturns,
  reinforcePlusPlusAdvantages,
  rlooAdvantages,
  sumFormReturns,
  turnAdvantages,
  turnValuesToTokens,
} from './advantages.ts';
import {
  fillWithInformativeGroups,
  isZeroVarianceGroup,
  overlongKeepMask,
  targetWeights,
} from './batch-shaping.ts';

const expectClose = (actual: number[], expected: number[]) => {
  expect(actual).toHaveLength(expected.length);
  for (const [i, x] of expected.entries()) expect(actual[i]).toBeCloseTo(x, 6);
};

describe('advantages (hand-computed)', () => {
  it('GRPO: rewards [1,0,0,1] → mean 0.5, std 0.5 → ±1', () => {
    const a = grpoAdvantages([1, 0, 0, 1], 0);
    expect(a).toEqual([1, -1, -1, 1]);
  });
  it('GRPO: a zero-variance group gives zeros, not NaN', () => {
    expect(grpoAdvantages([1, 1, 1])).toEqual([0, 0, 0]);
  });
  it('Dr. GRPO: no std division — [1,0,0,0] → [0.75,-0.25,-0.25,-0.25]', () => {
    expect(drGrpoAdvantages([1, 0, 0, 0])).toEqual([0.75, -0.25, -0.25, -0.25]);
  });
  it('RLOO: leave-one-out baseline — [1,0,0] → [1, -0.5, -0.5]', () => {
    expect(rlooAdvantages([1, 0, 0])).toEqual([1, -0.5, -0.5]);
    expect(rlooAdvantages([3])).toEqual([0]);
  });
  it('REINFORCE++: batch normalisation across groups', () => {
    // flat [2,0,1,1]: mean 1, std sqrt(0.5) → [1.41421, -1.41421, 0, 0]
    const [g1, g2] = reinforcePlusPlusAdvantages(
      [
        [2, 0],
        [1, 1],
      ],
      { eps: 0 },
    );
    expect(g1![0]).toBeCloseTo(Math.SQRT2, 6);
    expect(g1![1]).toBeCloseTo(-Math.SQRT2, 6);
    expect(g2).toEqual([0, 0]);
    // with the group baseline: [1,-1],[0,0] → mean 0, std sqrt(0.5)
    const [b1] = reinforcePlusPlusAdvantages(
      [
        [2, 0],
        [1, 1],
      ],
      { groupBaseline: true, eps: 0 },
    );
    expect(b1![0]).toBeCloseTo(Math.SQRT2, 6);
  });
  it('sum-form returns with discount', () => {
    expect(sumFormReturns([1, 0, 2], 0.5)).toEqual([1.5, 1, 2]);
  });
  it('PURE min-form: value is the worst future step', () => {
    expect(minFormReturns([0.9, 0.2, 0.8, 0.5])).toEqual([0.2, 0.2, 0.5, 0.5]);
    expect(sumFormReturns([0.9, 0.2, 0.8, 0.5])[0]).toBeCloseTo(2.4);
  });
  it('turn advantages: returns normalised over every turn of the group', () => {
    // Two episodes of process rewards [1,1,1] and [1,0,0]. Sum form: returns [3,2,1] and [1,0,0],
    // mean 7/6, population std sqrt(41/36).
    const sd = Math.sqrt(41 / 36);
    const sum = turnAdvantages(
      [
        [1, 1, 1],
        [1, 0, 0],
      ],
      'sum',
    );
    const expected = [
      [3, 2, 1],
      [1, 0, 0],
    ].map((g) => g.map((x) => (x - 7 / 6) / (sd + 1e-6)));
    expectClose(sum.flat(), expected.flat());
    // Min form: [1,1,1] and [1,0,1] give returns [1,1,1] and [0,0,1] (a right first step before a
    // wrong one earns nothing), mean 2/3, std sqrt(2/9).
    const min = turnAdvantages(
      [
        [1, 1, 1],
        [1, 0, 1],
      ],
      'min',
    );
    const hi = 1 / 3 / (Math.sqrt(2 / 9) + 1e-6);
    const lo = -2 / 3 / (Math.sqrt(2 / 9) + 1e-6);
    expectClose(min.flat(), [hi, hi, hi, lo, lo, hi]);
    // All turns alike: no signal.
    expect(turnAdvantages([[1], [1, 1]], 'min').flat()).toEqual([0, 0, 0]);
  });
  it('turn values onto tokens', () => {
    expect(
      turnValuesToTokens(
        6,
        [
          { start: 1, end: 3 },
          { start: 4, end: 6 },
        ],
        [5, 7],
      ),
    ).toEqual([0, 5, 5, 0, 7, 7]);
  });
  it('the registry runs each estimator by its config name, and every entry cites its paper', () => {
    expect(ADVANTAGE_ESTIMATORS.rloo.estimate([[1, 0, 0]])).toEqual([[1, -0.5, -0.5]]);
    expect(ADVANTAGE_ESTIMATORS['dr-grpo'].estimate([[1, 0]])).toEqual([[0.5, -0.5]]);
    expect(ADVANTAGE_ESTIMATORS.grpo.estimate([[1, 0]])).toEqual([grpoAdvantages([1, 0])]);
    expect(ADVANTAGE_ESTIMATORS['reinforce++'].estimate([[1], [0]])).toEqual(
      reinforcePlusPlusAdvantages([[1], [0]]),
    );
    expect(ADVANTAGE_ESTIMATOR_NAMES).toEqual(['grpo', 'dr-grpo', 'rloo', 'reinforce++']);
    for (const name of ADVANTAGE_ESTIMATOR_NAMES) {
      expect(ADVANTAGE_ESTIMATORS[name].citation).toMatch(/\(.*\d{4}\)/);
      // One advantage per episode, group by group, whatever the group sizes.
      const shape = ADVANTAGE_ESTIMATORS[name]
        .estimate([
          [1, 0, 1],
          [0, 1],
        ])
        .map((g) => g.length);
      expect(shape).toEqual([3, 2]);
    }
  });
});

describe('batch shaping', () => {
  it('zero-variance groups', () => {
    expect(isZeroVarianceGroup([1, 1, 1])).toBe(true);
    expect(isZeroVarianceGroup([1, 0, 1])).toBe(false);
    expect(isZeroVarianceGroup([])).toBe(true);
  });
  it('DAPO dynamic sampling keeps informative groups and refills', async () => {
    const draws: number[][][] = [[[0, 1]], [[1, 1]]];
    const result = await fillWithInformativeGroups(
      [
        [1, 1],
        [0, 1],
        [0, 0],
      ],
      3,
      (g) => g,
      async (n) => {
        expect(n).toBeGreaterThan(0);
        return draws.shift() ?? [];
      },
      5,
    );
    expect(result.groups).toEqual([
      [0, 1],
      [0, 1],
    ]);
    expect(result.dropped).toBe(3);
    expect(result.sampled).toBe(5);
  });
  it('dynamic sampling stops after maxRounds with a short batch', async () => {
    let calls = 0;
    const result = await fillWithInformativeGroups(
      [[1, 1]],
      2,
      (g) => g,
      async () => {
        calls++;
        return [[0, 0]];
      },
      2,
    );
    expect(calls).toBe(2);
    expect(result.groups).toEqual([]);
  });
  it('overlong filtering zeroes episodes cut by a length limit, not those that ran out of turns', () => {
    expect(
      overlongKeepMask([
        { status: 'terminated' },
        { status: 'truncated', truncation: 'turn_length' },
        { status: 'truncated', truncation: 'token_budget' },
        { status: 'truncated', truncation: 'max_turns' },
      ]),
    ).toEqual([1, 0, 0, 1]);
  });
  it('target weights shift the loss mask onto next-token targets', () => {
    // tokens: p p s s o s → targets are tokens[1:]
    expect(targetWeights([0, 0, 1, 1, 0, 1])).toEqual([0, 1, 1, 0, 1]);
    expect(targetWeights([0, 1, 1], 0)).toEqual([0, 0]);
  });
});

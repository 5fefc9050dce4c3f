import { describe, expect, it } from 'vitest';
import {
  ADVANTAGE_ESTIMATOR_NAMES,
  ADVANTAGE_ESTIMATORS,
  drGrpoAdvantages,
  grpoAdvantages,
  minFormReturns,
  reinforcePlusPlusAdvantages,
  roleConditionedAdvantages,
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
    /** Every episode in one role, fresh baselines. */
    const context = (groups: number[][]) => ({
      passed: groups.map((g) => g.map((r) => r > 0)),
      lambda: 0.1,
      roles: groups.map((g) => g.map(() => 'solo')),
      baselines: {},
      decay: 0.5,
    });
    const run = (name: keyof typeof ADVANTAGE_ESTIMATORS, groups: number[][]) =>
      ADVANTAGE_ESTIMATORS[name].estimate(groups, context(groups));
    expect(run('rloo', [[1, 0, 0]])).toEqual([[1, -0.5, -0.5]]);
    expect(run('dr-grpo', [[1, 0]])).toEqual([[0.5, -0.5]]);
    expect(run('grpo', [[1, 0]])).toEqual([grpoAdvantages([1, 0])]);
    expect(run('reinforce++', [[1], [0]])).toEqual(reinforcePlusPlusAdvantages([[1], [0]]));
    // α = 0.5: b = 0.5 after the first episode (A = 1 − 0.5), 0.25 after the second (A = 0 − 0.25).
    expect(run('rae', [[1, 0]])).toEqual([[0.5, -0.25]]);
    expect(run('nsr', [[1, 0]])).toEqual([[0, -1]]);
    expect(run('w-reinforce', [[1, 0]])).toEqual([[0.1, -1]]);
    expect(ADVANTAGE_ESTIMATOR_NAMES).toEqual([
      'grpo',
      'dr-grpo',
      'rloo',
      'reinforce++',
      'rae',
      'nsr',
      'psr',
      'w-reinforce',
    ]);
    for (const name of ADVANTAGE_ESTIMATOR_NAMES) {
      expect(ADVANTAGE_ESTIMATORS[name].citation).toMatch(/\(.*\d{4}\)/);
      // One advantage per episode, group by group, whatever the group sizes.
      const shape = run(name, [
        [1, 0, 1],
        [0, 1],
      ]).map((g) => g.length);
      expect(shape).toEqual([3, 2]);
    }
  });
});

describe('RAE: role-conditioned advantages (SPIRAL)', () => {
  it('keeps one running baseline per role, each episode against the baseline after its own update', () => {
    const baselines: Record<string, number> = {};
    // Zero-sum seats of two Kuhn poker hands, α = 0.9. By hand (Algorithm 1: update b, then A = R − b):
    //   p0 wins 1:   b_p0 = 0.9·0 + 0.1·1 = 0.1,       A = 1 − 0.1 = 0.9
    //   p1 loses 1:  b_p1 = −0.1,                      A = −0.9
    //   p0 wins 2:   b_p0 = 0.9·0.1 + 0.1·2 = 0.29,    A = 2 − 0.29 = 1.71
    //   p1 loses 2:  b_p1 = −0.29,                     A = −1.71
    const a = roleConditionedAdvantages(
      [1, -1, 2, -2],
      ['kuhn/p0', 'kuhn/p1', 'kuhn/p0', 'kuhn/p1'],
      baselines,
      0.9,
    );
    expect(a.map((x) => +x.toFixed(10))).toEqual([0.9, -0.9, 1.71, -1.71]);
    expect(baselines['kuhn/p0']).toBeCloseTo(0.29, 12);
    expect(baselines['kuhn/p1']).toBeCloseTo(-0.29, 12);
    // The next step starts from them; another game's role has a baseline of its own.
    //   kuhn/p0 loses 1: b = 0.9·0.29 − 0.1 = 0.161, A = −1 − 0.161 = −1.161
    //   ttt/p0 draws:    b = 0, A = 0
    const b = roleConditionedAdvantages([-1, 0], ['kuhn/p0', 'ttt/p0'], baselines, 0.9);
    expect(b[0]).toBeCloseTo(-1.161, 12);
    expect(b[1]).toBe(0);
    expect(baselines['kuhn/p0']).toBeCloseTo(0.161, 12);
    expect(baselines['ttt/p0']).toBe(0);
  });

  it("a role that always earns R ends with a baseline of R(1 − α^n) and advantages R·α^n that shrink to 0, unlike a group's mean", () => {
    const baselines: Record<string, number> = {};
    const rewards = Array.from({ length: 200 }, () => 1);
    const a = roleConditionedAdvantages(
      rewards,
      rewards.map(() => 'first-mover'),
      baselines,
      0.95,
    );
    expect(baselines['first-mover']).toBeCloseTo(1 - 0.95 ** 200, 12);
    expect(a[0]).toBeCloseTo(0.95, 12);
    expect(a[199]).toBeCloseTo(0.95 ** 200, 12);
    // A seat that wins by position alone stops being reinforced; one baseline for both seats would not see it.
  });

  it('the registry entry reads roles group by group and carries the baselines it is given', () => {
    const context = {
      passed: [
        [true, true],
        [false, false],
      ],
      lambda: 0.1,
      roles: [
        ['g/p0', 'g/p0'],
        ['g/p1', 'g/p1'],
      ],
      baselines: { 'g/p0': 0.5 },
      decay: 0.5,
    };
    // g/p0: b → 0.75, A = 0.25; b → 0.875, A = 0.125. g/p1: b → −0.5, A = −0.5; b → −0.75, A = −0.25.
    expect(
      ADVANTAGE_ESTIMATORS.rae.estimate(
        [
          [1, 1],
          [-1, -1],
        ],
        context,
      ),
    ).toEqual([
      [0.25, 0.125],
      [-0.5, -0.25],
    ]);
    expect(context.baselines).toEqual({ 'g/p0': 0.875, 'g/p1': -0.75 });
  });
});

describe('negative and positive sample reinforcement (Zhu et al. 2025), hand-computed', () => {
  // A group of four with the verifier's verdicts pass, fail, fail, pass. The rewards (shaped: a
  // failed episode can still earn partial credit) are not read: the paper's reward is r = ±1.
  const rewards = [[1.6, 0.6, 0.1, 1.1]];
  const context = { passed: [[true, false, false, true]], lambda: 0.1, roles: [], baselines: {}, decay: 0.95 };

  it('NSR: −1 on each failed sample, nothing on a passed one', () => {
    expect(ADVANTAGE_ESTIMATORS.nsr.estimate(rewards, context)).toEqual([[0, -1, -1, 0]]);
  });
  it('PSR: +1 on each passed sample, nothing on a failed one', () => {
    expect(ADVANTAGE_ESTIMATORS.psr.estimate(rewards, context)).toEqual([[1, 0, 0, 1]]);
  });
  it('W-REINFORCE: λ = 0.1 on a passed sample, −1 on a failed one (λ·PSR + NSR)', () => {
    expect(ADVANTAGE_ESTIMATORS['w-reinforce'].estimate(rewards, context)).toEqual([[0.1, -1, -1, 0.1]]);
    const halves = ADVANTAGE_ESTIMATORS.psr
      .estimate(rewards, context)[0]!
      .map((p, i) => 0.1 * p + ADVANTAGE_ESTIMATORS.nsr.estimate(rewards, context)[0]![i]!);
    expect(halves).toEqual([0.1, -1, -1, 0.1]);
    // λ = 1 is plain REINFORCE with r = ±1.
    expect(ADVANTAGE_ESTIMATORS['w-reinforce'].estimate(rewards, { ...context, lambda: 1 })).toEqual([
      [1, -1, -1, 1],
    ]);
  });
  it('a group that all failed still trains under NSR (no group baseline to cancel it)', () => {
    expect(ADVANTAGE_ESTIMATORS.nsr.estimate([[0, 0]], { ...context, passed: [[false, false]] })).toEqual([
      [-1, -1],
    ]);
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

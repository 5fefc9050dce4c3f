/**
 * The learning recipes on the built-in model, end to end through `train()`: each runs a few RL steps
 * of a tiny compose run and is held to what its paper says the step does.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { episodePassed } from '@toolgym/agents';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { initDecoderWeights } from '@toolgym/agents';
import { ADVANTAGE_ESTIMATORS } from '../src/algorithms/advantages.ts';
import { overlongKeepMask } from '../src/algorithms/batch-shaping.ts';
import { createEmbeddedLearner } from '../src/learner/embedded-learner.ts';
import { datumFromSequence } from '../src/learner/learner.ts';
import { TEST_DECODER } from '../src/learner/test-decoder.ts';
import { parseTrainConfig } from '../src/train/config.ts';
import { train } from '../src/train/train.ts';
import type { TrainResult } from '../src/train/train-result.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const base = {
  environment: {
    id: 'compose',
    options: {
      functions: ['reverse', 'upper', 'double'],
      depths: [1, 2],
      tasksPerDepth: 30,
      alphabet: 'ab',
      minLength: 2,
      maxLength: 3,
    },
  },
  policy: { model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxPositions: 128, positions: 'rope' } },
  template: { dropFromPrompt: [' Use the tools, then call answer with the final string.'], toolTokens: true },
  // Enough warm-up that some episodes pass and some fail.
  warmup: {
    tasks: { split: 'train', meta: { depth: 1 }, limit: 8 },
    steps: 40,
    batchSize: 4,
    adam: { learningRate: 0.01 },
  },
  rl: {
    tasks: { split: 'train', meta: { depth: 1 } },
    steps: 2,
    tasksPerStep: 3,
    groupSize: 4,
    sampling: { temperature: 1, maxTokens: 12 },
  },
  eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 2 }, every: 100 },
  maxTurns: 3,
};

interface Recorded {
  result: TrainResult;
  /** The groups the sink received, by run id. */
  groups: Map<string, TrajectoryGroup[]>;
  metrics: Array<Record<string, number | string>>;
}

async function run(name: string, overrides: Record<string, unknown>): Promise<Recorded> {
  const outDir = await mkdtemp(path.join(tmpdir(), `toolgym-${name}-`));
  dirs.push(outDir);
  const config = parseTrainConfig({ ...base, ...overrides, run: { name, seed: 2, outDir } });
  const environment = (await discoverEnvironments()).make('compose', config.environment.options);
  const groups = new Map<string, TrajectoryGroup[]>();
  const result = await train({
    config,
    environment,
    log: () => {},
    sink: {
      onGroup: (g) => {
        const id = g.trajectories[0]?.runId ?? '';
        groups.set(id, [...(groups.get(id) ?? []), g]);
      },
    },
  });
  const metrics = (await readFile(path.join(result.outDir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return { result, groups, metrics };
}

/** The episodes of RL step `step` that could train (not failed, not cut by a length limit). */
function trainable(recorded: Recorded, step: number): Trajectory[] {
  return (recorded.groups.get(recorded.result.runId) ?? [])
    .filter((g) => g.trajectories[0]?.step === step)
    .flatMap((g) => {
      const usable = g.trajectories.filter((t) => t.status !== 'failed');
      const keep = overlongKeepMask(usable);
      return usable.filter((_, i) => keep[i] === 1);
    });
}

const rlLines = (recorded: Recorded) => recorded.metrics.filter((m) => m.phase === 'rl');

describe('NSR and Weighted REINFORCE (Zhu et al. 2025)', () => {
  /**
   * One PPO step of the real learner on a group of two episodes, one the verifier passed and one it
   * failed, each with the estimator's advantage (an episode whose advantage is 0 is left out, as
   * `advantageData` leaves it); returns how far each episode's sequence logprob moved.
   */
  async function oneStep(algorithm: 'nsr' | 'psr' | 'w-reinforce', lambda = 0.1): Promise<{ passed: number; failed: number }> {
    const learner = await createEmbeddedLearner({
      decoder: TEST_DECODER,
      weights: initDecoderWeights(TEST_DECODER, { seed: 4, std: 0.2 }),
    });
    const prompt = [257, 97, 98, 10, 258];
    const episodes = [
      // No sampled token in common, so each episode's move is its own advantage's doing.
      [...prompt, 120, 50, 51, 52],
      [...prompt, 121, 60, 61, 62],
    ];
    const mask = (tokens: number[]) => tokens.map((_, i) => (i >= prompt.length ? 1 : 0));
    const logprobOf = async () =>
      (await learner.forward(episodes.map((e) => datumFromSequence(e, mask(e))))).lossFnOutputs.map((o) =>
        o.logprobs.slice(prompt.length - 1).reduce((a, b) => a + b, 0),
      );
    const before = await logprobOf();
    const [advantages] = ADVANTAGE_ESTIMATORS[algorithm].estimate([[1, 0]], {
      passed: [[true, false]],
      lambda,
      roles: [],
      baselines: {},
      decay: 0.95,
    });
    const scored = await learner.forward(episodes.map((e) => datumFromSequence(e, mask(e))));
    const data = episodes.flatMap((e, i) =>
      advantages![i] === 0
        ? []
        : [
            datumFromSequence(e, mask(e), {
              advantages: e.map(() => advantages![i]!),
              logprobs: [0, ...scored.lossFnOutputs[i]!.logprobs],
            }),
          ],
    );
    expect(data).toHaveLength(algorithm === 'w-reinforce' ? 2 : 1);
    await learner.forwardBackward(data, 'ppo', {});
    await learner.optimStep({ learningRate: 1e-3 });
    const after = await logprobOf();
    await learner.close();
    return { passed: after[0]! - before[0]!, failed: after[1]! - before[1]! };
  }

  it('on the learner: NSR and W-REINFORCE push the failed episode down; λ pulls the passed one up against NSR', async () => {
    const nsr = await oneStep('nsr');
    const weighted = await oneStep('w-reinforce');
    const plain = await oneStep('w-reinforce', 1);
    expect(nsr.failed).toBeLessThan(0);
    expect(weighted.failed).toBeLessThan(0);
    // The passed episode: under NSR only the shared weights move it; λ = 0.1 lifts it above that
    // (Adam's first step is about lr·sign(g) per weight, so the failed one's gradient still decides
    // the shared weights), and λ = 1 (REINFORCE with r = ±1) lifts it outright.
    expect(weighted.passed).toBeGreaterThan(nsr.passed);
    expect(plain.passed).toBeGreaterThan(0);
  }, 120_000);

  it('NSR trains on the failed episodes only; W-REINFORCE on every episode', async () => {
    const nsr = await run('nsr', { rl: { ...base.rl, algorithm: 'nsr' } });
    for (const line of rlLines(nsr)) {
      const episodes = trainable(nsr, line.step as number);
      const failed = episodes.filter((t) => !episodePassed(t)).length;
      expect(line['batch/trained_sequences']).toBe(failed);
    }
    expect(rlLines(nsr).some((l) => (l['batch/trained_sequences'] as number) > 0)).toBe(true);

    const weighted = await run('w-reinforce', { rl: { ...base.rl, algorithm: 'w-reinforce' } });
    for (const line of rlLines(weighted))
      expect(line['batch/trained_sequences']).toBe(trainable(weighted, line.step as number).length);
  }, 300_000);
});

describe('1-shot RLVR data selection (Wang et al. 2025)', () => {
  it('ranks RL’s tasks over a warm-up of passes, then trains on the top one alone, from where the warm-up started', async () => {
    const tasks = {
      split: 'train',
      meta: { depth: 1 },
      limit: 6,
      select: { by: 'variance', top: 1, epochs: 2 },
    };
    const recorded = await run('one-shot', { rl: { ...base.rl, tasks, entropyCoef: 0.01 } });
    const { selection } = recorded.result;
    // Two passes over six tasks, three a step: four warm-up steps, each logged as phase `selection`.
    expect(selection?.steps).toBe(4);
    expect(recorded.metrics.filter((m) => m.phase === 'selection').map((m) => m.step)).toEqual([1, 2, 3, 4]);
    const warmupGroups = recorded.groups.get(`${recorded.result.runId}-selection`) ?? [];
    const visits = new Map<string, number>();
    for (const g of warmupGroups) visits.set(g.taskId, (visits.get(g.taskId) ?? 0) + 1);
    expect([...visits.values()]).toEqual([2, 2, 2, 2, 2, 2]);
    // The chosen task's variance is the highest of the warm-up's per-visit accuracies.
    const accuracy = (g: TrajectoryGroup) =>
      g.trajectories.filter((t) => episodePassed(t)).length / g.trajectories.length;
    const variances = [...visits.keys()].map((id) => {
      const xs = warmupGroups.filter((g) => g.taskId === id).map(accuracy);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
    });
    expect(selection?.tasks).toHaveLength(1);
    expect(selection!.tasks[0]!.variance).toBeCloseTo(Math.max(...variances), 12);
    // RL plays the chosen task and nothing else.
    const rlGroups = recorded.groups.get(recorded.result.runId) ?? [];
    expect(rlGroups.length).toBe(2 * 3);
    expect(new Set(rlGroups.map((g) => g.taskId))).toEqual(new Set([selection!.tasks[0]!.taskId]));
    // The entropy loss was on.
    expect(rlLines(recorded).every((l) => (l['loss/entropy'] as number) > 0)).toBe(true);
  }, 300_000);
});

describe('RLPR (Yu et al. 2025)', () => {
  it('rewards each episode by the probability of the oracle answer, debiased, and filters groups by their std', async () => {
    const rlpr = { weight: 1, environmentWeight: 0, stdFilter: { beta: 0, from: 1 } };
    const open = await run('rlpr', { rl: { ...base.rl, rlpr } });
    for (const line of rlLines(open)) {
      const p = line['reward/rlpr/probability'] as number;
      const without = line['reward/rlpr/without_reasoning'] as number;
      // Mean per-token probabilities, of an answer the tiny policy has seen in its warm-up.
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThan(1);
      expect(without).toBeGreaterThan(0);
      expect(line['reward/rlpr/filtered_groups']).toBe(0);
      expect(line['reward/rlpr/too_long']).toBe(0);
      // No verifier: every usable episode has its own (continuous) reward, so groups train.
      expect(line['batch/trained_sequences']).toBeGreaterThan(0);
    }
    // A threshold no group's std reaches (β far above 1 × the moving average): nothing trains.
    const strict = await run('rlpr-strict', {
      rl: { ...base.rl, steps: 2, rlpr: { ...rlpr, stdFilter: { beta: 100, from: 2 } } },
    });
    const [first, second] = rlLines(strict);
    expect(first!['reward/rlpr/filtered_groups']).toBe(0);
    expect(second!['reward/rlpr/filtered_groups']).toBe(base.rl.tasksPerStep);
    expect(second!['batch/trained_sequences']).toBe(0);
    expect(second!['reward/rlpr/std_threshold']).toBeGreaterThan(0);
  }, 300_000);
});

describe('PRIME (Cui et al. 2025)', () => {
  it('trains an implicit PRM online from the verdicts; its process rewards start at 0 and learn the direction', async () => {
    const recorded = await run('prime', {
      rl: { ...base.rl, steps: 3, prime: { learningRate: 0.01 } },
    });
    const lines = rlLines(recorded);
    for (const line of lines) {
      expect(line['prm/loss']).toBeGreaterThan(0);
      expect(line['batch/trained_sequences']).toBe(trainable(recorded, line.step as number).length);
    }
    // Step 1: the PRM is the reference, so every implicit reward is 0 and the loss is log 2.
    expect(lines[0]!['prm/loss']).toBeCloseTo(Math.log(2), 6);
    for (const key of ['prm/reward_passed', 'prm/reward_failed'])
      if (key in lines[0]!) expect(lines[0]![key]).toBe(0);
    // Then it learns from the verdicts: its loss falls, and it rewards failed episodes below 0 and
    // below passed ones (this tiny policy fails most episodes; passed ones appear in some steps).
    expect(lines.at(-1)!['prm/loss'] as number).toBeLessThan(lines[0]!['prm/loss'] as number);
    const later = lines.slice(1);
    expect(later.every((l) => (l['prm/reward_failed'] as number) < 0)).toBe(true);
    for (const l of later)
      if ('prm/reward_passed' in l)
        expect(l['prm/reward_passed'] as number).toBeGreaterThan(l['prm/reward_failed'] as number);
  }, 300_000);
});

describe('ARPO (Dong et al. 2025)', () => {
  it('grows each group by branches that replay their parent exactly from a turn after a tool result, and trains on them', async () => {
    // τ far below any ΔH: every turn after a tool result is a branch point, so the budget is used.
    const branching = { entropyThreshold: -100, maxBranches: 2, budget: 8 };
    const recorded = await run('arpo', { rl: { ...base.rl, sampling: { ...base.rl.sampling, branching } } });
    const groups = recorded.groups.get(recorded.result.runId) ?? [];
    expect(groups.length).toBe(6);
    let branches = 0;
    let fresh = 0;
    for (const g of groups) {
      expect(g.trajectories.length).toBeLessThanOrEqual(8);
      const byId = new Map(g.trajectories.map((t) => [t.id, t]));
      for (const t of g.trajectories.filter((x) => x.branchedFrom)) {
        branches++;
        const { trajectoryId, turn } = t.branchedFrom!;
        const parent = byId.get(trajectoryId)!;
        expect(parent, 'a branch’s parent is in its group').toBeDefined();
        expect([t.groupId, t.seed]).toEqual([parent.groupId, parent.seed]);
        expect(parent.turns[turn - 1]!.toolResults.length).toBeGreaterThan(0);
        // The shared prefix, token for token: everything before the branch turn's first sampled token.
        const shared = parent.turns[turn]!.sampled.start;
        expect(t.tokens.slice(0, shared)).toEqual(parent.tokens.slice(0, shared));
        // Only the turns it sampled itself train in the branch.
        expect(t.lossMask.slice(0, shared).every((m) => m === 0)).toBe(true);
        const own = t.turns[turn]!.sampled;
        expect(t.lossMask.slice(own.start, own.end)).toContain(1);
        // It samples on with seeds of its own.
        const at = parent.turns[turn]!.sampled;
        if (
          JSON.stringify(t.tokens.slice(own.start, own.end)) !==
          JSON.stringify(parent.tokens.slice(at.start, at.end))
        )
          fresh++;
      }
    }
    expect(branches).toBeGreaterThan(0);
    expect(fresh).toBeGreaterThan(0);
    const lines = rlLines(recorded);
    expect(lines.map((m) => m['batch/branches'] as number).reduce((a, b) => a + b, 0)).toBe(branches);
    expect(lines.every((m) => m['batch/dropped_branches'] === 0)).toBe(true);
    expect(lines.some((m) => (m['batch/trained_sequences'] as number) > 0)).toBe(true);
  }, 300_000);
});

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initDecoderWeights, readDecoderModelDir, readModelDir, writeDecoderModelDir } from '@toolgym/agents';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { Trajectory } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { readLatestCheckpoint } from '../checkpoint/checkpoint.ts';
import { loadTrainConfig, parseTrainConfig, type TrainConfig, TrainConfigError } from './config.ts';
import { packedDatum, rlData, turnRewards, withTotalWeight } from './learner-data.ts';
import { modelChat } from './policy-model.ts';
import { adamAt, stepProgress } from './schedule.ts';
import { train } from './train.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A fresh directory, removed after the tests. */
const tempDir = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
/** A run's metrics.jsonl, one object per line. */
const readMetrics = async (outDir: string) =>
  (await readFile(path.join(outDir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
/** One weight of a model directory in a run. */
const weightOf = async (outDir: string, model: string) =>
  (await readDecoderModelDir(path.join(outDir, model))).weights['layers.0.attn.q.weight'];

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
  learner: { backend: 'wasm' },
  warmup: { tasks: { split: 'train', meta: { depth: 1 }, limit: 8 }, steps: 3, batchSize: 4, pack: 2 },
  rl: {
    tasks: { split: 'train', meta: { depth: 2 } },
    steps: 2,
    tasksPerStep: 2,
    groupSize: 2,
    sampling: { temperature: 1, maxTokens: 12, exploreToolNames: 0.5 },
  },
  eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 4 }, every: 1 },
  maxTurns: 3,
};

describe('training config', () => {
  it('fills defaults from the papers', () => {
    const c = parseTrainConfig(base);
    expect(c.rl.clipLow).toBe(0.2);
    expect(c.rl.clipHigh).toBe(0.28);
    expect(c.rl.adam.beta2).toBe(0.95);
    expect(c.rl.algorithm).toBe('grpo');
  });
  it("accepts the main job's config, with the phases the README describes", async () => {
    const main = await loadTrainConfig(
      fileURLToPath(new URL('../../../configs/compose-main.yaml', import.meta.url)),
    );
    expect(main.pretrain?.steps).toBeGreaterThan(0);
    expect(main.warmup?.until?.passRate).toBeGreaterThan(0);
    expect(main.rl.steps).toBe(230);
    expect(main.rl.timeBudgetMinutes).toBe(0);
    expect(main.eval.validationTasks).toBe(100);
    expect(main.rl.adam.schedule).toBe('wsd');
  });
  it('the recipe configs are the main job with one change each (extends)', async () => {
    const load = (name: string) =>
      loadTrainConfig(fileURLToPath(new URL(`../../../configs/${name}.yaml`, import.meta.url)));
    const main = await load('compose-main');
    const nsr = await load('compose-nsr');
    expect(nsr.rl.algorithm).toBe('nsr');
    // Everything else as the main job's, lists and nested objects included.
    expect({ ...nsr, run: main.run, rl: { ...nsr.rl, algorithm: 'grpo' } }).toEqual(main);
    expect((await load('compose-w-reinforce')).rl.wReinforce.lambda).toBe(0.1);
    const oneShot = await load('compose-one-shot');
    expect(oneShot.rl.tasks).toMatchObject({
      split: 'train',
      meta: { depth: 2 },
      select: { by: 'variance', top: 1 },
    });
    expect(oneShot.rl.entropyCoef).toBeGreaterThan(0);
    expect((await load('compose-prime')).rl.prime).toEqual({
      beta: 0.05,
      learningRate: 0.0005,
      processCoef: 5,
      outcomeCoef: 5,
    });
    const arpo = await load('compose-arpo');
    expect(arpo.rl.sampling.branching).toEqual({
      entropyThreshold: 0,
      maxBranches: 2,
      budget: 8,
      entropyTokens: 10,
    });
    // As many episodes per step as the main job: groups of 4 grow to its 8.
    expect(arpo.rl.groupSize).toBe(4);
    const { branching: _, ...arpoSampling } = arpo.rl.sampling;
    expect({ ...arpo, run: main.run, rl: { ...arpo.rl, groupSize: 8, sampling: arpoSampling } }).toEqual(
      main,
    );
    const rlpr = await load('compose-rlpr');
    expect(rlpr.rl.rlpr).toEqual({
      weight: 1,
      environmentWeight: 0,
      debias: true,
      stdFilter: { beta: 0.5, emaRatio: 0.99, from: 11 },
    });
  });
  it('refuses a branching budget no larger than the group, branching in eval, and branching with self-play', () => {
    const branching = (b: Record<string, number>, rl: Record<string, unknown> = {}) => ({
      ...base,
      rl: { ...base.rl, ...rl, sampling: { ...base.rl.sampling, branching: b } },
    });
    expect(parseTrainConfig(branching({ budget: 4 })).rl.sampling.branching).toEqual({
      entropyThreshold: 0,
      maxBranches: 2,
      budget: 4,
      entropyTokens: 10,
    });
    expect(() => parseTrainConfig(branching({ budget: 2 }))).toThrow(
      /rl\.sampling\.branching\.budget: .* counts the group’s first rl\.groupSize episodes/,
    );
    expect(() => parseTrainConfig(branching({ budget: 4, maxBranches: 0 }))).toThrow(/maxBranches/);
    expect(() => parseTrainConfig(branching({ budget: 4 }, { selfPlay: true }))).toThrow(
      /rl\.sampling\.branching: .*self-play match/,
    );
    expect(() =>
      parseTrainConfig({ ...base, eval: { ...base.eval, sampling: { branching: { budget: 4 } } } }),
    ).toThrow(/eval\.sampling\.branching: branching is a way to play RL groups/);
  });
  it('extends: a missing base and a circle are named', async () => {
    const dir = await tempDir('toolgym-extends-');
    await writeFile(path.join(dir, 'a.yaml'), 'extends: b.yaml\n');
    await writeFile(path.join(dir, 'b.yaml'), 'extends: a.yaml\n');
    await writeFile(path.join(dir, 'c.yaml'), 'extends: nowhere.yaml\n');
    await expect(loadTrainConfig(path.join(dir, 'a.yaml'))).rejects.toThrow(/extends itself/);
    const missing = await loadTrainConfig(path.join(dir, 'c.yaml')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TrainConfigError);
    expect((missing as TrainConfigError).hint).toMatch(/fix the extends path in .*c\.yaml/);
  });
  it('names an unknown key and a bad value', () => {
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, grupSize: 4 } })).toThrow(/rl\.grupSize/);
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, groupSize: 1 } })).toThrow(/rl\.groupSize/);
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, algorithm: 'ppo2' } })).toThrow(
      /rl\.algorithm/,
    );
    expect(() => parseTrainConfig({ ...base, learner: { backend: 'webgl' } })).toThrow(TrainConfigError);
    expect(() => parseTrainConfig({ ...base, template: { toolTokens: false } })).toThrow(
      /rl\.sampling\.exploreToolNames: exploring tool names needs template\.toolTokens/,
    );
    expect(() =>
      parseTrainConfig({ ...base, rl: { ...base.rl, adam: { learningRate: 1, schedule: 'linear' } } }),
    ).toThrow(/rl\.adam\.schedule/);
    const { warmup: _, ...noWarmup } = base;
    expect(() => parseTrainConfig({ ...noWarmup, rl: { ...base.rl, demos: { warmup: 0.5 } } })).toThrow(
      /rl\.demos\.warmup: rl\.demos\.warmup mixes in the warm-up demonstrations: add a warmup section/,
    );
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, demos: { pretrain: 0.5 } } })).toThrow(
      /rl\.demos\.pretrain: rl\.demos\.pretrain mixes in the pretraining demonstrations: add a pretrain section/,
    );
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, demos: { warmup: -1 } } })).toThrow(
      /rl\.demos\.warmup/,
    );
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, demos: { sft: 1 } } })).toThrow(
      /rl\.demos\.sft/,
    );
    for (const asyncLevel of [-1, 2, 0.5])
      expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, asyncLevel } })).toThrow(/rl\.asyncLevel/);
    expect(() => parseTrainConfig({ ...base, learner: { workers: 0 } })).toThrow(/learner\.workers/);
    const tinker = { kind: 'tinker', url: 'http://127.0.0.1:8470' };
    expect(() => parseTrainConfig({ ...base, learner: { ...tinker, workers: 2 } })).toThrow(
      /learner\.workers: learner\.workers is for the embedded learner/,
    );
    // The ToolGym-only wire is gone: a bare URL names the fix.
    expect(() => parseTrainConfig({ ...base, learner: 'http://127.0.0.1:8470' })).toThrow(/learner\.kind/);
    expect(() => parseTrainConfig({ ...base, learner: { kind: 'tinker' } })).toThrow(/learner\.url/);
    // What a Tinker service cannot do is refused before the run: a KL reference, a local-engine sampling trick.
    expect(() =>
      parseTrainConfig({ ...base, learner: tinker, rl: { ...base.rl, kl: { coef: 0.1 } } }),
    ).toThrow(/rl\.kl\.coef: rl\.kl needs a reference model/);
    expect(() => parseTrainConfig({ ...base, policy: { kind: 'tinker' } })).toThrow(
      /set learner\.kind to tinker/,
    );
    expect(() =>
      parseTrainConfig({
        ...base,
        learner: tinker,
        policy: { kind: 'tinker' },
        template: { toolTokens: true },
        rl: { ...base.rl, sampling: { exploreToolNames: 0.5 } },
      }),
    ).toThrow(/rl\.sampling\.exploreToolNames: exploring tool names needs a local engine/);
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, turnCredit: { returns: 'max' } } })).toThrow(
      /rl\.turnCredit\.returns/,
    );
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, turnCredit: { coef: -1 } } })).toThrow(
      /rl\.turnCredit\.coef/,
    );
    expect(parseTrainConfig(base).rl.turnCredit).toEqual({ coef: 0, returns: 'min' });
    expect(() =>
      parseTrainConfig({ ...base, rl: { ...base.rl, kl: { coef: 0.1, estimator: 'k4' } } }),
    ).toThrow(/rl\.kl\.estimator/);
    expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, kl: { coef: -0.1 } } })).toThrow(
      /rl\.kl\.coef/,
    );
    expect(parseTrainConfig(base).rl.kl).toEqual({ coef: 0, estimator: 'k3' });
    const pretrain = { options: { functions: ['rotate_left'] }, tasks: { split: 'train' }, steps: 2 };
    expect(() => parseTrainConfig({ ...base, pretrain: { ...pretrain, steps: -1 } })).toThrow(
      /pretrain\.steps/,
    );
    expect(() => parseTrainConfig({ ...base, pretrain: { ...pretrain, option: {} } })).toThrow(
      /pretrain\.option/,
    );
    expect(() =>
      parseTrainConfig({ ...base, pretrain, policy: { ...base.policy, initFrom: 'runs/x/final-model' } }),
    ).toThrow(/pretrain: pretrain \(steps > 0\) and policy\.initFrom both choose the starting weights/);
    // With no steps, pretraining only supplies demonstrations (to rl.demos.pretrain): any start will do.
    const initFrom = { ...base.policy, initFrom: 'runs/x/final-model' };
    expect(
      parseTrainConfig({ ...base, pretrain: { ...pretrain, steps: 0 }, policy: initFrom }).pretrain?.steps,
    ).toBe(0);
    for (const entropyTopFraction of [0, 1.5])
      expect(() => parseTrainConfig({ ...base, rl: { ...base.rl, entropyTopFraction } })).toThrow(
        /rl\.entropyTopFraction/,
      );
  });
  const adamOf = (adam: Record<string, unknown>) =>
    parseTrainConfig({ ...base, rl: { ...base.rl, adam: { learningRate: 1e-3, ...adam } } }).rl.adam;
  it('cosine schedule: the full rate at the first step, a tenth at the last, half-way between at the middle', () => {
    const adam = adamOf({ schedule: 'cosine' });
    expect(stepProgress(1, 101)).toBe(0);
    expect(stepProgress(51, 101)).toBe(0.5);
    expect(stepProgress(101, 101)).toBe(1);
    expect(adamAt(adam, 1, 0).learningRate).toBeCloseTo(1e-3, 12);
    expect(adamAt(adam, 51, 0.5).learningRate).toBeCloseTo(0.55e-3, 12);
    expect(adamAt(adam, 101, 1).learningRate).toBeCloseTo(1e-4, 12);
    expect(adamAt(adam, 101, 1)).not.toHaveProperty('schedule');
    const constant = parseTrainConfig(base).rl.adam;
    expect(adamAt(constant, 80, 0.8).learningRate).toBe(constant.learningRate);
  });
  it('wsd schedule: the full rate until the last decayFraction of the phase, then linear to a tenth', () => {
    const adam = adamOf({ schedule: 'wsd', decayFraction: 0.25 });
    expect([0, 0.5, 0.75, 0.875, 1].map((p) => adamAt(adam, 10, p).learningRate)).toEqual([
      1e-3,
      1e-3,
      1e-3,
      expect.closeTo(0.55e-3, 12),
      expect.closeTo(1e-4, 12),
    ]);
    expect(adamAt(adam, 10, 1)).not.toHaveProperty('decayFraction');
    expect(adamAt(adamOf({ schedule: 'wsd' }), 10, 0.9).learningRate).toBeCloseTo(0.55e-3, 12);
    for (const decayFraction of [0, 1.5])
      expect(() => adamOf({ schedule: 'wsd', decayFraction })).toThrow(/rl\.adam\.decayFraction/);
  });
  it('warm-up: the rate rises linearly over the first warmupSteps steps, then follows the schedule', () => {
    const constant = adamOf({ warmupSteps: 10 });
    expect([1, 5, 10, 11, 80].map((s) => adamAt(constant, s, stepProgress(s, 101)).learningRate)).toEqual([
      1e-4, 5e-4, 1e-3, 1e-3, 1e-3,
    ]);
    expect(adamAt(constant, 1, 0)).not.toHaveProperty('warmupSteps');
    const cosine = adamOf({ warmupSteps: 4, schedule: 'cosine' });
    expect(adamAt(cosine, 2, 0.01).learningRate).toBeCloseTo(
      0.5 * adamAt(adamOf({ schedule: 'cosine' }), 2, 0.01).learningRate,
      12,
    );
    expect(adamAt(cosine, 101, 1).learningRate).toBeCloseTo(1e-4, 12);
    expect(() => adamOf({ warmupSteps: -1 })).toThrow(/rl\.adam\.warmupSteps/);
  });
});

describe('packedDatum', () => {
  // Two demonstrations: prompt (0), trained call (1), tool reply (0).
  const demo = (tokens: number[], lossMask: Array<0 | 1>) => ({
    tokens: Int32Array.from(tokens),
    lossMask: Uint8Array.from(lossMask),
  });
  const a = demo([10, 11, 12, 13, 14], [0, 1, 1, 0, 0]);
  const b = demo([20, 21, 22, 23], [0, 0, 1, 0]);

  it('plays demonstrations one after another, each with its loss mask, cut after the last trained token', () => {
    const d = packedDatum([a, b], 100);
    expect(d.modelInput.tokens).toEqual([10, 11, 12, 13, 14, 20, 21]);
    expect(d.lossFnInputs.target_tokens).toEqual([11, 12, 13, 14, 20, 21, 22]);
    expect(d.lossFnInputs.weights).toEqual([1, 1, 0, 0, 0, 0, 1]);
  });

  it('leaves out demonstrations past maxLength, keeping the first even when it alone is longer', () => {
    const d = packedDatum([a, b], 7);
    expect(d.modelInput.tokens).toEqual([10, 11]);
    expect(d.lossFnInputs.weights).toEqual([1, 1]);
    expect(packedDatum([a, b], 2).lossFnInputs.target_tokens).toEqual([11, 12]);
  });
});

describe('withTotalWeight', () => {
  it('scales loss weights to add up to the total over the batch, keeping their proportions and the tokens', () => {
    const demo = (tokens: number[], lossMask: number[]) => ({
      tokens: Int32Array.from(tokens),
      lossMask: Uint8Array.from(lossMask),
    });
    const a = packedDatum([demo([1, 2, 3, 4], [0, 1, 1, 1])], 100);
    const b = packedDatum([demo([5, 6, 7], [0, 1, 0])], 100);
    const [sa, sb] = withTotalWeight([a, b], 0.5);
    expect(sa!.lossFnInputs.weights).toEqual([0.125, 0.125, 0.125]);
    expect(sb!.lossFnInputs.weights).toEqual([0.125]);
    expect(sa!.modelInput.tokens).toEqual(a.modelInput.tokens);
    expect(a.lossFnInputs.weights).toEqual([1, 1, 1]);
  });
});

describe('turn-level credit', () => {
  /** An episode of two turns: tokens 0–1 prompt, 2–3 turn 0 (two calls), 4 its result, 5–6 turn 1 (one call). */
  const episode = (steps: number[] | undefined): Trajectory =>
    ({
      id: 'ep-1',
      tokens: Int32Array.of(1, 2, 3, 4, 5, 6, 7),
      lossMask: Uint8Array.of(0, 0, 1, 1, 0, 1, 1),
      logprobs: Float64Array.of(0, 0, -0.1, -0.2, 0, -0.3, -0.4),
      turns: [
        { sampled: { start: 2, end: 4 }, toolCalls: [{}, {}] },
        { sampled: { start: 5, end: 7 }, toolCalls: [{}] },
      ],
      reward: { total: 1, components: {}, weights: {}, info: {}, ...(steps ? { steps } : {}) },
    }) as unknown as Trajectory;

  it("sums each turn's step rewards over the calls it made, in order", () => {
    expect(turnRewards(episode([1, 0.5, 0]))).toEqual([1.5, 0]);
    expect(turnRewards(episode([0, 0, 1]))).toEqual([0, 1]);
  });

  it('names what to fix when the environment reports no step rewards, or a count that does not match the calls', () => {
    expect(() => turnRewards(episode(undefined))).toThrow(TrainConfigError);
    expect(() => turnRewards(episode(undefined))).toThrow(
      /episode ep-1 without reward\.steps; set rl\.turnCredit\.coef to 0/,
    );
    expect(() => turnRewards(episode([1, 1]))).toThrow(
      /episode ep-1 made 3 tool calls but its reward has 2 step rewards/,
    );
  });

  it("puts each turn's advantage on the tokens that turn sampled (next-token targets)", () => {
    const [datum] = rlData(episode([1, 1, 0]), [0.5, -2]);
    // Targets are tokens 1..6: turn 0 samples tokens 2–3, turn 1 tokens 5–6.
    expect(datum!.lossFnInputs.advantages).toEqual([0, 0.5, 0.5, 0, -2, -2]);
    expect(datum!.lossFnInputs.weights).toEqual([0, 1, 1, 0, 1, 1]);
    expect(rlData(episode([1, 1, 0]), 0.25)[0]!.lossFnInputs.advantages).toEqual([
      0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
    ]);
  });
});

describe('train (end to end, tiny)', () => {
  it('warm-up, two GRPO steps over the rollout engine, weights published, metrics to JSONL and the sink', async () => {
    const outDir = await tempDir('toolgym-train-');
    const config = parseTrainConfig({
      ...base,
      run: { name: 'smoke', seed: 1, outDir },
      // Enough warm-up that some episodes call tools, so the RL steps have signal and train.
      warmup: { ...base.warmup, steps: 60, adam: { learningRate: 0.01 } },
      // Turn-level credit from compose's step rewards: they must line up with every episode's turns.
      // KL to the policy RL starts from (the warm-up's), scored by a second learner every step.
      rl: {
        ...base.rl,
        groupSize: 4,
        demos: { warmup: 0.5 },
        turnCredit: { coef: 0.5, returns: 'sum' },
        kl: { coef: 0.05, estimator: 'k3' },
      },
    });
    const environment = (await discoverEnvironments()).make('compose', config.environment.options);
    const groups: Array<{ runId: string | undefined; size: number; step: number | undefined }> = [];
    const stepMetrics: Array<{ step: number; metrics: Record<string, number> }> = [];
    const result = await train({
      config,
      environment,
      log: () => {},
      sink: {
        onGroup: (g) =>
          void groups.push({
            runId: g.trajectories[0]?.runId,
            size: g.trajectories.length,
            step: g.trajectories[0]?.step,
          }),
        onStepMetrics: (m) => void stepMetrics.push(m),
      },
    });
    expect(result.rlSteps).toBe(2);
    expect(result.evals.map((e) => e.step)).toEqual([0, 1, 2]);
    expect(result.warmup?.steps).toBe(60);
    // Training groups of 4; every evaluation (steps 0, 1, 2) is in the store too, as run `<runId>-eval`.
    const evalGroups = groups.filter((g) => g.runId === `${result.runId}-eval`);
    expect(groups.filter((g) => g.runId === result.runId).every((g) => g.size === 4)).toBe(true);
    expect(new Set(evalGroups.map((g) => g.step))).toEqual(new Set([0, 1, 2]));
    expect(evalGroups).toHaveLength(3 * 4);
    const lines = await readMetrics(result.outDir);
    const rl = lines.filter((l) => l.phase === 'rl');
    expect(rl).toHaveLength(2);
    for (const key of [
      'reward/mean',
      'reward/pass_at_1',
      'reward/component/correct',
      'loss/policy',
      'loss/entropy',
      'loss/approx_kl',
      'loss/clip_fraction',
      'optim/grad_norm',
      'batch/zero_variance_share',
      'timing/trained_tokens_per_s',
      'timing/rollout_s',
      'timing/learner_s',
      'timing/publish_s',
      'memory/rss_mb',
      'memory/peak_rss_mb',
      'memory/learner_heap_mb',
    ]) {
      expect(rl[0]).toHaveProperty([key]);
    }
    // The learner's wasm heap lives in this process: the resident set holds it.
    expect(rl[1]!['memory/learner_heap_mb']).toBeGreaterThan(0);
    expect(rl[1]!['memory/peak_rss_mb']).toBeGreaterThanOrEqual(rl[1]!['memory/rss_mb']!);
    // rl.demos: every step that trained also took the warm-up demonstrations' cross-entropy.
    const trained = rl.filter((x) => x['batch/trained_sequences'] > 0);
    expect(trained.length).toBeGreaterThan(0);
    for (const l of trained) expect(l['loss/demo/warmup']).toBeGreaterThan(0);
    // rl.kl: the first step that trains still has the reference's weights (KL 0); a later one has moved away.
    expect(trained).toHaveLength(2);
    expect(trained[0]!['loss/kl_ref']).toBeCloseTo(0, 6);
    expect(trained[1]!['loss/kl_ref']).toBeGreaterThan(1e-6);
    // warm-up publish + one publish per RL step that trained
    expect(result.policyVersion).toBe(1 + trained.length);
    expect(stepMetrics.some((m) => 'eval/test/accuracy' in m.metrics)).toBe(true);
    // Each evaluation also reports the mean of every reward component, e.g. compose's `composed`
    // (right by composing), which can only be below `correct` (right by any route).
    for (const e of result.evals) {
      // compose has no test-iid split: eval.alsoOn's default leaves it out.
      expect(Object.keys(e.splits)).toEqual(['test']);
      const { components } = e.splits.test!;
      expect(Object.keys(components).sort()).toEqual(['composed', 'correct', 'progress', 'valid_calls']);
      expect(components.composed).toBeLessThanOrEqual(components.correct!);
    }
    const evalLines = lines.filter((l) => l.phase === 'eval');
    expect(evalLines).toHaveLength(3);
    for (const [i, l] of evalLines.entries())
      expect(l['eval/test/component/composed']).toBe(result.evals[i]!.splits.test!.components.composed);
    // toolTokens: the trained model's tokenizer spells every tool name as one token.
    const tools = environment.toolSpecs.map((t) => t.name);
    const finalModel = readModelDir(path.join(result.outDir, 'final-model'));
    // The warm-started policy is kept beside the final one (policy version 1: the warm-up's publish).
    expect(readModelDir(path.join(result.outDir, 'warmup-model')).toolgym?.policyVersion).toBe(1);
    expect(finalModel.toolgym?.extraTokens).toEqual(tools);
    // The model records the compact chat layout it was trained with (for `toolgym eval`).
    expect(finalModel.toolgym?.toolCalls).toBe('compact');
    expect(finalModel.chatTemplate).toBe(modelChat(parseTrainConfig(base).template)!.template);
    // …and the checkpoint records the extra tokens, so `toolgym learner publish` can rebuild that tokenizer.
    const checkpoint = await readLatestCheckpoint<{ extraTokens: string[] }>(
      path.join(result.outDir, 'checkpoints'),
    );
    expect(checkpoint?.state.extraTokens).toEqual(tools);
    expect(finalModel.toolgym?.decoder).toMatchObject({ vocabSize: 263 + tools.length, positions: 'rope' });
    expect(finalModel.tokenizer.encode('<tool_call>reverse:ab</tool_call>')).toEqual([
      259,
      263 + tools.indexOf('reverse'),
      58,
      97,
      98,
      260,
    ]);
  }, 180_000);
});

describe('policy.initFrom', () => {
  it('starts from the weights of a model directory, and names a decoder that does not match', async () => {
    const outDir = await tempDir('toolgym-init-');
    const source = path.join(outDir, 'source');
    const environment = (await discoverEnvironments()).make('compose', base.environment.options);
    const tools = environment.toolSpecs.map((t) => t.name);
    const decoder = {
      vocabSize: 263 + tools.length,
      layerNormEps: 1e-5,
      ...parseTrainConfig(base).policy.model,
    };
    const weights = initDecoderWeights(decoder, { seed: 42 });
    await writeDecoderModelDir(source, { config: decoder, weights, extraTokens: tools });
    const run = (model: Record<string, unknown>) =>
      train({
        config: parseTrainConfig({
          ...base,
          run: { name: 'init', outDir },
          policy: { model, initFrom: source },
          warmup: undefined,
          rl: { ...base.rl, steps: 0 },
        }),
        environment,
        log: () => {},
      });
    const result = await run(base.policy.model);
    const started = await readDecoderModelDir(path.join(result.outDir, 'model'));
    expect(started.weights['layers.0.attn.q.weight']).toEqual(weights['layers.0.attn.q.weight']);
    await expect(run({ ...base.policy.model, dModel: 32 })).rejects.toThrow(
      /policy\.initFrom: .*set policy\.model/,
    );
  }, 60_000);
});

describe('warmup.until', () => {
  it('stops the warm-up at the first check where the policy solves the share of its tasks, and names a bad rule', async () => {
    expect(() => parseTrainConfig({ ...base, warmup: { ...base.warmup, until: { passRate: 0 } } })).toThrow(
      /warmup\.until\.passRate/,
    );
    expect(() =>
      parseTrainConfig({ ...base, warmup: { ...base.warmup, until: { passRate: 0.5, evry: 5 } } }),
    ).toThrow(/warmup\.until\.evry/);
    const outDir = await tempDir('toolgym-until-');
    const config = parseTrainConfig({
      ...base,
      run: { name: 'until', outDir },
      warmup: {
        ...base.warmup,
        steps: 400,
        adam: { learningRate: 0.01, schedule: 'cosine' },
        until: { passRate: 0.25, every: 20, limit: 8 },
      },
      rl: { ...base.rl, steps: 0 },
    });
    const environment = (await discoverEnvironments()).make('compose', config.environment.options);
    const result = await train({ config, environment, log: () => {} });
    const metrics = (await readMetrics(result.outDir)).filter((m) => m.phase === 'warmup');
    const checks = metrics.filter((m) => 'eval/train/accuracy' in m);
    const stop = checks.at(-1)!;
    // A check every 20 steps until the first that reaches 25%, well before the 400 steps.
    expect(checks.map((c) => c.step)).toEqual(checks.map((_, i) => 20 * (i + 1)));
    expect(checks.slice(0, -1).every((c) => c['eval/train/accuracy'] < 0.25)).toBe(true);
    expect(stop['eval/train/accuracy']).toBeGreaterThanOrEqual(0.25);
    expect(stop.step).toBeLessThan(400);
    expect(Math.max(...metrics.map((m) => m.step))).toBe(stop.step);
    expect(result.warmup).toMatchObject({ steps: stop.step, passRate: stop['eval/train/accuracy'] });
    // The warm-up model is the policy that passed the check.
    expect(await weightOf(result.outDir, 'warmup-model')).toEqual(
      await weightOf(result.outDir, 'final-model'),
    );

    // The learning rate follows the cosine schedule over the 400 steps, not over the steps taken.
    for (const line of metrics.filter((m) => 'loss/cross_entropy' in m))
      expect(line['optim/learning_rate']).toBeCloseTo(
        adamAt(config.warmup!.adam, line.step, stepProgress(line.step, 400)).learningRate,
        12,
      );
  }, 120_000);
});

describe('rl.timeBudgetMinutes', () => {
  it('stops RL when its training time runs out and says so, never bends the schedule, and a resumed run has no step left', async () => {
    const outDir = await tempDir('toolgym-budget-');
    const config = parseTrainConfig({
      ...base,
      run: { name: 'budget', outDir },
      rl: {
        ...base.rl,
        steps: 1000,
        timeBudgetMinutes: 0.1,
        // Every episode has a nonzero advantage under W-REINFORCE, and the untrained policy's episodes,
        // cut at maxTokens, are kept: so every step trains, at its scheduled rate.
        algorithm: 'w-reinforce',
        overlongFilter: false,
        adam: { learningRate: 1e-3, schedule: 'wsd', decayFraction: 1 },
      },
      eval: { ...base.eval, every: 1000 },
    });
    const environment = (await discoverEnvironments()).make('compose', config.environment.options);
    const result = await train({ config, environment, log: () => {} });
    expect(result.rlSteps).toBeGreaterThan(1);
    expect(result.rlSteps).toBeLessThan(1000);
    expect(result.rlSeconds).toBeGreaterThan(6);
    expect(result.stoppedBy).toBe('time-budget');
    // Evaluated before RL and at the step where time ran out.
    expect(result.evals.map((e) => e.step)).toEqual([0, result.rlSteps]);
    const rates = (await readMetrics(result.outDir))
      .filter((m) => m.phase === 'rl')
      .map((m) => ({
        step: m.step as number,
        rate: m['optim/learning_rate'] as number,
        trained: (m['batch/trained_sequences'] as number) > 0,
      }));
    expect(rates.map((r) => r.step)).toEqual(rates.map((_, i) => i + 1));
    // The schedule runs over the 1000 steps whatever the clock says: the rate at each step is the
    // one a run without a budget has there.
    for (const r of rates) {
      expect(r.trained).toBe(true);
      expect(r.rate).toBe(adamAt(config.rl.adam, r.step, stepProgress(r.step, 1000)).learningRate);
    }

    // The last step was checkpointed with the clock: resuming finds the budget spent.
    const again = await train({ config, environment, log: () => {}, resume: true });
    expect(again.rlSteps).toBe(result.rlSteps);
    expect(again.stoppedBy).toBe('time-budget');
    expect(Math.abs(again.rlSeconds - result.rlSeconds)).toBeLessThan(1);
    expect((await readMetrics(result.outDir)).filter((m) => m.phase === 'rl')).toHaveLength(rates.length);
  }, 120_000);
});

describe('pretrain', () => {
  const options = { functions: ['rotate_left', 'drop_first'] };
  /** The run's environment, and the one pretraining plays: the same with `options`. */
  const environmentsOf = async (config: TrainConfig) => {
    const environments = await discoverEnvironments();
    return {
      environment: environments.make('compose', config.environment.options),
      pretrainEnvironment: environments.make('compose', { ...config.environment.options, ...options }),
    };
  };
  it("trains on the oracle's demonstrations of the environment with its options, and RL's Adam starts afresh from the result", async () => {
    const outDir = await tempDir('toolgym-pretrain-');
    const config = parseTrainConfig({
      ...base,
      run: { name: 'pre', outDir },
      // A check the tiny policy cannot pass: it plays the other functions' tasks every 2 steps.
      pretrain: {
        options,
        tasks: { split: 'train', meta: { depth: 2 } },
        steps: 4,
        batchSize: 4,
        pack: 2,
        until: { passRate: 1, every: 2, limit: 3 },
      },
      warmup: undefined,
      rl: { ...base.rl, steps: 0 },
    });
    const { environment, pretrainEnvironment } = await environmentsOf(config);
    const lines: string[] = [];
    const result = await train({ config, environment, pretrainEnvironment, log: (l) => lines.push(l) });
    // The demonstrations are the other functions' depth-2 tasks (the oracle solves every one).
    const tasks = (await pretrainEnvironment.tasksOf('train')).filter((t) => t.meta?.depth === 2);
    const chains = tasks.map((t) => t.meta!.chain as string[]);
    expect(chains.flat().every((f) => options.functions.includes(f))).toBe(true);
    expect(lines).toContain(
      `pretrain: ${tasks.length} oracle demonstrations, 4 steps of 4 sequences of up to 2 packed demonstrations, or until it solves 100% of its tasks`,
    );
    expect(result.pretrain).toMatchObject({ steps: 4, passRate: 0 });
    const metrics = await readMetrics(result.outDir);
    const pretrainLines = metrics.filter((m) => m.phase === 'pretrain');
    expect(pretrainLines.filter((m) => 'loss/cross_entropy' in m).map((m) => m.step)).toEqual([4]);
    expect(pretrainLines.filter((m) => 'eval/train/accuracy' in m).map((m) => m.step)).toEqual([2, 4]);
    // Pretraining moved the weights; RL starts from them with fresh Adam moments (learner step 0).
    const read = (model: string) => weightOf(result.outDir, model);
    expect(await read('pretrain-model')).not.toEqual(await read('model'));
    expect(await read('final-model')).toEqual(await read('pretrain-model'));
    const checkpoint = await readLatestCheckpoint<{ learnerStep: number }>(
      path.join(result.outDir, 'checkpoints'),
    );
    expect(checkpoint?.state.learnerStep).toBe(0);
  }, 60_000);

  it('with no steps, only supplies its demonstrations to RL (rl.demos.pretrain, as PPO-ptx)', async () => {
    const outDir = await tempDir('toolgym-pretrain-');
    const config = parseTrainConfig({
      ...base,
      run: { name: 'ptx', outDir },
      pretrain: { options, tasks: { split: 'train', meta: { depth: 2 } }, steps: 0, batchSize: 2 },
      // Enough warm-up that RL's groups differ in reward, so its steps train.
      warmup: { ...base.warmup, steps: 60, adam: { learningRate: 0.01 } },
      rl: {
        ...base.rl,
        tasks: { split: 'train', meta: { depth: 1 } },
        steps: 2,
        groupSize: 4,
        demos: { pretrain: 0.5 },
      },
    });
    const { environment, pretrainEnvironment } = await environmentsOf(config);
    const result = await train({ config, environment, pretrainEnvironment, log: () => {} });
    expect(result.pretrain).toBeUndefined();
    await expect(readdir(result.outDir)).resolves.not.toContain('pretrain-model');
    const metrics = await readMetrics(result.outDir);
    const rl = metrics.filter((m) => m.phase === 'rl' && m['batch/trained_sequences'] > 0);
    expect(rl.length).toBeGreaterThan(0);
    for (const l of rl) expect(l['loss/demo/pretrain']).toBeGreaterThan(0);
    expect(metrics.some((m) => m.phase === 'pretrain' || 'loss/demo/warmup' in m)).toBe(false);
  }, 60_000);

  it("names a missing pretraining environment, and one whose tools are not the policy's, before writing anything", async () => {
    const outDir = await tempDir('toolgym-pretrain-');
    const environments = await discoverEnvironments();
    const config = parseTrainConfig({
      ...base,
      run: { name: 'bad', outDir },
      pretrain: { options: {}, tasks: { split: 'train' }, steps: 1 },
      rl: { ...base.rl, steps: 0 },
    });
    const environment = environments.make('compose', config.environment.options);
    await expect(train({ config, environment, log: () => {} })).rejects.toThrow(
      /pretrain section: pass pretrainEnvironment/,
    );
    await expect(
      train({ config, environment, pretrainEnvironment: environments.make('sql', {}), log: () => {} }),
    ).rejects.toThrow(/pretrain\.options change the environment's tools \(list_tables, describe_table/);
    await expect(readdir(outDir)).resolves.toEqual([]);
  });
});

describe('environment.endpoints', () => {
  it('plays the RL episodes on the servers of a pool, and refuses servers of another environment before the run starts', async () => {
    const { serveHttp } = await import('@toolgym/env-kit');
    const environment = (await discoverEnvironments()).make('compose', base.environment.options);
    // The servers' own copy, which counts the episodes it opens: none may be played in process.
    const served = (await discoverEnvironments()).make('compose', base.environment.options);
    let servedEpisodes = 0;
    const openEpisode = served.openEpisode.bind(served);
    served.openEpisode = (params) => {
      servedEpisodes++;
      return openEpisode(params);
    };
    process.env.TOOLGYM_TEST_POOL_TOKEN = 'pool-trainer';
    const servers = [
      await serveHttp(served, { port: 0, trainerToken: 'pool-trainer' }),
      await serveHttp(served, { port: 0, trainerToken: 'pool-trainer' }),
    ];
    // A server of another environment.
    const { defineEnvironment, Environment, weightedReward } = await import('@toolgym/env-kit');
    const { z } = await import('zod');
    const echo = defineEnvironment({
      id: 'echo',
      version: 1,
      description: 'One tool.',
      config: z.object({}),
      tasks: () => [{ id: 'a', split: 'train', prompt: 'echo', meta: {} }],
      tools: {
        echo: { description: 'Echo.', input: z.object({ text: z.string() }), run: ({ text }) => text },
      },
      setup: () => ({}),
      grade: () => weightedReward({}, {}),
      rewardRange: [0, 1],
    });
    const other = await serveHttp(new Environment(echo, echo.parseConfig({})), { port: 0 });
    try {
      const outDir = await tempDir('toolgym-train-pool-');
      const withEndpoints = (endpoints: string[]) =>
        parseTrainConfig({
          ...base,
          run: { name: 'pool', seed: 2, outDir },
          environment: { ...base.environment, endpoints, tokenEnv: 'TOOLGYM_TEST_POOL_TOKEN' },
          warmup: { ...base.warmup, steps: 0 },
          rl: { ...base.rl, steps: 1 },
        });
      expect(() => withEndpoints(['not a url'])).toThrow(/environment\.endpoints/);
      await expect(train({ config: withEndpoints([other.url]), environment, log: () => {} })).rejects.toThrow(
        /environment\.endpoints serve 'echo' with tools echo, not the run's 'compose'/,
      );
      const trajectories: Trajectory[] = [];
      const result = await train({
        config: withEndpoints(servers.map((s) => s.url)),
        environment,
        log: () => {},
        sink: { onGroup: (g) => void trajectories.push(...g.trajectories) },
      });
      expect(result.rlSteps).toBe(1);
      // Every episode the run played (the RL step's and the evaluations') was played on the servers.
      expect(trajectories.length).toBeGreaterThanOrEqual(base.rl.tasksPerStep * base.rl.groupSize);
      expect(servedEpisodes).toBe(trajectories.length);
      // An untrained model may fail its own episodes; none failed for want of an environment.
      expect(trajectories.filter((t) => t.failure?.code.startsWith('environment_'))).toEqual([]);
    } finally {
      await Promise.all([...servers, other].map((s) => s.close()));
    }
  }, 300_000);
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { episodePassed } from '@toolgym/agents';
import { discoverEnvironments, Environment } from '@toolgym/env-kit';
import type { Task, Trajectory } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig, TrainConfigError } from './config.ts';
import { holdOutValidation } from './evaluation.ts';
import { train } from './train.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const options = {
  functions: ['reverse', 'upper', 'double', 'rotate_left'],
  depths: [1, 2],
  tasksPerDepth: 40,
  alphabet: 'ab',
  minLength: 2,
  maxLength: 3,
  heldOutPairFraction: 0.25,
};
const pairsOf = (task: Task) => task.meta.pairs as string[];

/**
 * compose as an environment that declares its held-out unit (the ordered function pairs of a chain)
 * and has a `test-iid` split: every fourth depth-2 train task, an unseen instance of a seen pair.
 */
async function composeWithSplits(): Promise<Environment> {
  const compose = (await discoverEnvironments()).make('compose', options);
  const definition = compose.definition;
  return new Environment(
    {
      ...definition,
      tasks: async (config) =>
        (await definition.tasks(config)).map((t, i) =>
          t.split === 'train' && t.meta.depth === 2 && i % 4 === 0 ? { ...t, split: 'test-iid' as const } : t,
        ),
      heldOut: () => ({ unit: 'function-pair', unitsOf: pairsOf }),
    },
    compose.config,
  );
}

describe('evaluation per split and per held-out unit', () => {
  it('reports test and test-iid, and each held-out pair of the test tasks, in result.json and the metrics', async () => {
    const environment = await composeWithSplits();
    const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-eval-'));
    dirs.push(outDir);
    const config = parseTrainConfig({
      run: { name: 'splits', outDir },
      environment: { id: 'compose', options },
      policy: { model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxPositions: 128 } },
      rl: { tasks: { split: 'train', meta: { depth: 2 } }, steps: 0 },
      eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 12 } },
      maxTurns: 3,
    });
    const played: Trajectory[] = [];
    const result = await train({
      config,
      environment,
      log: () => {},
      sink: { onGroup: (g) => void played.push(...g.trajectories.filter((t) => t.runId?.endsWith('-eval'))) },
    });
    const point = result.evals[0]!;
    expect(Object.keys(point.splits)).toEqual(['test', 'test-iid']);
    const { test, 'test-iid': iid } = point.splits;
    expect(point.accuracy).toBe(test!.accuracy);
    expect(test!.episodes).toBe(12);
    const iidTasks = (await environment.tasksOf('test-iid')).filter((t) => t.meta.depth === 2);
    expect(iidTasks.length).toBeGreaterThan(0);
    expect(iid!.episodes).toBe(Math.min(12, iidTasks.length));
    expect(iid!.units).toBeUndefined();

    // Each held-out pair (one that no train task has) of the 12 test tasks, over the episodes that have it.
    const tasks = await environment.tasks();
    const trained = new Set(tasks.filter((t) => t.split === 'train').flatMap(pairsOf));
    const testTasks = (await environment.tasksOf('test')).filter((t) => t.meta.depth === 2).slice(0, 12);
    const episodes = played.filter((t) => testTasks.some((task) => task.id === t.taskId));
    expect(episodes).toHaveLength(12);
    const expected: Record<string, { accuracy: number; episodes: number }> = {};
    for (const unit of [...new Set(testTasks.flatMap(pairsOf))].filter((u) => !trained.has(u)).sort()) {
      const mine = episodes.filter((t) =>
        pairsOf(testTasks.find((task) => task.id === t.taskId)!).includes(unit),
      );
      expected[unit] = {
        accuracy: mine.filter((t) => episodePassed(t)).length / mine.length,
        episodes: mine.length,
      };
    }
    expect(Object.keys(expected).length).toBeGreaterThan(1);
    expect(test!.units).toEqual(expected);

    const lines = (await readFile(path.join(result.outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    const evalLine = JSON.parse(lines.find((l) => l.includes('"phase":"eval"'))!);
    expect(evalLine['eval/test-iid/episodes']).toBe(iid!.episodes);
    for (const [unit, u] of Object.entries(expected))
      expect(evalLine[`eval/test/unit/${unit}`]).toBe(u.accuracy);
    const saved = JSON.parse(await readFile(path.join(result.outDir, 'result.json'), 'utf8'));
    expect(saved.evals[0].splits.test.units).toEqual(expected);
  }, 60_000);

  it('evaluates test-iid alongside by default, and names a split that does not exist', async () => {
    const base = {
      environment: { id: 'compose' },
      rl: { tasks: { split: 'train' } },
      eval: { tasks: { split: 'test' } },
    };
    expect(parseTrainConfig(base).eval.alsoOn).toEqual(['test-iid']);
    expect(() => parseTrainConfig({ ...base, eval: { ...base.eval, alsoOn: ['valid'] } })).toThrow(
      /eval\.alsoOn\.0/,
    );
  });
});

describe('holdOutValidation', () => {
  const tasks = Array.from({ length: 50 }, (_, i) => ({
    id: `t${i}`,
    split: 'train' as const,
    prompt: `task ${i}`,
    meta: {},
  }));

  it('holds out the same tasks whatever their order, and never trains on them', () => {
    const { train: rest, validation } = holdOutValidation(tasks, 5);
    expect(validation).toHaveLength(5);
    expect(rest).toHaveLength(45);
    expect(rest.filter((t) => validation.includes(t))).toEqual([]);
    const reversed = holdOutValidation([...tasks].reverse(), 5);
    expect(reversed.validation.map((t) => t.id).sort()).toEqual(validation.map((t) => t.id).sort());
    // The rest keeps RL's order.
    expect(rest.map((t) => t.id)).toEqual(tasks.filter((t) => !validation.includes(t)).map((t) => t.id));
    expect(holdOutValidation(tasks, 0)).toEqual({ train: tasks, validation: [] });
  });

  it('names a hold-out that leaves nothing to train on', () => {
    expect(() => holdOutValidation(tasks, 50)).toThrow(TrainConfigError);
    expect(() => holdOutValidation(tasks, 50)).toThrow(/leaving none to train on/);
  });
});

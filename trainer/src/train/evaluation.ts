/**
 * Evaluation: the policy plays `eval.tasks` greedily (as `eval.sampling` says), and the same filter
 * on each split of `eval.alsoOn` the environment has; on the `test` split of an environment that
 * declares what it holds out (`heldOut`), accuracy is also reported per held-out unit. Its episodes
 * go to the rollout sink as run `<runId>-eval`, with seeds of their own, so evaluating never moves
 * the training episodes' seeds.
 */
import { episodePassed, meanComponents } from '@toolgym/agents';
import type { Environment } from '@toolgym/env-kit';
import { hashString, type Split, type Task, type Trajectory, taskMatchesMeta } from '@toolgym/protocol';
import { type TaskFilter, TrainConfigError } from './config.ts';
import { evalMetrics } from './metrics.ts';
import type { TrainingRun } from './run.ts';
import { samplingOf } from './sampling.ts';
import type { EvalPoint, SplitEval } from './train-result.ts';

/**
 * Evaluates the policy as it is after `step` RL steps and writes the metrics; with validation tasks,
 * keeps the policy as `<run>/best-model` when they do better than at any evaluation before.
 */
export type Evaluator = (step: number) => Promise<EvalPoint>;

/**
 * RL's tasks split into those it trains on and the `count` held out to choose the best checkpoint
 * (`eval.validationTasks`): the lowest by a hash of their id, so the same for every seed and order.
 */
export function holdOutValidation(
  tasks: readonly Task[],
  count: number,
): { train: Task[]; validation: Task[] } {
  if (count === 0) return { train: [...tasks], validation: [] };
  if (count >= tasks.length)
    throw new TrainConfigError(
      `eval.validationTasks holds out ${count} of RL's ${tasks.length} tasks, leaving none to train on`,
      'hold out fewer tasks, or widen rl.tasks',
    );
  const rank = (t: Task) => hashString(`validation:${t.id}`);
  const held = new Set(
    [...tasks].sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : 1)).slice(0, count),
  );
  return { train: tasks.filter((t) => !held.has(t)), validation: tasks.filter((t) => held.has(t)) };
}

/** RL's tasks (`rl.tasks`) and the validation tasks held out of them. */
export async function rlTasks(
  run: Pick<TrainingRun, 'config' | 'environment'>,
): Promise<{ train: Task[]; validation: Task[] }> {
  return holdOutValidation(
    await selectTasks(run.environment, run.config.rl.tasks),
    run.config.eval.validationTasks,
  );
}

/** Tasks of a split whose meta matches the filter; none is a configuration error. */
export async function selectTasks(environment: Environment, filter: TaskFilter): Promise<Task[]> {
  const tasks = await matchingTasks(environment, filter);
  if (tasks.length === 0)
    throw new TrainConfigError(
      `no ${filter.split} tasks match ${JSON.stringify(filter.meta)}`,
      'loosen the meta filter, or list the tasks with `toolgym env tasks <env> --split <split> --json`',
    );
  return tasks;
}

async function matchingTasks(environment: Environment, filter: TaskFilter): Promise<Task[]> {
  const tasks = (await environment.tasksOf(filter.split)).filter((task) =>
    taskMatchesMeta(task, filter.meta),
  );
  return filter.limit > 0 ? tasks.slice(0, filter.limit) : tasks;
}

/** The share of episodes that passed. */
export const passShare = (trajectories: readonly Trajectory[]): number =>
  trajectories.filter((t) => episodePassed(t)).length / Math.max(1, trajectories.length);

export async function createEvaluator(run: TrainingRun): Promise<Evaluator> {
  const { config, evalEnvironment: environment } = run;
  const seed = config.run.seed;
  const headline = config.eval.tasks;
  const splits: Array<{ split: Split; tasks: Task[]; seedKey: (step: number) => string }> = [
    {
      split: headline.split,
      tasks: await selectTasks(environment, headline),
      seedKey: (step) => `eval:${seed}:${step}`,
    },
  ];
  for (const split of config.eval.alsoOn) {
    if (splits.some((s) => s.split === split)) continue;
    const tasks = await matchingTasks(environment, { ...headline, split });
    if (tasks.length > 0) splits.push({ split, tasks, seedKey: (step) => `eval:${split}:${seed}:${step}` });
  }
  const unitsOf = await heldOutUnits(environment);
  const { validation } = await rlTasks(run);
  const sampling = samplingOf(config.eval.sampling, run.sampling);
  const play = async (tasks: readonly Task[], step: number, seedKey: string) => {
    const { groups } = await run.play(
      run.policy,
      tasks.map((t) => t.id),
      1,
      sampling,
      {
        step,
        sink: run.sink,
        runId: `${run.runId}-eval`,
        baseSeed: hashString(seedKey),
        ...(environment !== run.environment ? { environment } : {}),
      },
    );
    const trajectories = groups.flatMap((g) => g.trajectories);
    return {
      trajectories,
      result: {
        accuracy: passShare(trajectories),
        episodes: trajectories.length,
        components: meanComponents(trajectories),
      } satisfies SplitEval,
    };
  };

  return async (step) => {
    const t0 = performance.now();
    const results: EvalPoint['splits'] = {};
    for (const { split, tasks, seedKey } of splits) {
      const { trajectories, result } = await play(tasks, step, seedKey(step));
      results[split] = {
        ...result,
        ...(unitsOf && split === 'test' ? { units: accuracyByUnit(trajectories, tasks, unitsOf) } : {}),
        ...(config.eval.by.length > 0 ? { by: evalByMeta(trajectories, tasks, config.eval.by) } : {}),
      };
    }
    const held =
      validation.length > 0
        ? (await play(validation, step, `eval:validation:${seed}:${step}`)).result
        : undefined;
    const point: EvalPoint = {
      step,
      accuracy: results[headline.split]!.accuracy,
      splits: results,
      ...(held ? { validation: held } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
    await run.metrics.write(step, 'eval', { ...evalMetrics(point), 'timing/eval_s': point.seconds });
    if (held && (run.result.best === undefined || held.accuracy > run.result.best.validation)) {
      run.result.best = { step, validation: held.accuracy, accuracy: point.accuracy };
      await run.saveModel('best-model');
    }
    return point;
  };
}

/**
 * The units of a task that no train task has, for an environment that declares what its `test`
 * split holds out (`heldOut`); undefined for one that does not.
 */
async function heldOutUnits(environment: Environment): Promise<((task: Task) => string[]) | undefined> {
  const heldOut = environment.definition.heldOut?.(environment.config);
  if (!heldOut) return undefined;
  const trained = new Set((await environment.tasksOf('train')).flatMap((t) => heldOut.unitsOf(t)));
  return (task) => heldOut.unitsOf(task).filter((unit) => !trained.has(unit));
}

/** Accuracy over the episodes whose task has each unit, units in sorted order. */
function accuracyByUnit(
  trajectories: readonly Trajectory[],
  tasks: readonly Task[],
  unitsOf: (task: Task) => string[],
): NonNullable<SplitEval['units']> {
  const taskById = new Map(tasks.map((t) => [t.id, t]));
  const byUnit = new Map<string, Trajectory[]>();
  for (const t of trajectories) {
    const task = taskById.get(t.taskId);
    for (const unit of task ? unitsOf(task) : []) byUnit.set(unit, [...(byUnit.get(unit) ?? []), t]);
  }
  return Object.fromEntries(
    [...byUnit.keys()].sort().map((unit) => {
      const episodes = byUnit.get(unit)!;
      return [unit, { accuracy: passShare(episodes), episodes: episodes.length }];
    }),
  );
}

/**
 * The episodes grouped by their task's values of the `keys` of its meta (`kuhn-poker/random` for
 * `[game, opponent]`; a missing value is `-`), groups in sorted order.
 */
export function evalByMeta(
  trajectories: readonly Trajectory[],
  tasks: readonly Task[],
  keys: readonly string[],
): NonNullable<SplitEval['by']> {
  const taskById = new Map(tasks.map((t) => [t.id, t]));
  const groups = new Map<string, Trajectory[]>();
  for (const t of trajectories) {
    const meta = taskById.get(t.taskId)?.meta ?? {};
    const group = keys.map((k) => String(meta[k] ?? '-')).join('/');
    groups.set(group, [...(groups.get(group) ?? []), t]);
  }
  return Object.fromEntries(
    [...groups.keys()].sort().map((group) => {
      const episodes = groups.get(group)!;
      const reward = episodes.reduce((a, t) => a + t.reward.total, 0) / episodes.length;
      return [
        group,
        { accuracy: passShare(episodes), episodes: episodes.length, reward, components: meanComponents(episodes) },
      ];
    }),
  );
}

/** `accuracy on test 12.5% (composed 0.090, correct 0.125, …, 200 episodes); on test-iid 40.0% (…)`. */
export function describeEval(point: EvalPoint): string {
  const splits = Object.entries(point.splits).map(([split, e]) => {
    const components = Object.entries(e.components).map(([n, v]) => `${n} ${v.toFixed(3)}`);
    const groups = Object.entries(e.by ?? {}).map(
      ([group, g]) => `${group} ${(g.accuracy * 100).toFixed(1)}% reward ${g.reward.toFixed(3)}`,
    );
    return (
      `on ${split} ${(e.accuracy * 100).toFixed(1)}% (${[...components, `${e.episodes} episodes`].join(', ')})` +
      (groups.length > 0 ? ` [${groups.join('; ')}]` : '')
    );
  });
  return `accuracy ${splits.join('; ')}`;
}

/**
 * The data-selection phase of 1-shot RLVR (`rl.tasks.select`, Wang et al. 2025): a warm-up of RL
 * steps over all of RL's tasks, `epochs` passes each in a shuffled order, records each task's
 * accuracy at every pass; the tasks whose accuracy varied most are those RL then trains on. The
 * learner and the policy then go back to where the warm-up started, so RL on the chosen tasks
 * starts where RL without selection would, as the paper's 1-shot runs start from the base model
 * and not from the run that ranked the examples. Its episodes go to the sink as run
 * `<runId>-selection`, its metrics to metrics.jsonl as phase `selection`.
 */
import { episodePassed } from '@toolgym/agents';
import type { Task } from '@toolgym/protocol';
import { rankByAccuracyVariance } from '../algorithms/data-selection.ts';
import type { TrainConfig } from './config.ts';
import { rlStepMetrics } from './rl-metrics.ts';
import { collect, learn, type RlSetup, score } from './rl-step.ts';
import type { TrainingRun } from './run.ts';
import type { TaskSelection } from './train-result.ts';

type Select = NonNullable<TrainConfig['rl']['tasks']['select']>;

/** Runs the selection warm-up on `tasks` and returns what it chose (`result.selection`). */
export async function selectTasksByVariance(
  run: TrainingRun,
  setup: RlSetup,
  tasks: readonly Task[],
  select: Select,
): Promise<TaskSelection> {
  const start = await run.learner.saveState();
  // Every task once per epoch, each epoch in its own order; refills (dynamic sampling) take the next.
  const order = Array.from({ length: select.epochs }, () =>
    shuffled(
      tasks.map((t) => t.id),
      run,
    ),
  );
  const sequence = order.flat();
  let next = 0;
  const warmup: RlSetup = {
    ...setup,
    sinkRunId: `${run.runId}-selection`,
    draw: (count) => {
      const ids = sequence.slice(next, next + count);
      next += ids.length;
      return ids;
    },
  };
  const accuracies = new Map<string, number[]>(tasks.map((t) => [t.id, []]));
  run.log(
    `task selection: ${select.epochs} passes over ${tasks.length} tasks, then RL on the ${select.top} whose accuracy varied most`,
  );
  let step = 0;
  while (next < sequence.length) {
    step++;
    const stepStart = performance.now();
    const batch = await score(warmup, await collect(warmup, step), step);
    // A task's accuracy at this visit: the share of its episodes this step that passed.
    const outcomes = new Map<string, number[]>();
    for (const t of batch.played)
      outcomes.set(t.taskId, [...(outcomes.get(t.taskId) ?? []), episodePassed(t) ? 1 : 0]);
    for (const [taskId, passed] of outcomes)
      accuracies.get(taskId)!.push(passed.reduce((a, b) => a + b, 0) / passed.length);
    const learned = await learn(warmup, step, batch.data);
    if (batch.data.length > 0) await run.publish();
    const timing = { learnerMs: learned.ms, publishMs: 0, stepMs: performance.now() - stepStart };
    const metrics = rlStepMetrics(batch, learned, timing, { version: run.policy.version, lag: 0 });
    await run.metrics.write(step, 'selection', metrics);
  }
  const history = tasks.map((t) => ({ taskId: t.id, accuracies: accuracies.get(t.id)! }));
  const chosen = rankByAccuracyVariance(history).slice(0, select.top);
  run.log(
    `task selection: chose ${chosen.map((c) => `${c.taskId} (variance ${c.variance.toFixed(3)})`).join(', ')}`,
  );
  await run.learner.loadState(start);
  await run.publish();
  return { steps: step, tasks: chosen };
}

/** Fisher–Yates with the run's rng. */
function shuffled<T>(items: T[], run: TrainingRun): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = run.rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * The RL phase: steps of `rl-step.ts` until `rl.steps`, or until the time budget runs out, each
 * followed by publishing the new weights to the policy, its metrics, an evaluation every
 * `eval.every` steps and a checkpoint. With `rl.asyncLevel` 1 the next step's episodes play while
 * the learner trains on this step's, with the weights from before it (prime-rl's `async_level`).
 */
import path from 'node:path';
import { type Task, type TaskSeat, taskSeatOf } from '@toolgym/protocol';
import type { LoadedCheckpoint } from '../checkpoint/checkpoint.ts';
import { learnerStateFromTensors } from '../checkpoint/learner-state-tensors.ts';
import type { LearnerState } from '../learner/learner.ts';
import { TrainConfigError } from './config.ts';
import { describeEval, type Evaluator, rlTasks } from './evaluation.ts';
import { memoryMetrics } from './memory-metrics.ts';
import { evalMetrics } from './metrics.ts';
import { weightsFrom } from './policy-model.ts';
import { rlLossConfig } from './rl-loss.ts';
import { rlStepMetrics } from './rl-metrics.ts';
import { collect, drawFrom, learn, type Played, type RlSetup, score } from './rl-step.ts';
import { createPrime } from './prime.ts';
import { createRlprScorer } from './rlpr.ts';
import type { TrainingRun } from './run.ts';
import type { Demonstrations } from './supervised.ts';
import { selectTasksByVariance } from './task-selection.ts';
import {
  type InFlight,
  playInFlightAgain,
  type TrainCheckpointState,
  writeTrainCheckpoint,
} from './train-checkpoint.ts';

/** RL from where the run stands (after its supervised phases, or at a resumed checkpoint's step). */
export async function trainRl(
  run: TrainingRun,
  evaluate: Evaluator,
  demos: Demonstrations,
  resumed: LoadedCheckpoint<TrainCheckpointState> | undefined,
): Promise<void> {
  const { config, result } = run;
  const rl = config.rl;
  const clock = new RlClock();
  const budgetMs = rl.timeBudgetMinutes * 60_000;
  const outOfTime = () => budgetMs > 0 && clock.ms() > budgetMs;
  const { train: tasks } = await rlTasks(run);
  let setup = await setUpRl(run, demos, tasks, resumed);
  const select = rl.tasks.select;
  if (select) {
    // A resumed run has the selection in its result.
    result.selection ??= await selectTasksByVariance(run, setup, tasks, select);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    setup = {
      ...setup,
      draw: drawFrom(
        run,
        await rlDraws(
          run,
          result.selection.tasks.map((c) => byId.get(c.taskId)!),
        ),
      ),
    };
  }
  /** With asyncLevel 1: what the episodes playing during a learner step are played with. */
  let inFlight: InFlight | undefined;
  const startCollect = (step: number): Promise<Played> => {
    inFlight =
      rl.asyncLevel > 0
        ? {
            rng: run.rng.saveState(),
            rolloutSeed: run.rolloutSeed,
            policyVersion: run.policy.version,
            published: run.published,
          }
        : undefined;
    return collect(setup, step);
  };
  if (rl.asyncLevel > 0)
    run.log(
      "RL: each step's episodes play during the previous step's learner step, on the same cores: rollout_s overlaps the previous learner_s, and the parts add up to more than step_s",
    );
  try {
    clock.start(resumed?.state.rlTrainingMs ?? 0);
    const firstStep = (resumed?.state.rlStep ?? 0) + 1;
    // A run resumed after its time budget ran out has no step left.
    const lastStep = outOfTime() ? firstStep - 1 : rl.steps;
    let next: Promise<Played> | undefined;
    if (resumed?.state.inFlight && firstStep <= lastStep)
      next = Promise.resolve(await playInFlightAgain(run, resumed, () => startCollect(firstStep)));

    if (lastStep < firstStep && lastStep < rl.steps) result.stoppedBy = 'time-budget';
    for (let step = firstStep; step <= lastStep; step++) {
      if (run.signal?.aborted) {
        result.stoppedBy = 'signal';
        break;
      }
      const stepStart = performance.now();
      // (1) This step's episodes: played now, or during the last learner step.
      const played = await (next ?? startCollect(step));
      next = undefined;
      inFlight = undefined;
      // (2) Their rewards and advantages, before the learner moves on.
      const batch = await score(setup, played, step);
      // (3) The learner's step, in its own threads; with asyncLevel 1 the next step's episodes play meanwhile.
      const learning = learn(setup, step, batch.data); // first: it draws its demonstrations now
      if (rl.asyncLevel > 0 && step < rl.steps) next = startCollect(step + 1);
      const [learned] = await Promise.all([learning, next]);
      // (4) The new weights go to the policy once both are done.
      const lag = run.policy.version - batch.policyVersion;
      const publishStart = performance.now();
      if (batch.data.length > 0) await run.publish();
      const publishMs = performance.now() - publishStart;
      result.rlSteps = step;
      // (5) Metrics, an evaluation now and then (off RL's clock), a checkpoint.
      const timing = { learnerMs: learned.ms, publishMs, stepMs: performance.now() - stepStart };
      const metrics = rlStepMetrics(
        batch,
        learned,
        timing,
        { version: run.policy.version, lag },
        config.environment.feedback,
      );
      const budgetSpent = outOfTime();
      const evaluated =
        step % config.eval.every === 0 || step === rl.steps || budgetSpent
          ? await clock.pausedFor(() => evaluate(step))
          : undefined;
      if (evaluated) {
        result.evals.push(evaluated);
        Object.assign(metrics, evalMetrics(evaluated));
      }
      Object.assign(metrics, await memoryMetrics(run.learner));
      await run.metrics.write(step, 'rl', metrics);
      run.log(describeStep(step, rl.steps, metrics));
      if (evaluated) run.log(`eval at step ${step}: ${describeEval(evaluated)}`);
      await writeTrainCheckpoint(run, step, {
        outOfTime: budgetSpent,
        inFlight,
        rlTrainingMs: clock.ms(),
        rlprEma: setup.rlpr?.ema,
        prm: setup.prime?.prm,
      });
      if (budgetSpent && step < rl.steps) {
        result.stoppedBy = 'time-budget';
        run.log(
          `RL stopped by its safety stop, ${rl.timeBudgetMinutes} min of training time (evaluations excluded), after ${step} of ${rl.steps} steps: this run is a prefix of the one its config describes`,
        );
        break;
      }
    }
    result.rlSeconds = clock.ms() / 1000;
  } finally {
    await setup.reference?.close();
    await setup.prime?.close();
  }
}

/** What every step shares: a draw from RL's tasks, its loss, the KL reference, the demonstrations of `rl.demos`. */
async function setUpRl(
  run: TrainingRun,
  demos: Demonstrations,
  tasks: readonly Task[],
  resumed: LoadedCheckpoint<TrainCheckpointState> | undefined,
): Promise<RlSetup> {
  const { config } = run;
  const rl = config.rl;
  const loss = rlLossConfig(rl);
  const { warmup, pretrain } = config;
  // The KL reference (and PRIME's) is what RL starts from: the warm-up's or pretraining's result
  // (kept on disk, so a resumed run finds it too), or the initial weights.
  const start = warmup && warmup.steps > 0 ? 'warmup-model' : pretrain?.steps ? 'pretrain-model' : undefined;
  const startWeights =
    rl.kl.coef > 0 || rl.prime
      ? start
        ? await weightsFrom(path.join(run.dir.path, start), run.decoder, run.extraTokens)
        : run.initial
      : undefined;
  const reference = rl.kl.coef > 0 ? await run.learnerOf(startWeights!, 1) : undefined;
  const terms = [
    { name: 'warmup', coef: rl.demos.warmup, phase: warmup, demos: demos.warmup },
    { name: 'pretrain', coef: rl.demos.pretrain, phase: pretrain, demos: demos.pretrain },
  ];
  const roles = new Map(tasks.map((t) => [t.id, taskSeatOf(t)?.role ?? t.id]));
  return {
    run,
    draw: drawFrom(run, await rlDraws(run, tasks)),
    roleOf: (taskId) => roles.get(taskId) ?? taskId,
    sinkRunId: run.runId,
    loss,
    reference,
    demos: terms.flatMap((t) => (t.coef > 0 && t.phase ? [{ ...t, phase: t.phase }] : [])),
    rlpr: rl.rlpr ? createRlprScorer(run, resumed?.state.rlprEma) : undefined,
    prime: rl.prime ? await createPrime(run, startWeights!, resumedPrm(resumed)) : undefined,
  };
}

/** The implicit PRM's state in a checkpoint (`rl.prime`), if it has one. */
function resumedPrm(resumed: LoadedCheckpoint<TrainCheckpointState> | undefined): LearnerState | undefined {
  const step = resumed?.state.prmStep;
  return step === undefined ? undefined : learnerStateFromTensors(resumed!.tensors, step, 'prm');
}

/**
 * What an RL step draws from `rl.tasks`: each task alone, or with `rl.selfPlay` the seats of each
 * match. `train` calls it before it opens the run, so a self-play config that cannot work fails at once.
 */
export async function rlDraws(
  { config, environment }: Pick<TrainingRun, 'config' | 'environment'>,
  tasks?: readonly Task[],
): Promise<string[][]> {
  const selected = tasks ?? (await rlTasks({ config, environment })).train;
  if (!config.rl.selfPlay) return selected.map((t) => [t.id]);
  if (config.environment.endpoints.length > 0)
    throw new TrainConfigError(
      'rl.selfPlay: the seats of a match must play on one environment server, but environment.endpoints routes each episode on its own',
      'play self-play in process: leave environment.endpoints empty',
    );
  const draws = matchDraws(selected);
  const seats = Math.max(...draws.map((d) => d.length));
  if (config.rl.concurrency < seats)
    throw new TrainConfigError(
      `rl.selfPlay: a match has ${seats} seats, which must play at once, but rl.concurrency is ${config.rl.concurrency}`,
      `set rl.concurrency to at least ${seats}`,
    );
  return draws;
}

/**
 * Self-play's draws: the seats of each match among `tasks`, seat by seat. A task that is no seat of
 * a match, or a match whose seats are not all there, is a configuration error.
 */
function matchDraws(tasks: readonly Task[]): string[][] {
  const matches = new Map<string, Array<{ id: string; seat: TaskSeat }>>();
  for (const task of tasks) {
    const seat = taskSeatOf(task);
    if (!seat)
      throw new TrainConfigError(
        `rl.selfPlay: task ${task.id} is no seat of a match (its meta declares no match, seat, seats and role)`,
        'select tasks of a multi-player environment, or set rl.selfPlay: false',
      );
    matches.set(seat.match, [...(matches.get(seat.match) ?? []), { id: task.id, seat }]);
  }
  return [...matches].map(([match, seats]) => {
    const held = seats.map((s) => s.seat.seat).sort((a, b) => a - b);
    if (held.join() !== Array.from({ length: seats[0]!.seat.seats }, (_, i) => i).join())
      throw new TrainConfigError(
        `rl.selfPlay: match ${match} has ${seats[0]!.seat.seats} seats, but rl.tasks holds seats [${held.join(', ')}] of it`,
        "select every seat of each match once: filter rl.tasks on what a match's seats share, not on the seat",
      );
    return seats.sort((a, b) => a.seat.seat - b.seat.seat).map((s) => s.id);
  });
}

/** RL's clock: training time (rollouts and learner), the evaluations excluded. */
class RlClock {
  private startedAt: number | undefined;
  private pausedMs = 0;

  /** Starts it, at `alreadyMs` for a run resumed from a checkpoint. */
  start(alreadyMs: number): void {
    this.startedAt = performance.now() - alreadyMs;
  }

  ms(): number {
    return this.startedAt === undefined ? 0 : performance.now() - this.startedAt - this.pausedMs;
  }

  async pausedFor<T>(work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.pausedMs += performance.now() - start;
    }
  }
}

/** `step 12/400  reward 0.412  pass@1 31.2%  zero-var 25%  entropy 0.81  kl 2.1e-3  clip 0.012  |g| 0.91  … rss 1.4 GB (learner 1.0)`. */
function describeStep(step: number, steps: number, m: Record<string, number>): string {
  const n = (name: string) => m[name] ?? 0;
  const s = (name: string) => `${n(name).toFixed(2)}s`;
  return (
    `step ${step}/${steps}  reward ${n('reward/mean').toFixed(3)}  pass@1 ${(n('reward/pass_at_1') * 100).toFixed(1)}%  ` +
    `zero-var ${(n('batch/zero_variance_share') * 100).toFixed(0)}%  entropy ${n('loss/entropy').toFixed(3)}  ` +
    `kl ${n('loss/approx_kl').toExponential(1)}  clip ${n('loss/clip_fraction').toFixed(3)}  |g| ${n('optim/grad_norm').toFixed(2)}  ` +
    `${n('timing/trained_tokens_per_s').toFixed(0)} tok/s  rollout ${s('timing/rollout_s')}  learner ${s('timing/learner_s')}  ` +
    `publish ${s('timing/publish_s')}  step ${s('timing/step_s')}  rss ${(n('memory/rss_mb') / 1024).toFixed(1)} GB` +
    (m['memory/learner_heap_mb'] !== undefined
      ? ` (learner ${(n('memory/learner_heap_mb') / 1024).toFixed(1)})`
      : '')
  );
}

/**
 * The supervised phases, pretraining then the warm-up: cross-entropy on the oracle's passing
 * episodes (demonstrations), `batchSize` sequences of `pack` demonstrations a step, for `steps`
 * steps or until the policy solves `until.passRate` of the phase's own tasks.
 */
import { createOraclePolicy, episodePassed } from '@toolgym/agents';
import type { Environment } from '@toolgym/env-kit';
import { hashString, Rng, type Trajectory } from '@toolgym/protocol';
import { type TrainConfig, TrainConfigError } from './config.ts';
import { passShare, selectTasks } from './evaluation.ts';
import { demoBatch, fitsContext } from './learner-data.ts';
import type { TrainingRun } from './run.ts';
import { samplingOf } from './sampling.ts';
import { adamAt, stepProgress } from './schedule.ts';
import type { PhaseResult } from './train-result.ts';

/** A supervised phase of the config (`pretrain`, `warmup`). */
export type SupervisedPhase = NonNullable<TrainConfig['warmup']>;

/** Each phase's demonstrations, which RL also mixes in (`rl.demos`); empty when neither needs them. */
export interface Demonstrations {
  pretrain: Trajectory[];
  warmup: Trajectory[];
}

/**
 * Pretraining, then the warm-up (unless the run is `resumed`, which did them), each ending with
 * its model directory (`pretrain-model`, `warmup-model`); returns the demonstrations RL needs.
 */
export async function supervisedPhases(run: TrainingRun, resumed: boolean): Promise<Demonstrations> {
  const { config } = run;
  const seed = config.run.seed;
  // Pretraining's demonstrations have seeds of their own, so the warm-up and RL draw the same seeds
  // with or without it; the warm-up's are played by a resumed run too, before it restores its state.
  const pretrain = config.pretrain;
  const pretrainEnvironment = run.pretrainEnvironment;
  const pretrainDemos =
    pretrain && pretrainEnvironment && ((!resumed && pretrain.steps > 0) || config.rl.demos.pretrain > 0)
      ? await demonstrations(run, 'pretrain', pretrain, {
          environment: pretrainEnvironment,
          baseSeed: hashString(`pretrain:${seed}`),
        })
      : [];
  if (!resumed && pretrain && pretrain.steps > 0) {
    run.result.pretrain = await trainSupervised(run, 'pretrain', pretrain, pretrainDemos, {
      draw: new Rng(seed ^ 0x7a11),
      model: 'pretrain-model',
      ...(pretrainEnvironment ? { environment: pretrainEnvironment } : {}),
    });
    // The warm-up starts its own Adam from the pretrained weights, as from `policy.initFrom`.
    await run.learner.resetOptimizer();
  }
  const warmup = config.warmup;
  const warmupDemos =
    warmup && ((!resumed && warmup.steps > 0) || config.rl.demos.warmup > 0)
      ? await demonstrations(run, 'warm-up', warmup)
      : [];
  if (!resumed && warmup && warmup.steps > 0) {
    // The warm-started policy, kept for comparison and as `policy.initFrom` of later RL runs.
    run.result.warmup = await trainSupervised(run, 'warm-up', warmup, warmupDemos, {
      draw: run.rng,
      model: 'warmup-model',
    });
  }
  return { pretrain: pretrainDemos, warmup: warmupDemos };
}

/**
 * The oracle's passing episodes on a phase's tasks, played in `played.environment` (default the
 * run's), less those whose datum would not fit the decoder's context: the learner cannot take them,
 * and cutting one would teach an episode without its end. How many were left out is logged, kept
 * in the result (`demonstrations`): not in the metrics, whose lines a resumed run, which plays them
 * again for `rl.demos`, must not repeat.
 */
async function demonstrations(
  run: TrainingRun,
  phase: 'pretrain' | 'warm-up',
  w: SupervisedPhase,
  played: { environment?: Environment; baseSeed?: number } = {},
): Promise<Trajectory[]> {
  const maxLength = run.decoder.maxPositions;
  const tasks = await selectTasks(played.environment ?? run.environment, w.tasks);
  const oracle = createOraclePolicy({ toolFormat: run.toolFormat, tokenizer: run.policy.tokenizer });
  const episodes = await run.play(
    oracle,
    tasks.map((t) => t.id),
    1,
    { temperature: 0, maxTokens: maxLength },
    played,
  );
  const all = episodes.groups.flatMap((g) => g.trajectories);
  const passed = all.filter(
    (t) => t.status === 'terminated' && t.tokenization === 'exact' && episodePassed(t),
  );
  if (passed.length === 0)
    throw new TrainConfigError(
      `${phase}: the oracle solved none of the ${all.length} ${phase} tasks (${endings(all)})`,
      all.some((t) => t.truncation === 'token_budget')
        ? `its episodes do not fit policy.model.maxPositions ${maxLength}: raise it, or shorten the prompt (template.kind: compact)`
        : "check the phase's environment options with `toolgym eval --policy oracle`",
    );
  const shortfall = oracleShortfall(phase, all, passed);
  if (shortfall) run.log(shortfall);
  const { kept, overContext } = demonstrationsThatFit(phase, passed, maxLength);
  const metricsPhase = phase === 'pretrain' ? 'pretrain' : 'warmup';
  // The warm-up plays the environment RL and evaluation play: a turn of its demonstrations that
  // is longer than their `sampling.maxTokens` is one the policy is taught but can never write.
  const { rl, eval: evaluation } = run.config;
  const longTurns =
    phase === 'warm-up'
      ? {
          rl: turnsLongerThan(kept, rl.sampling.maxTokens),
          eval: turnsLongerThan(kept, evaluation.sampling.maxTokens),
        }
      : undefined;
  run.result.demonstrations = {
    ...run.result.demonstrations,
    [metricsPhase]: { kept: kept.length, overContext, ...(longTurns ? { longTurns } : {}) },
  };
  if (overContext > 0)
    run.log(
      `${phase}: left out ${overContext} of ${passed.length} oracle demonstrations longer than the context (maxPositions ${maxLength})`,
    );
  for (const [section, n] of Object.entries(longTurns ?? {}))
    if (n > 0)
      run.log(
        `${phase}: ${n} of ${kept.length} demonstrations write a turn longer than ${section}.sampling.maxTokens (${run.config[section as 'rl' | 'eval'].sampling.maxTokens}): the policy learns turns it cannot finish there`,
      );
  return kept;
}

/** How many demonstrations sample a turn of more than `maxTokens` tokens (the end token included). */
export function turnsLongerThan(demos: readonly Pick<Trajectory, 'turns'>[], maxTokens: number): number {
  return demos.filter((t) => t.turns.some((turn) => turn.sampled.end - turn.sampled.start > maxTokens))
    .length;
}

/**
 * The demonstrations whose datum fits `maxLength` positions, and how many did not; a
 * `TrainConfigError` naming the context to set when none does.
 */
export function demonstrationsThatFit(
  phase: string,
  demos: readonly Trajectory[],
  maxLength: number,
): { kept: Trajectory[]; overContext: number } {
  const kept = demos.filter((t) => fitsContext(t, maxLength));
  if (kept.length === 0 && demos.length > 0) {
    const shortest = Math.min(...demos.map((t) => t.tokens.length));
    throw new TrainConfigError(
      `${phase}: all ${demos.length} of the oracle's demonstrations are longer than the context (maxPositions ${maxLength}; the shortest has ${shortest} tokens)`,
      `raise policy.model.maxPositions to at least ${shortest}, or choose shorter ${phase} tasks`,
    );
  }
  return { kept, overContext: demos.length - kept.length };
}

/** How a phase's episodes ended, e.g. "12 truncated (token_budget), 2 failed (tool_failed), 3 terminated". */
/**
 * The line that says the oracle failed some of a phase's tasks, and how those episodes ended. A tool
 * that fails under load (a sandbox that cannot start in time) fails the oracle too, and the phase
 * then teaches fewer demonstrations than its tasks hold.
 */
export function oracleShortfall(
  phase: string,
  all: readonly Trajectory[],
  passed: readonly Trajectory[],
): string | undefined {
  if (passed.length === all.length) return undefined;
  const solved = new Set(passed);
  return `${phase}: the oracle solved ${solved.size} of ${all.length} tasks; the others: ${endings(all.filter((t) => !solved.has(t)))}`;
}

function endings(episodes: readonly Trajectory[]): string {
  const counts = new Map<string, number>();
  for (const t of episodes) {
    const unpassed = t.tokenization === 'exact' ? 'graded wrong' : `${t.tokenization} tokens`;
    const why = t.truncation ?? t.failure?.code ?? (t.status === 'terminated' ? unpassed : undefined);
    const key = why ? `${t.status} (${why})` : t.status;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

/**
 * Up to `w.steps` cross-entropy steps (fewer when `w.until` is met); the policy then plays the
 * result, which is kept in `<run>/<model>`. The phase's tasks are played in `environment`.
 */
async function trainSupervised(
  run: TrainingRun,
  phase: 'pretrain' | 'warm-up',
  w: SupervisedPhase,
  demos: Trajectory[],
  at: { draw: Rng; model: string; environment?: Environment },
): Promise<PhaseResult> {
  const t0 = performance.now();
  const metricsPhase = phase === 'pretrain' ? 'pretrain' : 'warmup';
  const { until } = w;
  run.log(
    `${phase}: ${demos.length} oracle demonstrations, ${w.steps} steps of ${w.batchSize}` +
      (w.pack > 1 ? ` sequences of up to ${w.pack} packed demonstrations` : '') +
      (until ? `, or until it solves ${(until.passRate * 100).toFixed(0)}% of its tasks` : ''),
  );
  const check = until && (await phaseCheck(run, phase, w, at.environment ?? run.environment));
  let loss = 0;
  let step = 0;
  let passRate: number | undefined;
  let checkedAt = 0;
  while (step < w.steps) {
    step++;
    const adam = adamAt(w.adam, step, stepProgress(step, w.steps));
    const batch = demoBatch(w, demos, at.draw, run.decoder.maxPositions);
    const out = await run.learner.forwardBackward(batch, 'cross_entropy');
    const opt = await run.learner.optimStep(adam);
    loss = out.metrics.loss ?? 0;
    if (step % 25 === 0 || step === w.steps) {
      run.log(
        `${phase} step ${step}/${w.steps}  loss ${loss.toFixed(4)}  grad-norm ${opt.metrics.grad_norm.toFixed(3)}`,
      );
      await run.metrics.write(step, metricsPhase, {
        'loss/cross_entropy': loss,
        'optim/grad_norm': opt.metrics.grad_norm,
        'optim/learning_rate': adam.learningRate,
      });
    }
    if (until && check && step % until.every === 0) {
      await run.publish();
      checkedAt = step;
      passRate = await check.passRate(step);
      run.log(`${phase} step ${step}: solves ${(passRate * 100).toFixed(1)}% of ${check.tasks} of its tasks`);
      await run.metrics.write(step, metricsPhase, { [`eval/${w.tasks.split}/accuracy`]: passRate });
      if (passRate >= until.passRate) break;
    }
  }
  if (checkedAt !== step) await run.publish();
  await run.saveModel(at.model);
  return {
    steps: step,
    finalLoss: loss,
    seconds: (performance.now() - t0) / 1000,
    ...(passRate !== undefined ? { passRate } : {}),
  };
}

/**
 * A phase's stop rule: `until.limit` of its tasks, spread evenly over them, played greedily as the
 * evaluation plays, with seeds of their own (the training episodes' seeds do not move).
 */
async function phaseCheck(run: TrainingRun, phase: string, w: SupervisedPhase, played: Environment) {
  const all = await selectTasks(played, w.tasks);
  const count = Math.min(w.until!.limit, all.length);
  const taskIds = Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!.id);
  const sampling = samplingOf(run.config.eval.sampling, run.sampling);
  return {
    tasks: count,
    passRate: async (step: number): Promise<number> => {
      const { groups } = await run.play(run.policy, taskIds, 1, sampling, {
        environment: played,
        baseSeed: hashString(`${phase}-check:${run.config.run.seed}:${step}`),
      });
      return passShare(groups.flatMap((g) => g.trajectories));
    },
  };
}

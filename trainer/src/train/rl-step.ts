/**
 * One RL step, in the algorithm's order: (1) collect a batch of episode groups with the policy as
 * it is now; (2) each episode's advantage, by the configured estimator plus turn-level credit,
 * on the tokens it sampled; (3) the learner's step on them: the policy loss, the demonstrations of
 * `rl.demos`, the KL reference, Adam. `rl.ts` runs the steps and publishes the new weights.
 */
import { episodePassed, parseErrorCount, withParseErrorPenalty } from '@toolgym/agents';
import type { Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { ADVANTAGE_ESTIMATORS, turnAdvantages } from '../algorithms/advantages.ts';
import { attributeAdvantages } from '../algorithms/arpo.ts';
import {
  fillWithInformativeGroups,
  isZeroVarianceGroup,
  overlongKeepMask,
} from '../algorithms/batch-shaping.ts';
import type { Datum, Learner, LossFnConfig } from '../learner/learner.ts';
import { branchGroups } from './arpo-rollout.ts';
import type { TrainConfig } from './config.ts';
import { demoBatch, rlData, turnRewards, withTotalWeight } from './learner-data.ts';
import type { TrainingRun } from './run.ts';
import type { Prime } from './prime.ts';
import type { RlprScorer } from './rlpr.ts';
import { samplingOf } from './sampling.ts';
import { adamAt, stepProgress } from './schedule.ts';

/** What every RL step shares, set up once by `rl.ts`. */
export interface RlSetup {
  run: TrainingRun;
  /**
   * The ids of the next `count` draws to play, at random from RL's tasks (`rl.tasks`): a task, or
   * with `rl.selfPlay` the seats of one match (its tasks, seat by seat), which play together.
   */
  draw(count: number): string[];
  /** The role of each task (`rl.algorithm: rae`): its seat of a game, else the task itself. */
  roleOf(taskId: string): string;
  /** The run id the episodes go to the rollout sink under (the run's own; another for a warm-up). */
  sinkRunId: string;
  loss: LossFnConfig;
  /** The policy RL starts from, scoring every batch for the loss's KL term (`rl.kl`). */
  reference: Learner | undefined;
  /** `rl.demos`: each phase's demonstrations and their weight in the loss. */
  demos: Array<{
    name: string;
    coef: number;
    phase: { batchSize: number; pack: number };
    demos: Trajectory[];
  }>;
  /** With `rl.rlpr`: the reward the policy's probability of the reference answer gives. */
  rlpr: RlprScorer | undefined;
  /** With `rl.prime`: the implicit PRM, whose process rewards make the advantages. */
  prime: Prime | undefined;
}

/** A step's episodes, as played. */
export interface Played {
  /** The groups that train (after dynamic sampling). */
  groups: TrajectoryGroup[];
  /** The usable episodes of every group played, dynamic sampling's dropped ones included. */
  played: Trajectory[];
  groupCount: number;
  zeroVariance: number;
  droppedGroups: number;
  /** With `rl.sampling.branching`: branch episodes kept, and dropped because their replay diverged. */
  branching?: { branches: number; dropped: number };
  rolloutMs: number;
  /** The policy version that played them. */
  policyVersion: number;
}

/** A step's episodes with the rewards learners gave them (`rl.rlpr`, `rl.prime`) and the learner data they make. */
export interface Batch extends Played {
  data: Datum[];
  /** What scoring reported (`reward/rlpr/`, `prm/`). */
  metrics: Record<string, number>;
}

/** What the learner's step reports. */
export interface Learned {
  lossMetrics: Record<string, number>;
  gradNorm: number;
  learningRate: number;
  trainedTokens: number;
  /** Each `rl.demos` phase's cross-entropy (unweighted), by phase. */
  demoLoss: Record<string, number>;
  ms: number;
}

/** Draws with the run's rng, uniformly from `draws` (each a task's id, or a match's seats). */
export const drawFrom =
  (run: TrainingRun, draws: readonly (readonly string[])[]) =>
  (count: number): string[] =>
    Array.from({ length: count }, () => draws[run.rng.int(0, draws.length - 1)]!).flat();

/** Episodes that can train: not ended by a failure (episode-fatal), with exact tokens. */
const usable = (g: TrajectoryGroup) =>
  g.trajectories.filter((t) => t.status !== 'failed' && t.tokenization === 'exact');
const rewardsOf = (g: TrajectoryGroup) => usable(g).map((t) => t.reward.total);

/** (1) One step's episodes, played with the policy's current weights. */
export async function collect(s: RlSetup, step: number): Promise<Played> {
  const { run } = s;
  const rl = run.config.rl;
  const policyVersion = run.policy.version;
  const sampling = samplingOf(rl.sampling, run.sampling);
  let branches = 0;
  let droppedBranches = 0;
  const play = async (count: number) => {
    const branching = rl.sampling.branching;
    const played = await run.play(run.policy, s.draw(count), rl.groupSize, sampling, {
      step,
      // A group that branches reaches the sink whole, with its branches.
      sink: branching ? undefined : run.sink,
      runId: s.sinkRunId,
      selfPlay: rl.selfPlay,
    });
    if (branching) {
      const t0 = performance.now();
      const branched = await branchGroups(run, played.groups, sampling, branching, {
        step,
        runId: s.sinkRunId,
      });
      played.groups = branched.groups;
      played.ms += performance.now() - t0;
      branches += branched.branches;
      droppedBranches += branched.dropped;
      for (const g of played.groups) await run.sink?.onGroup(g);
    }
    for (const t of played.groups.flatMap((g) => g.trajectories))
      t.reward = withParseErrorPenalty(t.reward, parseErrorCount(t), rl.parseErrorPenalty);
    return played;
  };
  const first = await play(rl.tasksPerStep);
  let rolloutMs = first.ms;
  const allGroups = [...first.groups];
  let groups = first.groups;
  let droppedGroups = 0;
  if (rl.dynamicSamplingRounds > 0) {
    // DAPO dynamic sampling: groups without reward variance make way for fresh ones.
    const filled = await fillWithInformativeGroups(
      first.groups,
      rl.tasksPerStep,
      rewardsOf,
      async (count) => {
        const more = await play(count);
        rolloutMs += more.ms;
        allGroups.push(...more.groups);
        return more.groups;
      },
      rl.dynamicSamplingRounds,
    );
    groups = filled.groups;
    droppedGroups = filled.dropped;
  }
  return {
    groups,
    played: allGroups.flatMap(usable),
    groupCount: allGroups.length,
    zeroVariance: allGroups.filter((g) => isZeroVarianceGroup(rewardsOf(g))).length,
    droppedGroups,
    rolloutMs,
    policyVersion,
    ...(rl.sampling.branching ? { branching: { branches, dropped: droppedBranches } } : {}),
  };
}

/**
 * (2a) The rewards learners give (`rl.rlpr`, `rl.prime`), then the learner data. Runs between
 * learner steps, never beside one: it reads the learner's weights.
 */
export async function score(s: RlSetup, played: Played, step: number): Promise<Batch> {
  const rl = s.run.config.rl;
  if (s.prime) return { ...played, ...(await s.prime.score(played.groups)) };
  const roles = { roleOf: s.roleOf, baselines: s.run.baselines };
  if (!s.rlpr) return { ...played, data: advantageData(played.groups, rl, roles), metrics: {} };
  const scored = await s.rlpr.score(played.groups, step);
  return {
    ...played,
    groups: scored.kept,
    data: advantageData(scored.kept, rl, roles),
    metrics: scored.metrics,
  };
}

/**
 * (2b) Each usable episode's advantage from its group's rewards (`rl.algorithm`; RAE's from its
 * role's running baseline, which it moves), plus `coef` × its turns' advantages
 * (`rl.turnCredit`), as the learner datum of its sampled tokens. Episodes without signal, or cut
 * by a length limit (`rl.overlongFilter`), cost no learner time.
 */
export function advantageData(
  groups: TrajectoryGroup[],
  rl: TrainConfig['rl'],
  roles: { roleOf(taskId: string): string; baselines: Record<string, number> },
): Datum[] {
  const advantages = ADVANTAGE_ESTIMATORS[rl.algorithm].estimate(groups.map(rewardsOf), {
    passed: groups.map((g) => usable(g).map((t) => episodePassed(t))),
    lambda: rl.wReinforce.lambda,
    roles: groups.map((g) => usable(g).map(() => roles.roleOf(g.taskId))),
    baselines: roles.baselines,
    decay: rl.rae.decay,
  });
  const { coef, returns } = rl.turnCredit;
  const data: Datum[] = [];
  groups.forEach((g, gi) => {
    const trajectories = usable(g);
    const keep = rl.overlongFilter ? overlongKeepMask(trajectories) : trajectories.map(() => 1);
    const turns = coef > 0 ? turnAdvantages(trajectories.map(turnRewards), returns) : [];
    if (rl.sampling.branching) {
      // ARPO: each turn's advantage is shared by the episodes that replay it.
      const values = trajectories.map((t, i) => {
        const a = advantages[gi]![i] ?? 0;
        return coef > 0 ? turns[i]!.map((x) => a + coef * x) : t.turns.map(() => a);
      });
      attributeAdvantages(trajectories, values).forEach((perTurn, i) => {
        if (perTurn.some((x) => x !== 0) && keep[i] === 1) data.push(...rlData(trajectories[i]!, perTurn));
      });
      return;
    }
    trajectories.forEach((t, i) => {
      const a = advantages[gi]![i] ?? 0;
      const perTurn = turns[i]?.map((x) => a + coef * x) ?? [];
      if ((a !== 0 || perTurn.some((x) => x !== 0)) && keep[i] === 1)
        data.push(...rlData(t, coef > 0 ? perTurn : a));
    });
  });
  return data;
}

/**
 * (3) The learner's step on `data`: `rl.epochs` times the policy loss and one batch of each
 * `rl.demos` phase's demonstrations (their cross-entropy weighted by its coef, InstructGPT's
 * PPO-ptx), then Adam. The demonstrations are drawn before the first await, so the rng's draws
 * keep one order while the next step's episodes play alongside.
 */
export async function learn(s: RlSetup, step: number, data: Datum[]): Promise<Learned> {
  const { run } = s;
  const rl = run.config.rl;
  const start = performance.now();
  const out = { lossMetrics: {}, gradNorm: 0, learningRate: 0, trainedTokens: 0, demoLoss: {} } as Omit<
    Learned,
    'ms'
  >;
  if (data.length === 0) return { ...out, ms: 0 };
  const demoData = Array.from({ length: rl.epochs }, () =>
    s.demos.map((t) => ({
      ...t,
      // token-sum of weights that add up to coef = coef × the token-mean cross-entropy
      batch: withTotalWeight(demoBatch(t.phase, t.demos, run.rng, run.decoder.maxPositions), t.coef),
    })),
  );
  if (s.reference) {
    // Only its logprobs are needed: the cheapest loss (cross-entropy) scores them, at the sampling temperature.
    const scored = await s.reference.forward(data, 'cross_entropy', { temperature: s.loss.temperature });
    data.forEach((d, i) => {
      d.lossFnInputs.ref_logprobs = scored.lossFnOutputs[i]!.logprobs;
    });
  }
  for (let epoch = 0; epoch < rl.epochs; epoch++) {
    const fb = await run.learner.forwardBackward(data, rl.loss, s.loss);
    for (const demo of demoData[epoch]!) {
      const d = await run.learner.forwardBackward(demo.batch, 'cross_entropy', { aggregation: 'token-sum' });
      out.demoLoss[demo.name] = (d.metrics.loss ?? 0) / demo.coef;
      out.trainedTokens += d.metrics.tokens ?? 0;
    }
    const adam = adamAt(rl.adam, step, stepProgress(step, rl.steps));
    const opt = await run.learner.optimStep(adam);
    out.learningRate = adam.learningRate;
    out.lossMetrics = fb.metrics;
    out.gradNorm = opt.metrics.grad_norm;
    out.trainedTokens += fb.metrics.tokens ?? 0;
  }
  return { ...out, ms: performance.now() - start };
}

/**
 * One RL step, in the algorithm's order: (1) collect a batch of episode groups with the policy as
 * it is now; (2) each episode's advantage, by the configured estimator plus turn-level credit,
 * on the tokens it sampled; (3) the learner's step on them: the policy loss, the demonstrations of
 * `rl.demos`, the KL reference, Adam. `rl.ts` runs the steps and publishes the new weights.
 */
import { parseErrorCount, withParseErrorPenalty } from '@toolgym/agents';
import type { Task, Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { ADVANTAGE_ESTIMATORS, turnAdvantages } from '../algorithms/advantages.ts';
import {
  fillWithInformativeGroups,
  isZeroVarianceGroup,
  overlongKeepMask,
} from '../algorithms/batch-shaping.ts';
import type { Datum, Learner, LossFnConfig } from '../learner/learner.ts';
import type { TrainConfig } from './config.ts';
import { demoBatch, rlData, turnRewards, withTotalWeight } from './learner-data.ts';
import type { TrainingRun } from './run.ts';
import { samplingOf } from './sampling.ts';
import { adamAt } from './schedule.ts';

/** What every RL step shares, set up once by `rl.ts`. */
export interface RlSetup {
  run: TrainingRun;
  /** The tasks RL draws from (`rl.tasks`). */
  tasks: Task[];
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
  /** How far RL is (0–1) at `step`, for its learning-rate schedule. */
  progress(step: number): number;
}

/** A step's episodes and the learner data made from them. */
export interface Batch {
  data: Datum[];
  /** The usable episodes of every group played, dynamic sampling's dropped ones included. */
  played: Trajectory[];
  groupCount: number;
  zeroVariance: number;
  droppedGroups: number;
  rolloutMs: number;
  /** The policy version that played them. */
  policyVersion: number;
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

/** Episodes that can train: not ended by a failure (episode-fatal), with exact tokens. */
const usable = (g: TrajectoryGroup) =>
  g.trajectories.filter((t) => t.status !== 'failed' && t.tokenization === 'exact');
const rewardsOf = (g: TrajectoryGroup) => usable(g).map((t) => t.reward.total);

/** (1) One step's episodes, played with the policy's current weights, and (2) the learner data they make. */
export async function collect(s: RlSetup, step: number): Promise<Batch> {
  const { run } = s;
  const rl = run.config.rl;
  const policyVersion = run.policy.version;
  const sampling = samplingOf(rl.sampling, run.sampling);
  const draw = (count: number) =>
    Array.from({ length: count }, () => s.tasks[run.rng.int(0, s.tasks.length - 1)]!.id);
  const play = async (count: number) => {
    const played = await run.play(run.policy, draw(count), rl.groupSize, sampling, { step, sink: run.sink });
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
    data: advantageData(groups, rl),
    played: allGroups.flatMap(usable),
    groupCount: allGroups.length,
    zeroVariance: allGroups.filter((g) => isZeroVarianceGroup(rewardsOf(g))).length,
    droppedGroups,
    rolloutMs,
    policyVersion,
  };
}

/**
 * (2) Each usable episode's advantage from its group's rewards (`rl.algorithm`), plus `coef` × its
 * turns' advantages (`rl.turnCredit`), as the learner datum of its sampled tokens. Episodes without
 * signal, or cut by a length limit (`rl.overlongFilter`), cost no learner time.
 */
export function advantageData(groups: TrajectoryGroup[], rl: TrainConfig['rl']): Datum[] {
  const advantages = ADVANTAGE_ESTIMATORS[rl.algorithm].estimate(groups.map(rewardsOf));
  const { coef, returns } = rl.turnCredit;
  const data: Datum[] = [];
  groups.forEach((g, gi) => {
    const trajectories = usable(g);
    const keep = rl.overlongFilter ? overlongKeepMask(trajectories) : trajectories.map(() => 1);
    const turns = coef > 0 ? turnAdvantages(trajectories.map(turnRewards), returns) : [];
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
    const adam = adamAt(rl.adam, step, s.progress(step));
    const opt = await run.learner.optimStep(adam);
    out.learningRate = adam.learningRate;
    out.lossMetrics = fb.metrics;
    out.gradNorm = opt.metrics.grad_norm;
    out.trainedTokens += fb.metrics.tokens ?? 0;
  }
  return { ...out, ms: performance.now() - start };
}

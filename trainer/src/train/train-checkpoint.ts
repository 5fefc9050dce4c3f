/**
 * Training checkpoints: after RL step `rlStep` (0 = before RL), everything a resumed run needs to
 * continue identically — the learner's state, the rng and rollout seed, the running advantage
 * baselines, the policy version, RL's clock, the length of metrics.jsonl and the result so far;
 * with `rl.asyncLevel` 1 also the batch that was playing during the learner's step, which a
 * resumed run plays again.
 */
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from '@toolgym/agents';
import { Rng } from '@toolgym/protocol';
import { type LoadedCheckpoint, writeCheckpoint } from '../checkpoint/checkpoint.ts';
import {
  learnerStateFromTensors,
  learnerStateToTensors,
  samplingWeightsFromTensors,
  samplingWeightsToTensors,
} from '../checkpoint/learner-state-tensors.ts';
import type { Learner } from '../learner/learner.ts';
import type { TrainConfig } from './config.ts';
import type { TrainResult } from './train-result.ts';

/** What a training checkpoint holds besides the learner's tensors. */
export interface TrainCheckpointState {
  format: 'toolgym-train-checkpoint@1';
  config: TrainConfig;
  decoder: DecoderConfig;
  /** The tokenizer's tokens after the byte tokenizer's (tool names with `template.toolTokens`). */
  extraTokens: string[];
  /** RL steps done (0: warm-up and the first evaluation done). */
  rlStep: number;
  learnerStep: number;
  /** Where a Tinker-protocol learner's service keeps the learner's state. */
  learnerPath?: string;
  rng: number;
  rolloutSeed: number;
  policyVersion: number;
  /** Running advantage baselines by role (`rl.algorithm: rae`); absent = none yet. */
  baselines?: Record<string, number>;
  /**
   * With `rl.asyncLevel` 1: the next step's batch was playing, with the policy at this version (its
   * weights are the checkpoint's `sampling.*` tensors, or the service's `samplerPath`; `rng` and
   * `rolloutSeed` are from before it).
   */
  inFlight?: { policyVersion: number; samplerPath?: string };
  /** RL's training time so far (the clock of the safety stop `rl.timeBudgetMinutes`), ms; absent = 0. */
  rlTrainingMs?: number;
  /** With `rl.rlpr`: its std filter's moving average (absent before its first step). */
  rlprEma?: number;
  /** With `rl.prime`: the implicit PRM's optimiser step; its weights and moments are the `prm.*` tensors. */
  prmStep?: number;
  /** Length of metrics.jsonl at the checkpoint: a resumed run cuts the file back to it. */
  metricsBytes: number;
  result: TrainResult;
}

/** A batch being played while the learner trains: what is needed to play it again. */
export interface InFlight {
  rng: number;
  rolloutSeed: number;
  policyVersion: number;
  published: Published;
}

/** What the policy plays with: weights (ToolGym's engine) or the service's sampler save of them (`policy.kind: tinker`). */
export type Published = { weights: DecoderWeights } | { samplerPath: string };

/** The part of a run that a checkpoint saves and restores. */
export interface CheckpointedRun {
  config: TrainConfig;
  decoder: DecoderConfig;
  extraTokens: string[];
  learner: Learner;
  policy: { readonly version: number };
  rng: Rng;
  rolloutSeed: number;
  published: Published;
  baselines: Record<string, number>;
  /** What the policy would play with if published now (the learner's weights or a new sampler save). */
  takePublished(): Promise<Published>;
  /** The policy plays `p` from now on, as its next version or as `version`. */
  playWith(p: Published, version?: number): Promise<void>;
  result: TrainResult;
  dir: { checkpoints: string };
  metrics: { bytes(): Promise<number> };
}

/**
 * Writes the checkpoint of RL step `rlStep` atomically, every `run.checkpointEvery` steps and at
 * RL's last step (`rl.steps`, or the step where its time budget ran out: `outOfTime`).
 */
export async function writeTrainCheckpoint(
  run: CheckpointedRun,
  rlStep: number,
  at: {
    outOfTime: boolean;
    inFlight: InFlight | undefined;
    rlTrainingMs: number;
    rlprEma?: number | undefined;
    /** PRIME's implicit PRM, a learner of its own that a resumed run must continue from. */
    prm?: Learner | undefined;
  },
): Promise<void> {
  const { config, decoder } = run;
  const last = at.outOfTime || rlStep === config.rl.steps;
  if (config.run.checkpointEvery === 0 || (rlStep % config.run.checkpointEvery !== 0 && !last)) return;
  const learnerState = await run.learner.saveState();
  const prmState = await at.prm?.saveState();
  const { inFlight } = at;
  const state: TrainCheckpointState = {
    format: 'toolgym-train-checkpoint@1',
    config,
    decoder,
    extraTokens: run.extraTokens,
    rlStep,
    learnerStep: learnerState.step,
    ...(learnerState.path ? { learnerPath: learnerState.path } : {}),
    // With a batch in flight, the rng as it was when that batch was drawn: a resumed run plays it again.
    rng: inFlight?.rng ?? run.rng.saveState(),
    rolloutSeed: inFlight?.rolloutSeed ?? run.rolloutSeed,
    policyVersion: run.policy.version,
    baselines: run.baselines,
    ...(inFlight
      ? {
          inFlight: {
            policyVersion: inFlight.policyVersion,
            ...('samplerPath' in inFlight.published ? { samplerPath: inFlight.published.samplerPath } : {}),
          },
        }
      : {}),
    rlTrainingMs: at.rlTrainingMs,
    ...(at.rlprEma !== undefined ? { rlprEma: at.rlprEma } : {}),
    ...(prmState ? { prmStep: prmState.step } : {}),
    metricsBytes: await run.metrics.bytes(),
    result: run.result,
  };
  const shapes = decoderWeightShapes(decoder);
  await writeCheckpoint(run.dir.checkpoints, rlStep, {
    state,
    tensors: {
      ...learnerStateToTensors(learnerState, shapes),
      ...(prmState ? learnerStateToTensors(prmState, shapes, 'prm') : {}),
      ...(inFlight && 'weights' in inFlight.published
        ? samplingWeightsToTensors(inFlight.published.weights, shapes)
        : {}),
    },
  });
}

/**
 * Puts the run where the checkpoint left it: the learner's state, the published weights, the rng,
 * the rollout seed, the running advantage baselines and the result. With a batch in flight the policy keeps the weights that batch
 * was played with (`playInFlightAgain`), otherwise it takes the learner's.
 */
export async function restoreRun(
  run: CheckpointedRun,
  resumed: LoadedCheckpoint<TrainCheckpointState>,
): Promise<void> {
  const s = resumed.state;
  await run.learner.loadState({
    ...learnerStateFromTensors(resumed.tensors, s.learnerStep),
    ...(s.learnerPath ? { path: s.learnerPath } : {}),
  });
  run.published = await run.takePublished();
  if (s.policyVersion > 0 && !s.inFlight) await run.playWith(run.published, s.policyVersion);
  run.rng = Rng.fromState(s.rng);
  run.rolloutSeed = s.rolloutSeed;
  run.baselines = { ...s.baselines };
  Object.assign(run.result, s.result);
}

/**
 * With `rl.asyncLevel` 1, plays again the batch the interrupted run was playing, with the weights it
 * was played with, then gives the policy the checkpoint's own weights back.
 */
export async function playInFlightAgain<T>(
  run: CheckpointedRun,
  resumed: LoadedCheckpoint<TrainCheckpointState>,
  play: () => Promise<T>,
): Promise<T> {
  const pending = resumed.state.inFlight!;
  // Version 0 is the initial weights, which the policy was created with.
  if (pending.policyVersion > run.policy.version)
    await run.playWith(
      pending.samplerPath
        ? { samplerPath: pending.samplerPath }
        : { weights: samplingWeightsFromTensors(resumed.tensors) },
      pending.policyVersion,
    );
  const batch = await play();
  if (resumed.state.policyVersion > run.policy.version)
    await run.playWith(run.published, resumed.state.policyVersion);
  return batch;
}

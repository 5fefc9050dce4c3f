/**
 * The training loop: optional supervised warm-up on oracle demonstrations, then RL on groups of
 * episodes played by the onnx policy through the real rollout engine (exact tokens), with
 * advantages from `algorithms/`, the embedded learner, and the new weights published to the
 * policy after every optimiser step (policy version + 1). Metrics per step go to JSONL and to the
 * rollout sink (the replay feed).
 */
import { appendFile, mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  ChatTemplate,
  compactChatTemplate,
  createOnnxPolicy,
  createOraclePolicy,
  type DecoderConfig,
  type DecoderWeights,
  decoderWeightShapes,
  episodePassed,
  initDecoderWeights,
  meanComponents,
  type ModelChat,
  type OnnxPolicy,
  type Tokenizer,
  type Policy,
  readDecoderModelDir,
  readModelDir,
  type RolloutSink,
  runRollouts,
  recordedToolCalls,
  type SamplingParams,
  TOOL_CALL_OPEN,
  type ToolCallFormat,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { type Environment, EnvironmentClient } from '@toolgym/env-kit';
import { hashString, Rng } from '@toolgym/protocol';
import { type Task, type Trajectory, type TrajectoryGroup, taskMatchesMeta } from '@toolgym/protocol';
import {
  type AdvantageEstimator,
  estimateAdvantages,
  turnAdvantages,
  turnValuesToTokens,
} from '../algorithms/advantages.ts';
import {
  fillWithInformativeGroups,
  isZeroVarianceGroup,
  overlongKeepMask,
} from '../algorithms/batch-shaping.ts';
import { TinkerLearner } from '../api/tinker-learner.ts';
import { TinkerPolicy } from '../api/tinker-policy.ts';
import { readLatestCheckpoint, writeCheckpoint } from '../checkpoint/checkpoint.ts';
import {
  learnerStateFromTensors,
  learnerStateToTensors,
  samplingWeightsFromTensors,
  samplingWeightsToTensors,
} from '../checkpoint/learner-state-tensors.ts';
import {
  type AdamParams,
  type Datum,
  datumFromSequence,
  type Learner,
  type LossFnConfig,
  lossWeights,
} from '../learner/learner.ts';
import { createWorkerLearner } from '../learner/worker-learner.ts';
import { type TaskFilter, type TrainConfig, TrainConfigError } from './config.ts';

export interface TrainOptions {
  config: TrainConfig;
  environment: Environment;
  /** The environment with `config.pretrain.options` merged over its options (needed with `pretrain`). */
  pretrainEnvironment?: Environment;
  /** Receives every trajectory group and the step metrics (replay store, JSONL, …). */
  sink?: RolloutSink;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Id of the run in the sink (replay store); default `<name>-seed<seed>`. */
  runId?: string;
  /** Continue from the newest intact checkpoint in `<outDir>/checkpoints` (a fresh start when there is none). */
  resume?: boolean;
}

/** What a training checkpoint holds besides the learner's tensors (issue 10). */
interface TrainCheckpointState {
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
  /**
   * With `rl.asyncLevel` 1: the next step's batch was playing, with the policy at this version (its
   * weights are the checkpoint's `sampling.*` tensors; `rng` and `rolloutSeed` are from before it).
   */
  inFlight?: { policyVersion: number; samplerPath?: string };
  /** RL's training time so far (the clock of `rl.timeBudgetMinutes` and of its schedule), ms; absent = 0. */
  rlTrainingMs?: number;
  /** Length of metrics.jsonl at the checkpoint: a resumed run cuts the file back to it. */
  metricsBytes: number;
  result: TrainResult;
}

/** A step's episodes and the learner data made from them. */
interface Batch {
  data: Datum[];
  played: Trajectory[];
  groupCount: number;
  zeroVariance: number;
  droppedGroups: number;
  rolloutMs: number;
  /** The policy version that played them. */
  policyVersion: number;
}

/** A batch being played while the learner trains: what is needed to play it again. */
interface InFlight {
  rng: number;
  rolloutSeed: number;
  policyVersion: number;
  published: Published;
}

/** What a policy plays with: weights (ToolGym's engine) or the service's sampler save of them (`policy.kind: tinker`). */
type Published = { weights: DecoderWeights } | { samplerPath: string };

export interface EvalPoint {
  /** RL steps done when evaluated. */
  step: number;
  accuracy: number;
  /** Mean of each reward component over the episodes (e.g. compose's `composed`: right by composing, not by luck). */
  components: Record<string, number>;
  episodes: number;
  seconds: number;
}

/** The share of episodes that passed. */
const passShare = (trajectories: Trajectory[]): number =>
  trajectories.filter((t) => episodePassed(t)).length / Math.max(1, trajectories.length);

/** A supervised phase of the config (warm-up, pretraining). */
type SupervisedPhase = NonNullable<TrainConfig['warmup']>;

export interface TrainResult {
  runId: string;
  outDir: string;
  pretrain?: PhaseResult;
  warmup?: PhaseResult;
  evals: EvalPoint[];
  before: number;
  after: number;
  rlSteps: number;
  rlSeconds: number;
  policyVersion: number;
}

interface PhaseResult {
  steps: number;
  finalLoss: number;
  seconds: number;
  /** With `until`: the share of the check's tasks the policy solved at the last check. */
  passRate?: number;
}

interface Episodes {
  groups: TrajectoryGroup[];
  ms: number;
}

/** Tasks of a split whose meta matches the filter. */
export async function selectTasks(environment: Environment, filter: TaskFilter): Promise<Task[]> {
  const tasks = (await environment.tasksOf(filter.split)).filter((task) =>
    taskMatchesMeta(task, filter.meta),
  );
  if (tasks.length === 0) throw new Error(`no ${filter.split} tasks match ${JSON.stringify(filter.meta)}`);
  return filter.limit > 0 ? tasks.slice(0, filter.limit) : tasks;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { config, environment } = options;
  const pretrainEnvironment = config.pretrain ? pretrainEnvironmentOf(options) : undefined;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = config.run.seed;
  const runName = `${config.run.name}-seed${seed}`;
  const runId = options.runId ?? runName;
  const outDir = path.resolve(config.run.outDir, runName);
  await mkdir(outDir, { recursive: true });
  const metricsFile = path.join(outDir, 'metrics.jsonl');
  const checkpointDir = path.join(outDir, 'checkpoints');
  const resumed = options.resume
    ? await readLatestCheckpoint<TrainCheckpointState>(checkpointDir)
    : undefined;
  for (const bad of resumed?.skipped ?? []) log(`resume: skipped a damaged checkpoint: ${bad.reason}`);
  if (options.resume && !resumed)
    log(`resume: no checkpoint in ${checkpointDir}, starting from the beginning`);
  if (resumed && JSON.stringify(resumed.state.config) !== JSON.stringify(config)) {
    throw new TrainConfigError(
      `--resume: the config differs from the one the checkpoint ${resumed.dir} was trained with; resume with the same config (saved in ${path.join(outDir, 'config.json')})`,
    );
  }
  if (resumed) {
    await truncate(metricsFile, resumed.state.metricsBytes);
    log(`resume: continuing after RL step ${resumed.state.rlStep} from ${resumed.dir}`);
  } else await writeFile(metricsFile, '');
  await writeFile(path.join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const tools = environment.toolSpecs;
  const extraTokens = config.template.toolTokens ? tools.map((t) => t.name) : [];
  const decoder: DecoderConfig = {
    vocabSize: BYTE_TOKENIZER_VOCAB_SIZE + extraTokens.length,
    layerNormEps: 1e-5,
    ...config.policy.model,
  };
  const initial = config.policy.initFrom
    ? await weightsFrom(config.policy.initFrom, decoder, extraTokens)
    : initDecoderWeights(decoder, { seed, std: config.policy.initStd });
  const modelDir = path.join(outDir, 'model');
  const chat = modelChat(config.template);
  /** What every model directory of the run records besides its weights: decoder, tokens, chat layout. */
  const modelLayout = { config: decoder, extraTokens, ...(chat ? { chat } : {}) };
  await writeDecoderModelDir(modelDir, { ...modelLayout, weights: initial, initSeed: seed });
  const apiKey = process.env[config.learner.apiKeyEnv];
  const policy: OnnxPolicy | TinkerPolicy =
    config.policy.kind === 'tinker'
      ? new TinkerPolicy({
          url: config.learner.url!,
          tokenizerDir: config.policy.tokenizerDir ?? modelDir,
          ...(apiKey ? { apiKey } : {}),
        })
      : await createOnnxPolicy({
          model: modelDir,
          executionProvider: 'cpu',
          threads: config.policy.threads,
          maxBatchSize: 256,
        });
  if (policy.tokenizer.vocabSize > decoder.vocabSize)
    throw new Error(`tokenizer has ${policy.tokenizer.vocabSize} tokens, the decoder ${decoder.vocabSize}`);
  /** A learner of the configured kind holding `weights`. */
  const createLearner = (weights: DecoderWeights, workers: number): Promise<Learner> => {
    const l = config.learner;
    if (l.kind === 'embedded')
      return createWorkerLearner(
        { decoder, weights, backend: l.backend, microBatchSize: l.microBatchSize },
        workers,
      );
    return TinkerLearner.create({
      url: l.url!,
      baseModel: l.baseModel ?? path.resolve(modelDir),
      ...(l.loraRank !== undefined ? { loraRank: l.loraRank, loraSeed: seed } : {}),
      ...(apiKey ? { apiKey } : {}),
    });
  };
  const lossConfig: LossFnConfig = {
    clipLow: config.rl.clipLow,
    clipHigh: config.rl.clipHigh,
    ratioLevel: config.rl.ratioLevel,
    aggregation: config.rl.aggregation,
    normLength: config.rl.normLength,
    entropyCoef: config.rl.entropyCoef,
    entropyTopFraction: config.rl.entropyTopFraction,
    temperature: config.rl.sampling.temperature || 1,
    ...(config.rl.truncation > 0 ? { truncation: config.rl.truncation } : {}),
    ...(config.rl.kl.coef > 0 ? { klCoef: config.rl.kl.coef, klEstimator: config.rl.kl.estimator } : {}),
  };
  const learner = await createLearner(initial, config.learner.workers);
  // A learner that cannot compute a loss of this run refuses it now, before any step.
  learner.checkLoss?.(config.rl.loss, lossConfig);
  learner.checkLoss?.('cross_entropy', {});
  learner.checkLoss?.('cross_entropy', { aggregation: 'token-sum' });
  /** The policy RL starts from, for `rl.kl`: it only scores (forward), never trains. */
  let reference: Learner | undefined;

  const { template, toolFormat } = chatLayout(chat, tools);
  const requestContext = samplingContext(policy, extraTokens);
  const episodeOptions = {
    template,
    toolFormat,
    maxTurns: config.maxTurns,
    maxContextTokens: decoder.maxPositions,
  };
  let rng = new Rng(seed ^ 0x7a11);
  let rolloutSeed = seed * 1_000_003;

  const play = async (
    p: Policy,
    taskIds: string[],
    groupSize: number,
    sampling: SamplingParams,
    record: {
      step?: number;
      sink?: RolloutSink | undefined;
      runId?: string;
      baseSeed?: number;
      environment?: Environment;
    } = {},
  ): Promise<Episodes> => {
    const { step, sink } = record;
    const baseSeed = record.baseSeed ?? rolloutSeed;
    const played = record.environment ?? environment;
    const result = await runRollouts({
      connect: () => EnvironmentClient.connect({ kind: 'in-process', environment: played }),
      sessions: 'episode',
      policy: p,
      taskIds,
      groupSize,
      concurrency: config.rl.concurrency,
      baseSeed,
      sampling,
      episode: episodeOptions,
      runId: record.runId ?? runId,
      ...(step !== undefined ? { step } : {}),
      ...(sink ? { sink } : {}),
      progress: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (record.baseSeed === undefined) rolloutSeed += taskIds.length * groupSize;
    // Groups arrive in completion order, which varies run to run: task order keeps training reproducible.
    const groups = [...result.groups].sort(
      (a, b) => (a.trajectories[0]?.seed ?? 0) - (b.trajectories[0]?.seed ?? 0),
    );
    return { groups, ms: result.ms };
  };

  /** The oracle's passing episodes on a supervised phase's tasks, played in `played.environment` (default the run's). */
  const demonstrations = async (
    phase: 'pretrain' | 'warm-up',
    w: SupervisedPhase,
    played: { environment?: Environment; baseSeed?: number } = {},
  ): Promise<Trajectory[]> => {
    const tasks = await selectTasks(played.environment ?? environment, w.tasks);
    const oracle = createOraclePolicy({ toolFormat, tokenizer: policy.tokenizer });
    const episodes = await play(
      oracle,
      tasks.map((t) => t.id),
      1,
      { temperature: 0, maxTokens: 256 },
      played,
    );
    const passed = episodes.groups
      .flatMap((g) => g.trajectories)
      .filter((t) => t.status === 'terminated' && t.tokenization === 'exact' && episodePassed(t));
    if (passed.length === 0) throw new Error(`${phase}: the oracle solved none of the ${phase} tasks`);
    return passed;
  };

  // Every line goes to metrics.jsonl; the sink (replay feed) gets one record per RL step (the
  // evaluation of that step merged in) and step 0 for the evaluation before RL.
  const writeMetrics = async (
    step: number,
    phase: 'pretrain' | 'warmup' | 'rl' | 'eval',
    metrics: Record<string, number>,
  ) => {
    await appendFile(
      metricsFile,
      `${JSON.stringify({ runId, phase, step, time: Date.now(), ...metrics })}\n`,
    );
    if (phase === 'rl' || (phase === 'eval' && step === 0)) {
      await options.sink?.onStepMetrics?.({ runId, step, metrics: { ...metrics } });
    }
  };

  const evalTasks = await selectTasks(environment, config.eval.tasks);
  const evaluate = async (step: number): Promise<EvalPoint> => {
    const t0 = performance.now();
    // Evaluation episodes go to the replay store as run `<runId>-eval`, beside the training ones.
    const { groups } = await play(
      policy,
      evalTasks.map((t) => t.id),
      1,
      samplingOf(config.eval.sampling, requestContext),
      // Seeds of their own, so that evaluating does not move the training episodes' seeds.
      { step, sink: options.sink, runId: `${runId}-eval`, baseSeed: hashString(`eval:${seed}:${step}`) },
    );
    const trajectories = groups.flatMap((g) => g.trajectories);
    const point = {
      step,
      accuracy: passShare(trajectories),
      components: meanComponents(trajectories),
      episodes: trajectories.length,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeMetrics(step, 'eval', { ...evalMetrics(point), eval_episodes: point.episodes });
    return point;
  };

  /**
   * A supervised phase's stop rule: `until.limit` of its tasks, spread evenly over them, played
   * greedily as the evaluation plays, with seeds of their own (the training episodes' seeds do not move).
   */
  const phaseCheck = async (phase: string, w: SupervisedPhase, played: Environment = environment) => {
    const all = await selectTasks(played, w.tasks);
    const count = Math.min(w.until!.limit, all.length);
    const taskIds = Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!.id);
    return {
      tasks: count,
      passRate: async (step: number): Promise<number> => {
        const { groups } = await play(policy, taskIds, 1, samplingOf(config.eval.sampling, requestContext), {
          environment: played,
          baseSeed: hashString(`${phase}-check:${seed}:${step}`),
        });
        return passShare(groups.flatMap((g) => g.trajectories));
      },
    };
  };

  /** What the policy plays with, as of the last publish: the learner's weights, or (tinker) their sampler save. */
  const takePublished = async (): Promise<Published> =>
    policy instanceof TinkerPolicy
      ? { samplerPath: await (learner as TinkerLearner).saveForSampler() }
      : { weights: (await learner.saveWeights()).weights };
  /** The policy plays `p` from now on, as the next version or as `version` (a resumed run's). */
  const playWith = async (p: Published, version?: number): Promise<void> => {
    const options = version !== undefined ? { version } : {};
    if (policy instanceof TinkerPolicy)
      policy.useSampler((p as { samplerPath: string }).samplerPath, options);
    else await policy.loadWeights((p as { weights: DecoderWeights }).weights, options);
  };
  let published: Published = { weights: initial };
  if (policy instanceof TinkerPolicy) {
    published = await takePublished();
    await playWith(published, 0);
  }
  const publish = async (): Promise<void> => {
    published = await takePublished();
    await playWith(published);
  };
  /** With `rl.asyncLevel` 1: what the episodes playing during a learner step are played with. */
  let inFlight: InFlight | undefined;
  /** RL's clock: training time (rollouts + learner), the held-out evaluations excluded. */
  let rlStart: number | undefined;
  let evalMs = 0;
  const rlTrainingMs = () => (rlStart === undefined ? 0 : performance.now() - rlStart - evalMs);

  const result: TrainResult = {
    runId,
    outDir,
    evals: [],
    before: 0,
    after: 0,
    rlSteps: 0,
    rlSeconds: 0,
    policyVersion: 0,
  };
  /**
   * Atomic checkpoint after RL step `rlStep` (0 = before RL): everything a resumed run needs to
   * continue identically. Every `checkpointEvery` steps, and at RL's last step (`rl.steps`, or the
   * step where its time budget ran out: `outOfTime`).
   */
  const checkpoint = async (rlStep: number, outOfTime = false) => {
    const last = outOfTime || rlStep === config.rl.steps;
    if (config.run.checkpointEvery === 0 || (rlStep % config.run.checkpointEvery !== 0 && !last)) return;
    const learnerState = await learner.saveState();
    const state: TrainCheckpointState = {
      format: 'toolgym-train-checkpoint@1',
      config,
      decoder,
      extraTokens,
      rlStep,
      learnerStep: learnerState.step,
      ...(learnerState.path ? { learnerPath: learnerState.path } : {}),
      // With a batch in flight, the rng as it was when that batch was drawn: a resumed run plays it again.
      rng: inFlight?.rng ?? rng.saveState(),
      rolloutSeed: inFlight?.rolloutSeed ?? rolloutSeed,
      policyVersion: policy.version,
      ...(inFlight
        ? {
            inFlight: {
              policyVersion: inFlight.policyVersion,
              ...('samplerPath' in inFlight.published ? { samplerPath: inFlight.published.samplerPath } : {}),
            },
          }
        : {}),
      rlTrainingMs: rlTrainingMs(),
      metricsBytes: (await stat(metricsFile)).size,
      result,
    };
    const shapes = decoderWeightShapes(decoder);
    await writeCheckpoint(checkpointDir, rlStep, {
      state,
      tensors: {
        ...learnerStateToTensors(learnerState, shapes),
        ...(inFlight && 'weights' in inFlight.published
          ? samplingWeightsToTensors(inFlight.published.weights, shapes)
          : {}),
      },
    });
  };
  try {
    // ── Supervised phases on the oracle's demonstrations: pretraining, then warm-up ─────────────
    /** `batchSize` sequences of `pack` demonstrations drawn at random. */
    const demoBatch = (w: SupervisedPhase, demos: Trajectory[], draw: Rng): Datum[] =>
      Array.from({ length: w.batchSize }, () =>
        packedDatum(
          Array.from({ length: w.pack }, () => demos[draw.int(0, demos.length - 1)]!),
          decoder.maxPositions,
        ),
      );
    /**
     * Up to `w.steps` cross-entropy steps (fewer when `w.until` is met); the policy then plays the
     * result, which is kept in `<run>/<dir>`. `played` is where the phase's tasks are played.
     */
    const supervised = async (
      phase: 'pretrain' | 'warm-up',
      w: SupervisedPhase,
      demos: Trajectory[],
      draw: Rng,
      dir: string,
      played?: Environment,
    ): Promise<PhaseResult> => {
      const t0 = performance.now();
      const metricsPhase = phase === 'pretrain' ? 'pretrain' : 'warmup';
      log(
        `${phase}: ${demos.length} oracle demonstrations, ${w.steps} steps of ${w.batchSize}` +
          (w.pack > 1 ? ` sequences of up to ${w.pack} packed demonstrations` : '') +
          (w.until ? `, or until it solves ${(w.until.passRate * 100).toFixed(0)}% of its tasks` : ''),
      );
      const until = w.until;
      const check = until && (await phaseCheck(phase, w, played));
      let loss = 0;
      let step = 0;
      let passRate: number | undefined;
      let checkedAt = 0;
      while (step < w.steps) {
        step++;
        const adam = adamAt(w.adam, step, stepProgress(step, w.steps));
        const out = await learner.forwardBackward(demoBatch(w, demos, draw), 'cross_entropy');
        const opt = await learner.optimStep(adam);
        loss = out.metrics.loss ?? 0;
        if (step % 25 === 0 || step === w.steps) {
          log(
            `${phase} step ${step}/${w.steps}  loss ${loss.toFixed(4)}  grad-norm ${opt.metrics.grad_norm.toFixed(3)}`,
          );
          await writeMetrics(step, metricsPhase, {
            loss,
            grad_norm: opt.metrics.grad_norm,
            learning_rate: adam.learningRate,
          });
        }
        if (until && check && step % until.every === 0) {
          await publish();
          checkedAt = step;
          passRate = await check.passRate(step);
          log(`${phase} step ${step}: solves ${(passRate * 100).toFixed(1)}% of ${check.tasks} of its tasks`);
          await writeMetrics(step, metricsPhase, { pass_rate: passRate });
          if (passRate >= until.passRate) break;
        }
      }
      if (checkedAt !== step) await publish();
      if ('weights' in published)
        await writeDecoderModelDir(path.join(outDir, dir), {
          ...modelLayout,
          weights: published.weights,
          policyVersion: policy.version,
        });
      return {
        steps: step,
        finalLoss: loss,
        seconds: (performance.now() - t0) / 1000,
        ...(passRate !== undefined ? { passRate } : {}),
      };
    };
    // The oracle's passing episodes of each phase, for the phase and for `rl.demos`. Pretraining's
    // have seeds of their own, so the warm-up and RL draw the same seeds with or without it; the
    // warm-up's are played before a resumed run restores its state, which they leave as it was.
    const pretrain = config.pretrain;
    const pretrainDemos =
      pretrain && pretrainEnvironment && ((!resumed && pretrain.steps > 0) || config.rl.demos.pretrain > 0)
        ? await demonstrations('pretrain', pretrain, {
            environment: pretrainEnvironment,
            baseSeed: hashString(`pretrain:${seed}`),
          })
        : [];
    if (!resumed && pretrain && pretrain.steps > 0) {
      result.pretrain = await supervised(
        'pretrain',
        pretrain,
        pretrainDemos,
        new Rng(seed ^ 0x7a11),
        'pretrain-model',
        pretrainEnvironment,
      );
      // The warm-up starts its own Adam from the pretrained weights, as from `policy.initFrom`.
      await learner.resetOptimizer();
    }
    const warmup = config.warmup;
    const needDemos = warmup && ((!resumed && warmup.steps > 0) || config.rl.demos.warmup > 0);
    const demos = needDemos ? await demonstrations('warm-up', warmup) : [];
    if (resumed) {
      const s = resumed.state;
      await learner.loadState({
        ...learnerStateFromTensors(resumed.tensors, s.learnerStep),
        ...(s.learnerPath ? { path: s.learnerPath } : {}),
      });
      published = await takePublished();
      // With a batch in flight the policy first plays it again, with the weights it was played with (below).
      if (s.policyVersion > 0 && !s.inFlight) await playWith(published, s.policyVersion);
      rng = Rng.fromState(s.rng);
      rolloutSeed = s.rolloutSeed;
      Object.assign(result, s.result);
    }
    if (!resumed && warmup && warmup.steps > 0) {
      // The warm-started policy, kept for comparison and as `policy.initFrom` of later RL runs.
      result.warmup = await supervised('warm-up', warmup, demos, rng, 'warmup-model');
    }

    // ── RL ─────────────────────────────────────────────────────────────────────────────────────
    if (!resumed) {
      const before = await evaluate(0);
      result.evals.push(before);
      result.before = before.accuracy;
      log(`eval before RL: ${describeEval(before)} (${before.episodes} episodes)`);
      await checkpoint(0);
    }
    const rlTasks = await selectTasks(environment, config.rl.tasks);
    const rl = config.rl;
    const budgetMs = rl.timeBudgetMinutes * 60_000;
    /** How far RL is, for its learning-rate schedule: through its steps, or its time budget if that ends first. */
    const rlProgress = (step: number) =>
      Math.max(stepProgress(step, rl.steps), budgetMs > 0 ? Math.min(1, rlTrainingMs() / budgetMs) : 0);
    if (rl.kl.coef > 0) {
      // What RL starts from: the warm-up's or pretraining's result (kept on disk, so a resumed run
      // finds it too), or the initial weights.
      const start =
        warmup && warmup.steps > 0 ? 'warmup-model' : pretrain?.steps ? 'pretrain-model' : undefined;
      reference = await createLearner(
        start ? await weightsFrom(path.join(outDir, start), decoder, extraTokens) : initial,
        1,
      );
    }
    /** One step's episodes, played with the policy's current weights, and the learner data they make. */
    const collect = async (step: number): Promise<Batch> => {
      const policyVersion = policy.version;
      const sampling = samplingOf(rl.sampling, requestContext);
      const draw = (count: number) =>
        Array.from({ length: count }, () => rlTasks[rng.int(0, rlTasks.length - 1)]!.id);
      const first = await play(policy, draw(rl.tasksPerStep), rl.groupSize, sampling, {
        step,
        sink: options.sink,
      });
      let rolloutMs = first.ms;
      const usable = (g: TrajectoryGroup) =>
        g.trajectories.filter((t) => t.status !== 'failed' && t.tokenization === 'exact');
      const rewardsOf = (g: TrajectoryGroup) => usable(g).map((t) => t.reward.total);
      const allGroups = [...first.groups];
      let groups = first.groups;
      let droppedGroups = 0;
      if (rl.dynamicSamplingRounds > 0) {
        const filled = await fillWithInformativeGroups(
          first.groups,
          rl.tasksPerStep,
          rewardsOf,
          async (count) => {
            const more = await play(policy, draw(count), rl.groupSize, sampling, {
              step,
              sink: options.sink,
            });
            rolloutMs += more.ms;
            allGroups.push(...more.groups);
            return more.groups;
          },
          rl.dynamicSamplingRounds,
        );
        groups = filled.groups;
        droppedGroups = filled.dropped;
      }
      const advantages = estimateAdvantages(rl.algorithm as AdvantageEstimator, groups.map(rewardsOf));
      const { coef, returns } = rl.turnCredit;
      const data: Datum[] = [];
      groups.forEach((g, gi) => {
        const trajectories = usable(g);
        const keep = rl.overlongFilter ? overlongKeepMask(trajectories) : trajectories.map(() => 1);
        const turns = coef > 0 ? turnAdvantages(trajectories.map(turnRewards), returns) : [];
        trajectories.forEach((t, i) => {
          const a = advantages[gi]![i] ?? 0;
          const perTurn = turns[i]?.map((x) => a + coef * x) ?? [];
          // No signal, or filtered: skip the compute.
          if ((a !== 0 || perTurn.some((x) => x !== 0)) && keep[i] === 1)
            data.push(rlDatum(t, coef > 0 ? perTurn : a));
        });
      });
      return {
        data,
        played: allGroups.flatMap(usable),
        groupCount: allGroups.length,
        zeroVariance: allGroups.filter((g) => isZeroVarianceGroup(rewardsOf(g))).length,
        droppedGroups,
        rolloutMs,
        policyVersion,
      };
    };
    /** `rl.demos`: each phase's weight in RL's loss, with its section and demonstrations. */
    const demoTerms = [
      { name: 'warmup', coef: rl.demos.warmup, phase: warmup, demos },
      { name: 'pretrain', coef: rl.demos.pretrain, phase: pretrain, demos: pretrainDemos },
    ].filter((t) => t.coef > 0 && t.phase !== undefined);
    /**
     * The learner's step on `data`. The demonstrations of `rl.demos` are drawn before the first
     * await, so the rng's draws keep one order while the next step's episodes play alongside.
     */
    const learn = async (step: number, data: Datum[]) => {
      const start = performance.now();
      const out = {
        lossMetrics: {} as Record<string, number>,
        gradNorm: 0,
        learningRate: 0,
        trainedTokens: 0,
        demoLoss: {} as Record<string, number>,
      };
      if (data.length === 0) return { ...out, ms: 0 };
      const demoData = Array.from({ length: rl.epochs }, () =>
        demoTerms.map((t) => ({
          ...t,
          // token-sum of weights that add up to coef = coef × the token-mean cross-entropy
          batch: withTotalWeight(demoBatch(t.phase!, t.demos, rng), t.coef),
        })),
      );
      if (reference) {
        // Only its logprobs are needed: the cheapest loss (cross-entropy) scores them, at the sampling temperature.
        const scored = await reference.forward(data, 'cross_entropy', {
          temperature: lossConfig.temperature,
        });
        data.forEach((d, i) => {
          d.lossFnInputs.ref_logprobs = scored.lossFnOutputs[i]!.logprobs;
        });
      }
      for (let epoch = 0; epoch < rl.epochs; epoch++) {
        const fb = await learner.forwardBackward(data, rl.loss, lossConfig);
        for (const demo of demoData[epoch]!) {
          const d = await learner.forwardBackward(demo.batch, 'cross_entropy', {
            aggregation: 'token-sum',
          });
          out.demoLoss[`demo_loss/${demo.name}`] = (d.metrics.loss ?? 0) / demo.coef;
          out.trainedTokens += d.metrics.tokens ?? 0;
        }
        const adam = adamAt(rl.adam, step, rlProgress(step));
        const opt = await learner.optimStep(adam);
        out.learningRate = adam.learningRate;
        out.lossMetrics = fb.metrics;
        out.gradNorm = opt.metrics.grad_norm;
        out.trainedTokens += fb.metrics.tokens ?? 0;
      }
      return { ...out, ms: performance.now() - start };
    };
    /** Starts playing a step's episodes; with `asyncLevel` 1, remembers what a checkpoint needs to play them again. */
    const startCollect = (step: number): Promise<Batch> => {
      inFlight =
        rl.asyncLevel > 0
          ? { rng: rng.saveState(), rolloutSeed, policyVersion: policy.version, published }
          : undefined;
      return collect(step);
    };

    // A resumed run's clock goes on from the checkpoint's.
    rlStart = performance.now() - (resumed?.state.rlTrainingMs ?? 0);
    const firstStep = (resumed?.state.rlStep ?? 0) + 1;
    // A run resumed after its time budget ran out has no step left.
    const lastStep = budgetMs > 0 && rlTrainingMs() > budgetMs ? firstStep - 1 : rl.steps;
    let next: Promise<Batch> | undefined;
    const pendingAtResume = resumed?.state.inFlight;
    if (resumed && pendingAtResume && firstStep <= lastStep) {
      // Play the batch the interrupted run was playing, with the weights it was played with.
      // (Version 0 is the initial weights, which the policy was created with.)
      if (pendingAtResume.policyVersion > policy.version)
        await playWith(
          pendingAtResume.samplerPath
            ? { samplerPath: pendingAtResume.samplerPath }
            : { weights: samplingWeightsFromTensors(resumed.tensors) },
          pendingAtResume.policyVersion,
        );
      next = startCollect(firstStep);
      await next;
      if (resumed.state.policyVersion > policy.version)
        await playWith(published, resumed.state.policyVersion);
    }
    for (let step = firstStep; step <= lastStep; step++) {
      if (options.signal?.aborted) break;
      const stepStart = performance.now();
      const batch = await (next ?? startCollect(step));
      next = undefined;
      inFlight = undefined;
      // The learner trains in its own threads (or process). With asyncLevel 1 the next step's
      // episodes play meanwhile, with the weights from before this step; the new ones are
      // published when both are done.
      const learning = learn(step, batch.data); // first: it draws its demonstrations now
      if (rl.asyncLevel > 0 && step < rl.steps) next = startCollect(step + 1);
      const [learned] = await Promise.all([learning, next]);
      const policyLag = policy.version - batch.policyVersion;
      const publishStart = performance.now();
      if (batch.data.length > 0) await publish();
      const learnMs = learned.ms + (performance.now() - publishStart);
      result.rlSteps = step;
      const { played } = batch;
      const rewards = played.map((t) => t.reward.total);
      const metrics: Record<string, number> = {
        reward_mean: mean(rewards),
        reward_std: std(rewards),
        pass_at_1: played.filter((t) => episodePassed(t)).length / Math.max(1, played.length),
        zero_variance_share: batch.zeroVariance / Math.max(1, batch.groupCount),
        dropped_groups: batch.droppedGroups,
        trained_sequences: batch.data.length,
        entropy: learned.lossMetrics.entropy ?? 0,
        approx_kl: learned.lossMetrics.approx_kl ?? 0,
        ...(learned.lossMetrics.kl_ref !== undefined ? { kl_ref: learned.lossMetrics.kl_ref } : {}),
        clip_fraction: learned.lossMetrics.clip_fraction ?? 0,
        loss: learned.lossMetrics.loss ?? 0,
        grad_norm: learned.gradNorm,
        learning_rate: learned.learningRate,
        tokens_per_s: learned.trainedTokens / Math.max(1e-9, learned.ms / 1000),
        sampled_tokens_per_s:
          sum(played.map((t) => t.lossMask.reduce((a: number, b) => a + b, 0))) /
          Math.max(1e-9, batch.rolloutMs / 1000),
        episode_tokens: mean(played.map((t) => t.tokens.length)),
        turns: mean(played.map((t) => t.turns.length)),
        // Wall times of the two activities: with asyncLevel 1 they overlap (and share the cores), so
        // they can add up to more than step_s.
        rollout_s: batch.rolloutMs / 1000,
        learner_s: learnMs / 1000,
        step_s: (performance.now() - stepStart) / 1000,
        policy_version: policy.version,
        // Optimiser steps between the weights that played this batch and those it trained.
        policy_lag: policyLag,
        ...learned.demoLoss,
      };
      for (const [name, value] of Object.entries(meanComponents(played))) metrics[`reward/${name}`] = value;
      // The budget counts training time (rollouts + learner), not the held-out evaluations.
      const outOfTime = budgetMs > 0 && rlTrainingMs() > budgetMs;
      if (step % config.eval.every === 0 || step === rl.steps || outOfTime) {
        const evalStart = performance.now();
        const point = await evaluate(step);
        evalMs += performance.now() - evalStart;
        result.evals.push(point);
        Object.assign(metrics, evalMetrics(point));
      }
      await writeMetrics(step, 'rl', metrics);
      log(
        `step ${step}/${rl.steps}  reward ${metrics.reward_mean!.toFixed(3)}  pass@1 ${(metrics.pass_at_1! * 100).toFixed(1)}%  zero-var ${(metrics.zero_variance_share! * 100).toFixed(0)}%  ` +
          `entropy ${metrics.entropy!.toFixed(3)}  kl ${metrics.approx_kl!.toExponential(1)}  clip ${metrics.clip_fraction!.toFixed(3)}  ` +
          `|g| ${learned.gradNorm.toFixed(2)}  ${metrics.tokens_per_s!.toFixed(0)} tok/s  ${metrics.step_s!.toFixed(1)}s`,
      );
      const point = result.evals.at(-1);
      if (point?.step === step) log(`eval at step ${step}: ${describeEval(point)}`);
      await checkpoint(step, outOfTime);
      if (outOfTime) {
        log(
          `RL time budget of ${rl.timeBudgetMinutes} min (training time, evaluations excluded) reached after ${step} steps`,
        );
        break;
      }
    }
    result.rlSeconds = rlTrainingMs() / 1000;
    const last = result.evals[result.evals.length - 1];
    if (!last || last.step !== result.rlSteps) {
      const point = await evaluate(result.rlSteps);
      result.evals.push(point);
    }
    result.after = result.evals[result.evals.length - 1]!.accuracy;
    result.policyVersion = policy.version;
    if (!(policy instanceof TinkerPolicy))
      await writeDecoderModelDir(path.join(outDir, 'final-model'), {
        ...modelLayout,
        weights: (await learner.saveWeights()).weights,
        policyVersion: policy.version,
      });
    await writeFile(path.join(outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await learner.close();
    await reference?.close();
    if (!(policy instanceof TinkerPolicy)) await policy.close();
  }
}

function chatLayout(
  chat: ModelChat | undefined,
  tools: ReturnType<Environment['toolSpecs']['slice']>,
): { template?: ChatTemplate; toolFormat?: ToolCallFormat } {
  if (!chat) return {};
  return {
    template: new ChatTemplate(chat.template, {}, 'compact'),
    toolFormat: recordedToolCalls(chat.toolCalls, tools),
  };
}

/**
 * The chat layout a model trained with `template` records in its model directory (the chat template
 * and the tool-call format), so `toolgym eval --policy onnx:<dir>` plays it as trained; none for Hermes.
 */
export function modelChat(template: TrainConfig['template']): ModelChat | undefined {
  if (template.kind === 'hermes') return undefined;
  return { template: compactChatTemplate({ dropFromPrompt: template.dropFromPrompt }), toolCalls: 'compact' };
}

/** `options.pretrainEnvironment`, checked to offer the environment's tools (the policy's tool tokens). */
function pretrainEnvironmentOf(options: TrainOptions): Environment {
  const pretrain = options.pretrainEnvironment;
  if (!pretrain)
    throw new TrainConfigError(
      'the config has a pretrain section: pass pretrainEnvironment, the environment made with pretrain.options merged over environment.options',
    );
  const names = (e: Environment) => e.toolSpecs.map((t) => t.name).join(', ');
  if (names(pretrain) !== names(options.environment))
    throw new TrainConfigError(
      `pretrain.options change the environment's tools (${names(pretrain)} instead of ${names(options.environment)}); pretraining must offer the same tools, which are the policy's`,
    );
  return pretrain;
}

/** Weights of a model directory whose decoder and extra tokens equal the run's (else a config error naming the difference). */
async function weightsFrom(
  dir: string,
  decoder: DecoderConfig,
  extraTokens: readonly string[],
): Promise<DecoderWeights> {
  const model = await readDecoderModelDir(dir);
  const theirs = JSON.stringify(model.config);
  if (theirs !== JSON.stringify(decoder))
    throw new TrainConfigError(
      `policy.initFrom: ${dir} holds a decoder ${theirs}, but the config asks for ${JSON.stringify(decoder)}; set policy.model (and template.toolTokens) to match it`,
    );
  const tokens = readModelDir(dir).toolgym?.extraTokens ?? [];
  if (JSON.stringify(tokens) !== JSON.stringify(extraTokens))
    throw new TrainConfigError(
      `policy.initFrom: ${dir} has extra tokens ${JSON.stringify(tokens)}, the run ${JSON.stringify(extraTokens)}; match template.toolTokens and the environment`,
    );
  return model.weights;
}

/**
 * The RL datum of a trajectory (sampling logprobs kept), cut after its last trained token: what
 * follows (the environment's reply to the final call) cannot change any trained token's logprob
 * in a causal model, so it is never sent to the learner.
 */
export function rlDatum(t: Trajectory, advantage: number | readonly number[]): Datum {
  const end = trainedEnd(t.lossMask);
  const tokens = t.tokens.slice(0, end);
  const advantages =
    typeof advantage === 'number'
      ? tokens.map(() => advantage)
      : turnValuesToTokens(
          end,
          t.turns.map((turn) => turn.sampled),
          advantage,
        );
  return datumFromSequence(tokens, t.lossMask.slice(0, end), {
    advantages,
    logprobs: t.logprobs.slice(0, end),
  });
}

/**
 * Each assistant turn's process reward: the sum of the environment's step rewards
 * (`reward.steps`, one per tool call in order) for the calls the turn made; 0 for a turn without.
 */
export function turnRewards(t: Trajectory): number[] {
  const steps = t.reward.steps;
  if (!steps)
    throw new TrainConfigError(
      `rl.turnCredit needs process rewards, but the environment graded episode ${t.id} without reward.steps; set rl.turnCredit.coef to 0 or use an environment that reports them`,
    );
  const calls = t.turns.reduce((n, turn) => n + turn.toolCalls.length, 0);
  if (calls !== steps.length)
    throw new Error(
      `episode ${t.id} made ${calls} tool calls but its reward has ${steps.length} step rewards`,
    );
  let next = 0;
  return t.turns.map((turn) => {
    const mine = steps.slice(next, next + turn.toolCalls.length);
    next += turn.toolCalls.length;
    return mine.reduce((a, b) => a + b, 0);
  });
}

/** Where a sequence's last trained token ends (at least 2 tokens, the shortest datum). */
function trainedEnd(lossMask: readonly number[]): number {
  return Math.max(2, lossMask.lastIndexOf(1) + 1);
}

/**
 * One supervised datum of demonstrations played one after another, as pretraining packs documents:
 * the sequence cut after its last trained token. Demonstrations that would pass `maxLength` tokens
 * are left out (the first is always kept).
 */
export function packedDatum(
  demos: readonly Pick<Trajectory, 'tokens' | 'lossMask'>[],
  maxLength: number,
): Datum {
  const tokens: number[] = [];
  const lossMask: Array<0 | 1> = [];
  for (const t of demos) {
    if (tokens.length > 0 && tokens.length + trainedEnd(t.lossMask) > maxLength) break;
    tokens.push(...t.tokens);
    lossMask.push(...t.lossMask);
  }
  const end = trainedEnd(lossMask);
  return datumFromSequence(tokens.slice(0, end), lossMask.slice(0, end));
}

/** The same data with loss weights scaled to add up to `total` over the whole batch. */
export function withTotalWeight(data: Datum[], total: number): Datum[] {
  const scale = total / Math.max(sum(data.flatMap(lossWeights)), 1e-8);
  return data.map((d) => ({
    ...d,
    lossFnInputs: { ...d.lossFnInputs, weights: lossWeights(d).map((w) => w * scale) },
  }));
}

/** What every request of the run shares: stop ids, and the tool-name tokens that exploration picks from. */
interface SamplingContext {
  stopTokenIds: number[];
  toolNameIds: number[];
  callOpenId: number;
}

function samplingContext(policy: { tokenizer: Tokenizer }, extraTokens: readonly string[]): SamplingContext {
  const single = (text: string) => {
    const ids = policy.tokenizer.encode(text);
    if (ids.length !== 1) throw new Error(`'${text}' is not one token of the policy's tokenizer`);
    return ids[0]!;
  };
  return {
    stopTokenIds: [...policy.tokenizer.eosTokenIds],
    toolNameIds: extraTokens.map(single),
    callOpenId: single(TOOL_CALL_OPEN),
  };
}

/** How far step `step` (1-based) is through a phase of `steps`: 0 at the first, 1 at the last. */
export const stepProgress = (step: number, steps: number): number =>
  steps > 1 ? Math.min(1, (step - 1) / (steps - 1)) : 0;

/**
 * Adam's settings for step `step` (1-based) of a phase, `progress` (0–1) of the way through it: the
 * warm-up (over steps) and the schedule (over progress) applied to the rate. Both schedules end at
 * a tenth of the rate: `cosine` decays all the way, `wsd` (warmup-stable-decay, MiniCPM, Hu et al.
 * 2024) holds the rate, then decays linearly over the last `decayFraction` of the phase.
 */
export function adamAt(adam: TrainConfig['rl']['adam'], step: number, progress: number): AdamParams {
  const { schedule, warmupSteps, decayFraction, ...params } = adam;
  const warm = warmupSteps > 0 ? Math.min(1, step / warmupSteps) : 1;
  const floor = 0.1;
  const decayed =
    schedule === 'cosine'
      ? 0.5 * (1 - Math.cos(Math.PI * progress))
      : schedule === 'wsd'
        ? Math.max(0, (progress - (1 - decayFraction)) / decayFraction)
        : 0;
  return { ...params, learningRate: params.learningRate * warm * (1 - (1 - floor) * decayed) };
}

function samplingOf(s: TrainConfig['rl']['sampling'], context: SamplingContext): SamplingParams {
  return {
    temperature: s.temperature,
    maxTokens: s.maxTokens,
    stopTokenIds: context.stopTokenIds,
    ...(s.exploreToolNames > 0
      ? {
          explore: {
            epsilon: s.exploreToolNames,
            tokenIds: context.toolNameIds,
            afterTokenIds: [context.callOpenId],
            among: s.exploreAmong,
            fromDecision: s.exploreFromCall,
          },
        }
      : {}),
  };
}

const evalMetrics = (point: EvalPoint): Record<string, number> => ({
  eval_accuracy: point.accuracy,
  ...Object.fromEntries(Object.entries(point.components).map(([n, v]) => [`eval/${n}`, v])),
});

/** `held-out accuracy 12.5% (composed 0.090, correct 0.125, progress 0.610, valid_calls 1.000)`. */
const describeEval = (point: EvalPoint): string =>
  `held-out accuracy ${(point.accuracy * 100).toFixed(1)}% (${Object.entries(point.components)
    .map(([n, v]) => `${n} ${v.toFixed(3)}`)
    .join(', ')})`;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
const std = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

export type { DecoderWeights, Trajectory };

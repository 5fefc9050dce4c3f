/**
 * The run context every phase works with: the run's directory and metrics, the policy that plays
 * (ToolGym's onnx engine, or a Tinker service's sampler) and the learner that trains it, the
 * seeded state a checkpoint keeps (the rng, the rollout seed, the published weights, the result so
 * far), and the two acts between them — `play` episodes with a policy, `publish` the learner's
 * weights to the policy.
 */
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  createOnnxPolicy,
  type DecoderConfig,
  type DecoderWeights,
  initDecoderWeights,
  type OnnxPolicy,
  type Policy,
  RenderCache,
  type RolloutSink,
  runRollouts,
  type SamplingParams,
  type ToolCallFormat,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { Environment, EnvironmentClient, EnvironmentPool, withFeedback } from '@toolgym/env-kit';
import { Rng, type TaskSeat, type TrajectoryGroup, taskSeatOf } from '@toolgym/protocol';
import { TinkerLearner } from '../api/tinker-learner.ts';
import { TinkerPolicy } from '../api/tinker-policy.ts';
import type { Learner } from '../learner/learner.ts';
import { createWorkerLearner } from '../learner/worker-learner.ts';
import { type TrainConfig, TrainConfigError } from './config.ts';
import { MetricsLog } from './metrics.ts';
import { chatLayout, modelChat, pretrainEnvironmentOf, weightsFrom } from './policy-model.ts';
import { rlLossConfig } from './rl-loss.ts';
import { openRunDir, type RunDir } from './run-dir.ts';
import { type SamplingContext, samplingContext } from './sampling.ts';
import type { Published } from './train-checkpoint.ts';
import type { Provenance, TrainResult } from './train-result.ts';

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
  /** The command and commit that started the run, recorded in `result.json`. */
  provenance?: Provenance;
}

/** The groups of one `play`, in task order, and its wall time. */
export interface Episodes {
  groups: TrajectoryGroup[];
  ms: number;
}

/** Where `play` plays and records its episodes. */
export interface PlayRecord {
  /** The RL step they belong to (recorded in each trajectory). */
  step?: number;
  sink?: RolloutSink | undefined;
  /** Default the run's id; evaluations use `<runId>-eval`. */
  runId?: string;
  /** Seeds of their own; by default the run's rollout seed, which then moves past them. */
  baseSeed?: number;
  /** Default the run's environment. */
  environment?: Environment;
  /** Seat the policy in every seat of each match among the tasks (`rl.selfPlay`). */
  selfPlay?: boolean;
  /** How far RL is (0–1), told to each episode for the environment's curriculum. */
  progress?: number;
}

/** What a run holds: its parts, fixed once it is open, and the state a checkpoint keeps. */
export interface TrainingRun {
  readonly config: TrainConfig;
  /** What RL plays: the environment of the options, with `environment.feedback` if configured. */
  readonly environment: Environment;
  /** What evaluations play: `environment`, or without its feedback (`feedback.inEval: false`). */
  readonly evalEnvironment: Environment;
  readonly pretrainEnvironment: Environment | undefined;
  readonly sink: RolloutSink | undefined;
  readonly signal: AbortSignal | undefined;
  readonly log: (line: string) => void;
  readonly runId: string;
  readonly dir: RunDir;
  readonly metrics: MetricsLog;
  readonly decoder: DecoderConfig;
  /** The tokenizer's tokens after the byte tokenizer's (tool names with `template.toolTokens`). */
  readonly extraTokens: string[];
  /** The weights the run starts from (a random init or `policy.initFrom`). */
  readonly initial: DecoderWeights;
  readonly policy: OnnxPolicy | TinkerPolicy;
  readonly learner: Learner;
  /** A learner of the configured kind holding `weights` (the KL reference is a second one). */
  readonly learnerOf: (weights: DecoderWeights, workers: number) => Promise<Learner>;
  /** What every request of the run shares (stop ids, the tool-name tokens exploration picks from). */
  readonly sampling: SamplingContext;
  /** How the policy writes tool calls (none: the tokenizer's chat template decides). */
  readonly toolFormat: ToolCallFormat | undefined;
  readonly result: TrainResult;
  rng: Rng;
  rolloutSeed: number;
  /** What the policy plays with: the learner's weights (or their sampler save) as of the last publish. */
  published: Published;
  /** Running advantage baselines by role (`rl.algorithm: rae`), carried from step to step. */
  baselines: Record<string, number>;
  /** Plays each task `groupSize` times with `policy` through the rollout engine; groups come back in task order. */
  play(
    policy: Policy,
    taskIds: string[],
    groupSize: number,
    sampling: SamplingParams,
    record?: PlayRecord,
  ): Promise<Episodes>;
  /** What the policy would play with if published now: the learner's weights, or a new sampler save of them. */
  takePublished(): Promise<Published>;
  /** The policy plays `p` from now on, as its next version or as `version` (a resumed run's). */
  playWith(p: Published, version?: number): Promise<void>;
  /** Gives the policy the learner's weights (its version goes up by one). */
  publish(): Promise<void>;
  /**
   * Keeps the learner's weights as the model directory `<run>/<name>`, playable with
   * `--policy onnx:<dir>` (with `policy.kind: tinker` they stay on the service: nothing is written).
   */
  saveModel(name: string): Promise<void>;
  close(): Promise<void>;
}

const seatMaps = new WeakMap<Environment, Promise<Map<string, TaskSeat>>>();

/** Each task's seat of a shared match, for the tasks that are one. */
function seatsOf(environment: Environment): Promise<Map<string, TaskSeat>> {
  let seats = seatMaps.get(environment);
  if (!seats) {
    seats = environment.tasks().then((tasks) => {
      const byTask = new Map<string, TaskSeat>();
      for (const task of tasks) {
        const seat = taskSeatOf(task);
        if (seat) byTask.set(task.id, seat);
      }
      return byTask;
    });
    seatMaps.set(environment, seats);
  }
  return seats;
}

/** Opens the run: its directory, the initial weights, the policy and the learner. */
export async function openRun(options: TrainOptions): Promise<TrainingRun> {
  const { config } = options;
  const { inEval, trainOn: _trainOn, ...feedback } = config.environment.feedback ?? { inEval: true };
  const environment =
    'tryAgain' in feedback
      ? new Environment(withFeedback(options.environment.definition, feedback), options.environment.config)
      : options.environment;
  const pretrainEnvironment = config.pretrain
    ? pretrainEnvironmentOf(environment, options.pretrainEnvironment)
    : undefined;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Fails fast on servers that are down or serve another environment, before the run directory.
  const pool = await openPool(config, environment);
  const dir = await openRunDir(config, options.resume === true, log);
  const seed = config.run.seed;
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
  const chat = modelChat(config.template);
  /** What every model directory of the run records besides its weights: decoder, tokens, chat layout. */
  const modelLayout = { config: decoder, extraTokens, ...(chat ? { chat } : {}) };
  const modelDir = path.join(dir.path, 'model');
  await writeDecoderModelDir(modelDir, { ...modelLayout, weights: initial, initSeed: seed });
  const apiKey = process.env[config.learner.apiKeyEnv];
  const policy =
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
          batchInvariant: config.policy.batchInvariant,
        });
  if (policy.tokenizer.vocabSize > decoder.vocabSize)
    throw new TrainConfigError(
      `the tokenizer has ${policy.tokenizer.vocabSize} tokens but the decoder only ${decoder.vocabSize}`,
      'start from a model directory whose decoder covers its tokenizer (policy.initFrom), or raise the decoder vocabulary',
    );
  const learnerOf = (weights: DecoderWeights, workers: number): Promise<Learner> => {
    const l = config.learner;
    if (l.kind === 'embedded')
      return createWorkerLearner(
        { decoder, weights, backend: l.backend, microBatchSize: l.microBatchSize },
        workers,
      );
    // The service starts from its base model (the config refuses rl.kl, the one caller with other weights).
    return TinkerLearner.create({
      url: l.url!,
      baseModel: l.baseModel ?? path.resolve(modelDir),
      ...(l.loraRank !== undefined ? { loraRank: l.loraRank, loraSeed: seed } : {}),
      ...(apiKey ? { apiKey } : {}),
    });
  };
  const learner = await learnerOf(initial, config.learner.workers);
  // A learner that cannot compute a loss of this run refuses it now, before any step.
  learner.checkLoss?.(config.rl.loss, rlLossConfig(config.rl));
  learner.checkLoss?.('cross_entropy', {});
  learner.checkLoss?.('cross_entropy', { aggregation: 'token-sum' });
  if (config.environment.model === 'policy')
    for (const e of new Set([environment, pretrainEnvironment])) e?.useModel(policy);
  const runId = options.runId ?? dir.name;
  const { template, toolFormat } = chatLayout(chat, tools);
  const episode = { template, toolFormat, maxTurns: config.maxTurns, maxContextTokens: decoder.maxPositions };
  // One render cache per policy and environment played (one tokenizer and tool list), kept across steps.
  const renderCaches = new WeakMap<Policy, WeakMap<Environment, RenderCache>>();
  const renderCacheOf = (p: Policy, played: Environment) => {
    const byEnvironment = renderCaches.get(p) ?? new WeakMap<Environment, RenderCache>();
    renderCaches.set(p, byEnvironment);
    const cache = byEnvironment.get(played) ?? new RenderCache();
    byEnvironment.set(played, cache);
    return cache;
  };

  const run: TrainingRun = {
    config,
    environment,
    evalEnvironment: inEval ? environment : options.environment,
    pretrainEnvironment,
    sink: options.sink,
    signal: options.signal,
    log,
    runId,
    dir,
    metrics: new MetricsLog(dir.metricsFile, runId, options.sink),
    decoder,
    extraTokens,
    initial,
    policy,
    learner,
    learnerOf,
    sampling: samplingContext(policy, extraTokens),
    toolFormat,
    result: {
      runId,
      outDir: dir.path,
      seed,
      ...(options.provenance ? { provenance: options.provenance } : {}),
      evals: [],
      before: 0,
      after: 0,
      rlSteps: 0,
      stoppedBy: 'steps',
      rlSeconds: 0,
      policyVersion: 0,
      metricsDigest: '',
      config,
    },
    rng: new Rng(seed ^ 0x7a11),
    rolloutSeed: seed * 1_000_003,
    published: { weights: initial },
    baselines: {},
    async play(p, taskIds, groupSize, sampling, record = {}) {
      // A variant of the environment (the pretraining one) is played here: the servers run the run's.
      const remote = pool && !record.environment ? pool : undefined;
      const played = record.environment ?? environment;
      const seats = record.selfPlay ? await seatsOf(played) : undefined;
      const result = await runRollouts({
        ...(seats ? { seatOf: (id: string) => seats.get(id) } : {}),
        ...(remote
          ? { connect: () => remote.connect(), sessions: 'worker' as const, retryLostEpisodes: true }
          : {
              connect: () => EnvironmentClient.connect({ kind: 'in-process', environment: played }),
              sessions: 'episode' as const,
            }),
        policy: p,
        taskIds,
        groupSize,
        concurrency: config.rl.concurrency,
        baseSeed: record.baseSeed ?? run.rolloutSeed,
        sampling,
        episode,
        renderCache: renderCacheOf(p, played),
        runId: record.runId ?? runId,
        ...(record.step !== undefined ? { step: record.step } : {}),
        ...(record.progress !== undefined ? { trainingProgress: record.progress } : {}),
        ...(record.sink ? { sink: record.sink } : {}),
        progress: false,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      for (const r of result.retried)
        log(`${r.taskId} (seed ${r.seed}) played again after its server failed: ${r.failure.code} (${r.failure.message})`);
      if (record.baseSeed === undefined) run.rolloutSeed += taskIds.length * groupSize;
      // Groups arrive in completion order, which varies run to run: task order keeps training reproducible.
      const groups = [...result.groups].sort(
        (a, b) => (a.trajectories[0]?.seed ?? 0) - (b.trajectories[0]?.seed ?? 0),
      );
      return { groups, ms: result.ms };
    },
    async takePublished() {
      return policy instanceof TinkerPolicy
        ? { samplerPath: await (learner as TinkerLearner).saveForSampler() }
        : { weights: (await learner.saveWeights()).weights };
    },
    async playWith(p, version) {
      const options = version !== undefined ? { version } : {};
      if (policy instanceof TinkerPolicy)
        policy.useSampler((p as { samplerPath: string }).samplerPath, options);
      else await policy.loadWeights((p as { weights: DecoderWeights }).weights, options);
    },
    async publish() {
      run.published = await run.takePublished();
      await run.playWith(run.published);
    },
    async saveModel(name) {
      if (policy instanceof TinkerPolicy) return;
      const { weights } = await learner.saveWeights();
      await writeDecoderModelDir(path.join(dir.path, name), {
        ...modelLayout,
        weights,
        policyVersion: policy.version,
      });
    },
    async close() {
      pool?.close();
      await learner.close();
      if (!(policy instanceof TinkerPolicy)) await policy.close();
    },
  };
  if (policy instanceof TinkerPolicy) {
    // Version 0 samples the initial weights, as ToolGym's engine starts from them.
    run.published = await run.takePublished();
    await run.playWith(run.published, 0);
  }
  return run;
}

/**
 * The pool of `environment.endpoints`, if any, checked to serve the run's environment: the trainer
 * draws tasks and tool specs from its own copy, so a server of anything else is a config error.
 */
async function openPool(config: TrainConfig, environment: Environment): Promise<EnvironmentPool | undefined> {
  const { endpoints, tokenEnv } = config.environment;
  if (endpoints.length === 0) return undefined;
  const token = process.env[tokenEnv];
  const pool = await EnvironmentPool.open({ endpoints, ...(token ? { token } : {}) });
  const client = await pool.connect();
  try {
    const info = await client.info();
    const names = (tools: readonly { name: string }[]) => tools.map((t) => t.name).join(',');
    if (info.id !== environment.id || names(info.tools) !== names(environment.toolSpecs))
      throw new TrainConfigError(
        `environment.endpoints serve '${info.id}' with tools ${names(info.tools)}, not the run's '${environment.id}'`,
        `start the servers with toolgym env serve ${config.environment.id} and the run's environment.options`,
      );
  } catch (error) {
    pool.close();
    throw error;
  } finally {
    await client.close();
  }
  return pool;
}

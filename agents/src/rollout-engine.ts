import { randomUUID } from 'node:crypto';
import type { EnvironmentClient } from '@toolgym/env-kit';
import {
  type Failure,
  type TaskSeat,
  type ToolSpec,
  TRAJECTORY_SCHEMA_VERSION,
  type Trajectory,
  type TrajectoryGroup,
} from '@toolgym/protocol';
import { describeFailure, type EpisodeOptions, playEpisode } from './agent-loop.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import { episodePassed } from './episode-outcome.ts';
import { EpisodeTurnStream, TokenPieces } from './episode-turn-stream.ts';
import type { Policy, SamplingParams } from './policy.ts';
import { ProgressBar } from './progress-bar.ts';
import type { RolloutSink } from './rollout-sink.ts';
import { RenderCache } from './turn-renderer.ts';

export interface RolloutOptions {
  /**
   * Opens a session of the environment. Called whenever a worker needs one: at first, and again
   * after a session failed (a crashed server is replaced, never reused).
   */
  connect: () => Promise<EnvironmentClient>;
  /**
   * `episode`: a fresh session for every episode (cheap in-process). `worker`: each worker keeps
   * its session across episodes (stdio and HTTP servers are expensive to open). Default `worker`.
   */
  sessions?: 'episode' | 'worker';
  policy: Policy;
  /** Task ids; each is played `groupSize` times with different seeds. */
  taskIds: readonly string[];
  groupSize: number;
  /** Episodes in flight at once across all tasks. */
  concurrency: number;
  /** Episode `j` of task `i` gets seed `baseSeed + i * groupSize + j`. */
  baseSeed?: number;
  /**
   * Self-play: the seat each task is of a shared match (`taskSeatOf` reads it from a task's meta),
   * undefined for a task that is none. Episode `j` of every seat of a match then joins one match
   * (a fresh id in `toolgym/episode/start`), so the seats play each other; each seat is still its
   * own episode and trajectory. A match's seats are queued one after another, so a seat waits for
   * its partner at most until a slot frees. Every seat of such a match must be among `taskIds`.
   */
  seatOf?: (taskId: string) => TaskSeat | undefined;
  sampling: SamplingParams;
  /** Passed to every episode (template, tool format, turn and token limits, system prompt). */
  episode?: Pick<
    EpisodeOptions,
    | 'template'
    | 'templateCheck'
    | 'toolFormat'
    | 'systemPrompt'
    | 'maxTurns'
    | 'maxContextTokens'
    | 'controlTimeoutMs'
  >;
  /** An episode running longer is cancelled and recorded as failed (`episode_timeout`). */
  episodeTimeoutMs?: number;
  /**
   * Play an episode whose environment was lost or unreachable (`environment_lost`,
   * `environment_unavailable`) once more on a new session, which `connect` may open elsewhere (an
   * `EnvironmentPool` routes it to a healthy server). Its group holds only the second attempt; the
   * first is listed in `RolloutResult.retried`. Default false.
   */
  retryLostEpisodes?: boolean;
  /** Receives each TrajectoryGroup as soon as all its episodes are done, one group at a time. */
  sink?: RolloutSink;
  /**
   * What the episodes share in rendering (layouts, prompts, the periodic full check). Pass one to
   * share it across the runs of one policy (tokenizer), template and tool list, such as a training
   * run's steps, so layouts are learned and checked against Jinja once rather than every call.
   * Default: a new one per call.
   */
  renderCache?: RenderCache;
  runId?: string;
  step?: number;
  /** How far the training run is (0–1), told to every episode at its start (`toolgym/episode/start`). */
  trainingProgress?: number;
  /** Draw a progress bar on stderr; `auto` (default) draws only on a terminal. */
  progress?: boolean | 'auto';
  /** How the progress bar counts passes (see `episodePassed`). */
  passOptions?: { component?: string; rewardRange?: readonly [number, number] };
  signal?: AbortSignal;
}

export interface RolloutResult {
  /** In the order they completed. */
  groups: TrajectoryGroup[];
  episodes: number;
  /** Episodes played again after their environment was lost (`retryLostEpisodes`): the first attempt's failure. */
  retried: RetriedEpisode[];
  ms: number;
}

export interface RetriedEpisode {
  taskId: string;
  seed: number;
  /** The first attempt's trajectory id, and why it failed. */
  trajectoryId: string;
  failure: Failure;
}

/** Failures of the environment's server rather than the episode: worth one more attempt elsewhere. */
const ENVIRONMENT_FAILURES = new Set(['environment_lost', 'environment_unavailable']);

interface EpisodeSlot {
  taskIndex: number;
  member: number;
  taskId: string;
  seed: number;
  /** The shared match this episode joins as its task's seat. */
  match?: string;
}

/**
 * Plays `taskIds × groupSize` independent episodes with at most `concurrency` in flight; a slow
 * episode holds only its own slot. Each finished group goes to the sink at once (the trainer and
 * the replay store listen there). Failures stay inside their episode.
 */
export async function runRollouts(options: RolloutOptions): Promise<RolloutResult> {
  const t0 = performance.now();
  const groupSize = options.groupSize;
  if (!Number.isInteger(groupSize) || groupSize < 1)
    throw new RangeError(`groupSize must be a whole number ≥ 1 (got ${groupSize})`);
  const limit = new ConcurrencyLimit(options.concurrency);
  const baseSeed = options.baseSeed ?? 0;
  const sessionPerEpisode = options.sessions === 'episode';
  const slots = episodeSlots(options.taskIds, groupSize, baseSeed, options.seatOf);
  const seats = Math.max(1, ...options.taskIds.map((id) => options.seatOf?.(id)?.seats ?? 1));
  if (options.concurrency < seats)
    throw new RangeError(
      `a match has ${seats} seats, which must play at once, but concurrency is ${options.concurrency}`,
    );
  const groupIds = options.taskIds.map(() => randomUUID());
  const pending = options.taskIds.map(() => new Array<Trajectory | undefined>(groupSize));
  const remaining = options.taskIds.map(() => groupSize);
  const groups: TrajectoryGroup[] = [];
  // One policy, template and tool list for the whole run: prompts can be shared.
  const renderCache = options.renderCache ?? new RenderCache();
  const wantBar =
    options.progress === true || ((options.progress ?? 'auto') === 'auto' && ProgressBar.wanted());
  const bar = wantBar ? new ProgressBar(slots.length, options.policy.id) : undefined;

  // Sessions kept between episodes, and what every session of this environment shares.
  const idle: EnvironmentClient[] = [];
  let shared: Promise<{ envId: string; tools: ToolSpec[] }> | undefined;
  /** A session: a kept one, or with `fresh` (a retry: kept ones may share the lost server) a new one. */
  const acquire = async (fresh: boolean): Promise<EnvironmentClient> => {
    const client = (fresh ? undefined : idle.pop()) ?? (await options.connect());
    if (!shared) {
      shared = client.info().then((info) => ({ envId: info.id, tools: info.tools }));
      // A session that broke before answering must not poison the ones after it.
      shared.catch(() => {
        shared = undefined;
      });
    }
    return client;
  };
  const release = async (client: EnvironmentClient, healthy: boolean) => {
    if (healthy && !sessionPerEpisode && !client.lostReason) idle.push(client);
    else await client.close().catch(() => undefined);
  };

  // The sink sees one group at a time, in completion order; its errors fail the rollout.
  let sinkChain: Promise<void> = Promise.resolve();
  let sinkError: unknown;
  const emit = (group: TrajectoryGroup) => {
    groups.push(group);
    if (!options.sink) return;
    sinkChain = sinkChain
      .then(() => options.sink?.onGroup(group))
      .catch((error) => {
        sinkError ??= error;
      });
  };

  // Turns go to the sink as they happen; the episode never waits for them.
  const turnDeliveries = new Set<Promise<void>>();
  const pieces = options.policy.tokenizer ? new TokenPieces(options.policy.tokenizer) : undefined;
  const onTurn = (stream: EpisodeTurnStream): EpisodeOptions['onTurn'] => {
    const sink = options.sink;
    if (!sink?.onTurn) return undefined;
    return (turn, progress) => {
      const event = stream.next(turn, progress);
      const delivery = (async () => sink.onTurn?.(event))()
        .catch((error) => {
          sinkError ??= error;
        })
        .finally(() => turnDeliveries.delete(delivery));
      turnDeliveries.add(delivery);
    };
  };

  const retried: RetriedEpisode[] = [];
  /** Plays a slot; with `retryLostEpisodes`, once more when its environment was lost. */
  const playSlot = async (slot: EpisodeSlot): Promise<Trajectory> => {
    const first = await playAttempt(slot);
    if (!options.retryLostEpisodes || first.status !== 'failed' || !ENVIRONMENT_FAILURES.has(first.failure?.code ?? ''))
      return first;
    retried.push({ taskId: slot.taskId, seed: slot.seed, trajectoryId: first.id, failure: first.failure! });
    return playAttempt(slot, true);
  };

  const playAttempt = async (slot: EpisodeSlot, fresh = false): Promise<Trajectory> => {
    const trajectoryId = randomUUID();
    const ids = {
      trajectoryId,
      groupId: groupIds[slot.taskIndex]!,
      ...(options.runId !== undefined ? { runId: options.runId } : {}),
      ...(options.step !== undefined ? { step: options.step } : {}),
    };
    const timeout = options.episodeTimeoutMs ? AbortSignal.timeout(options.episodeTimeoutMs) : undefined;
    const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    let client: EnvironmentClient;
    let info: { envId: string; tools: ToolSpec[] };
    try {
      client = await acquire(fresh);
      info = await shared!;
    } catch (error) {
      const failure = describeFailure(error);
      return failedBeforeStart(slot, ids, { code: 'environment_unavailable', message: failure.message });
    }
    const trajectory = await playEpisode({
      ...options.episode,
      client,
      policy: options.policy,
      start: {
        taskId: slot.taskId,
        seed: slot.seed,
        ...(slot.match ? { match: slot.match } : {}),
        ...(options.trainingProgress !== undefined ? { progress: options.trainingProgress } : {}),
      },
      sampling: options.sampling,
      tools: info.tools,
      envId: info.envId,
      renderCache,
      ...(signal ? { signal } : {}),
      ids,
      onTurn: onTurn(new EpisodeTurnStream(ids, pieces)),
    });
    if (trajectory.status === 'failed' && timeout?.aborted) {
      trajectory.failure = {
        code: 'episode_timeout',
        message: `the episode ran past ${options.episodeTimeoutMs} ms (${trajectory.failure?.message ?? ''})`,
      };
    }
    await release(client, trajectory.status !== 'failed');
    return trajectory;
  };

  await Promise.all(
    slots.map((slot) =>
      limit.run(async () => {
        const trajectory = await playSlot(slot);
        bar?.tick({
          failed: trajectory.status === 'failed',
          passed: episodePassed(trajectory, options.passOptions),
        });
        pending[slot.taskIndex]![slot.member] = trajectory;
        remaining[slot.taskIndex]!--;
        if (remaining[slot.taskIndex] === 0) {
          const trajectories = pending[slot.taskIndex] as Trajectory[];
          pending[slot.taskIndex] = [];
          emit({
            schemaVersion: TRAJECTORY_SCHEMA_VERSION,
            id: groupIds[slot.taskIndex]!,
            ...(options.runId !== undefined ? { runId: options.runId } : {}),
            ...(options.step !== undefined ? { step: options.step } : {}),
            envId: trajectories[0]!.envId,
            taskId: slot.taskId,
            trajectories,
          });
        }
      }),
    ),
  );
  await Promise.all(turnDeliveries);
  await sinkChain;
  bar?.finish();
  await Promise.all(idle.splice(0).map((c) => c.close().catch(() => undefined)));
  if (sinkError) throw sinkError;
  return { groups, episodes: slots.length, retried, ms: performance.now() - t0 };
}

/**
 * Every episode to play, in the order they are queued: task by task, `groupSize` each; with
 * `seatOf`, the seats of a match member by member (seat 0 then seat 1 of member 0, …), each pair
 * under one fresh match id, so partners are queued together. A match listed twice is played twice:
 * the n-th listing of each seat plays with the n-th of the others.
 */
function episodeSlots(
  taskIds: readonly string[],
  groupSize: number,
  baseSeed: number,
  seatOf: RolloutOptions['seatOf'],
): EpisodeSlot[] {
  const slot = (taskIndex: number, member: number, match?: string): EpisodeSlot => ({
    taskIndex,
    member,
    taskId: taskIds[taskIndex]!,
    seed: baseSeed + taskIndex * groupSize + member,
    ...(match ? { match } : {}),
  });
  // Each match's listings of each seat, in order.
  const listings = new Map<string, number[][]>();
  taskIds.forEach((taskId, taskIndex) => {
    const seat = seatOf?.(taskId);
    if (!seat) return;
    const bySeat = listings.get(seat.match) ?? Array.from({ length: seat.seats }, () => []);
    listings.set(seat.match, bySeat);
    bySeat[seat.seat]?.push(taskIndex);
  });
  for (const [match, bySeat] of listings)
    if (new Set(bySeat.map((l) => l.length)).size !== 1)
      throw new RangeError(
        `match ${match} has ${bySeat.length} seats, but the tasks played list them [${bySeat.map((l) => l.length).join(', ')}] times: list every seat of a match equally often`,
      );
  const slots: EpisodeSlot[] = [];
  taskIds.forEach((taskId, taskIndex) => {
    const seat = seatOf?.(taskId);
    if (!seat) {
      for (let member = 0; member < groupSize; member++) slots.push(slot(taskIndex, member));
      return;
    }
    const bySeat = listings.get(seat.match)!;
    const listing = bySeat[seat.seat]!.indexOf(taskIndex);
    if (seat.seat !== 0) return; // queued with seat 0 of its listing
    for (let member = 0; member < groupSize; member++) {
      const match = randomUUID();
      for (const seatListings of bySeat) slots.push(slot(seatListings[listing]!, member, match));
    }
  });
  return slots;
}

/** The record of an episode that never reached the environment. */
function failedBeforeStart(
  slot: EpisodeSlot,
  ids: { trajectoryId: string; groupId: string; runId?: string; step?: number },
  failure: { code: string; message: string },
): Trajectory {
  return {
    schemaVersion: TRAJECTORY_SCHEMA_VERSION,
    id: ids.trajectoryId,
    groupId: ids.groupId,
    ...(ids.runId !== undefined ? { runId: ids.runId } : {}),
    ...(ids.step !== undefined ? { step: ids.step } : {}),
    envId: '',
    taskId: slot.taskId,
    seed: slot.seed,
    messages: [],
    tokens: new Int32Array(0),
    lossMask: new Uint8Array(0),
    logprobs: new Float64Array(0),
    promptLength: 0,
    turns: [],
    tokenization: 'text-only',
    status: 'failed',
    failure,
    reward: { total: 0, components: {}, weights: {}, info: {} },
    timing: { startedAt: Date.now(), ms: 0, generateMs: 0, toolMs: 0 },
  };
}

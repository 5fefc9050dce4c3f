import type {
  EpisodeTurn,
  FeedEventMessage,
  FeedEventType,
  Trajectory,
  TrajectoryGroup,
  TrajectorySummary,
} from '@toolgym/protocol';

/**
 * An event of the feed. One the store committed has its `cursor` (its row in the event log); one a
 * writer emitted before its commit has none yet (replay/PROTOCOL.md, "Before the commit"). `seq`
 * orders a run's events from the moment they are emitted; events logged before it existed have none.
 */
export interface FeedEvent {
  cursor?: number;
  seq: number | null;
  runId: string;
  type: FeedEventType;
  at: number;
  envId: string | null;
  taskId: string | null;
  reward: number | null;
  payload: string;
  /** The whole trajectory of a `trajectory` event still in memory (for `full` subscriptions). */
  trajectory?: Trajectory;
  /** Its frame before its commit (`"pending":true`), made once for every client; one with a cursor ignores it. */
  pendingFrame?: Buffer;
}

/** A row of the event log as the feed reads it. */
export interface StoredEvent extends FeedEvent {
  cursor: number;
  /** Its frame (`eventJson`, UTF-8) as stored with it; absent in rows logged before frames were. */
  frame?: Buffer;
}

/** An event before its cursor and seq are known: what a write will log, in log order. */
export type EventDraft = Omit<FeedEvent, 'cursor' | 'seq' | 'runId' | 'frame' | 'pendingFrame'>;

/** A turn event's payload: where its episode runs, then the turn, serialised once by the caller. */
export function turnPayload(
  where: { step?: number; trajectoryId: string; groupId?: string; envId: string; taskId: string },
  turnJson: string,
): string {
  const { step, trajectoryId, groupId, envId, taskId } = where;
  return `${JSON.stringify({ step, trajectoryId, groupId, envId, taskId }).slice(0, -1)},"turn":${turnJson}}`;
}

/** The event a streamed turn logs (`at`: when it was recorded). */
export function turnEvent(turn: EpisodeTurn, turnJson: string, at: number): EventDraft {
  return {
    type: 'turn',
    at,
    envId: turn.envId,
    taskId: turn.taskId,
    reward: null,
    payload: turnPayload(turn, turnJson),
  };
}

/** The event of a run's status. */
export function runEvent(at: number, status: { status: string; info: Record<string, unknown> }): EventDraft {
  return { type: 'run', at, envId: null, taskId: null, reward: null, payload: JSON.stringify(status) };
}

/** The event of the trainer's metrics of one step. */
export function stepMetricsEvent(step: number, metrics: Record<string, number>, at: number): EventDraft {
  return {
    type: 'step-metrics',
    at,
    envId: null,
    taskId: null,
    reward: null,
    payload: JSON.stringify({ step, metrics }),
  };
}

/** What a group's commit writes for each trajectory: its summary and its turns as JSON. */
export interface GroupRecord {
  t: Trajectory;
  summary: TrajectorySummary;
  turnsJson: string;
}

/**
 * The events a group's commit logs: each trajectory's turns not streamed while it ran, and the
 * trajectory, ordered by original time so the episodes of a group interleave as they happened
 * (each trajectory after its own turns). The store and the live feed both build them here.
 */
export function groupEvents(
  group: TrajectoryGroup,
  runId: string,
  /** Turn indices of a trajectory already logged while it ran. */
  streamed: (trajectoryId: string) => ReadonlySet<number>,
): { records: GroupRecord[]; events: EventDraft[] } {
  const records: GroupRecord[] = [];
  const events: EventDraft[] = [];
  for (const t of group.trajectories) {
    const summary = summarise(t, runId, group);
    const turnJsons = t.turns.map((turn) => JSON.stringify(turn));
    records.push({ t, summary, turnsJson: `[${turnJsons.join(',')}]` });
    const done = streamed(t.id);
    const episode = { envId: t.envId, taskId: t.taskId, reward: t.reward.total };
    let at = t.timing.startedAt;
    t.turns.forEach((turn, i) => {
      at += turn.generateMs + turn.toolMs;
      if (done.has(turn.index)) return;
      const payload = turnPayload({ ...summary, trajectoryId: t.id }, turnJsons[i]!);
      events.push({ type: 'turn', at, ...episode, payload });
    });
    events.push({
      type: 'trajectory',
      at: Math.max(at, t.timing.startedAt + t.timing.ms),
      ...episode,
      payload: JSON.stringify(summary),
      trajectory: t,
    });
  }
  // A stable sort: events at the same time keep the order they were built in.
  events.sort((a, b) => a.at - b.at);
  return { records, events };
}

export function summarise(t: Trajectory, runId: string, group: TrajectoryGroup): TrajectorySummary {
  const step = t.step ?? group.step;
  const lastAssistant = [...t.messages].reverse().find((m) => m.role === 'assistant');
  let sampled = 0;
  for (const m of t.lossMask) sampled += m;
  return {
    id: t.id,
    runId,
    ...(step === undefined ? {} : { step }),
    groupId: t.groupId ?? group.id,
    envId: t.envId,
    taskId: t.taskId,
    seed: t.seed,
    status: t.status,
    reward: t.reward,
    turns: t.turns.length,
    tokens: t.tokens.length,
    sampledTokens: sampled,
    finalText: (lastAssistant?.content ?? '').slice(0, 500),
    startedAt: t.timing.startedAt,
    ms: t.timing.ms,
  };
}

/** The fields every event message starts with: a committed one's cursor, or `pending` before its commit. */
function messageBase(event: FeedEvent) {
  return {
    ...(event.cursor === undefined ? { pending: true as const } : { cursor: event.cursor }),
    ...(event.seq === null ? {} : { seq: event.seq }),
    runId: event.runId,
    at: event.at,
  };
}

/** The feed message an event becomes (trajectory messages without the full trajectory). */
export function eventToMessage(event: FeedEvent): FeedEventMessage {
  const base = messageBase(event);
  const payload = JSON.parse(event.payload);
  switch (event.type) {
    case 'run':
      return { type: 'run', ...base, status: payload.status, info: payload.info ?? {} };
    case 'turn':
      return { type: 'turn', ...base, ...payload };
    case 'trajectory':
      return { type: 'trajectory', ...base, summary: payload };
    case 'step-metrics':
      return { type: 'step-metrics', ...base, step: payload.step, metrics: payload.metrics };
    case 'episode':
      return { type: 'episode', ...base, ...payload };
  }
}

/**
 * The feed JSON of an event, the same message as `eventToMessage` serialised, built around the
 * payload text without parsing it: the feed sends every event this way.
 */
export function eventJson(event: FeedEvent): string {
  const position = event.cursor === undefined ? '"pending":true' : `"cursor":${event.cursor}`;
  const seq = event.seq === null ? '' : `,"seq":${event.seq}`;
  const head = `{"type":"${event.type}",${position}${seq},"runId":${JSON.stringify(event.runId)},"at":${event.at}`;
  if (event.type === 'trajectory') return `${head},"summary":${event.payload}}`;
  return event.payload === '{}' ? `${head}}` : `${head},${event.payload.slice(1)}`;
}

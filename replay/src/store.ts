import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  type FeedEventMessage,
  type FeedEventType,
  type RunStatus,
  type Trajectory,
  type TrajectoryGroup,
  TrajectoryGroupSchema,
  type TrajectorySummary,
} from '@toolgym/protocol';
import Database from 'better-sqlite3';
import { DuplicateIdError, InvalidTrajectoryError, NotFoundError, ReplayConfigError } from './errors.ts';
import {
  decodeFloat32,
  decodeInt32,
  decodeUint8,
  encodeFloat32,
  encodeInt32,
  encodeUint8,
} from './token-codec.ts';

export interface OpenStoreOptions {
  /**
   * `full` (default): every commit is fsynced, so an acknowledged write survives a power cut.
   * `normal`: WAL without fsync per commit; survives a killed process but not a power cut.
   */
  durability?: 'full' | 'normal';
  /** Open without writing (a viewer of someone else's store). The file must exist. */
  readonly?: boolean;
}

export interface RunRow {
  id: string;
  status: RunStatus;
  info: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  trajectories: number;
  steps: number;
  rewardMean: number | null;
}

/** One point of the curves: per-step reward statistics and the trainer's step metrics. */
export interface StepPoint {
  step: number;
  trajectories: number;
  rewardMean: number;
  rewardMin: number;
  rewardMax: number;
  metrics: Record<string, number>;
}

export interface TrajectoryQuery {
  runId?: string;
  step?: number;
  groupId?: string;
  envId?: string;
  taskId?: string;
  status?: Trajectory['status'];
  minReward?: number;
  maxReward?: number;
  /** Full-text search over the messages (SQLite FTS5; words, "phrases", prefix*). */
  text?: string;
  /** Newest first unless `oldest`. */
  order?: 'newest' | 'oldest';
  limit?: number;
  offset?: number;
}

/** A row of the event log as the feed reads it. */
export interface StoredEvent {
  cursor: number;
  runId: string;
  type: FeedEventType;
  at: number;
  envId: string | null;
  taskId: string | null;
  reward: number | null;
  payload: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  info TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  step INTEGER,
  env_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trajectories (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL,
  step INTEGER,
  group_id TEXT,
  env_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  reward REAL NOT NULL,
  reward_json TEXT NOT NULL,
  tokenization TEXT NOT NULL,
  truncation TEXT,
  failure_json TEXT,
  prompt_length INTEGER NOT NULL,
  n_tokens INTEGER NOT NULL,
  n_sampled INTEGER NOT NULL,
  n_turns INTEGER NOT NULL,
  tokens BLOB NOT NULL,
  loss_mask BLOB NOT NULL,
  logprobs BLOB NOT NULL,
  advantages BLOB,
  messages_json TEXT NOT NULL,
  turns_json TEXT NOT NULL,
  timing_json TEXT NOT NULL,
  started_at REAL NOT NULL,
  ms REAL NOT NULL,
  final_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trajectories_run_step ON trajectories (run_id, step);
CREATE INDEX IF NOT EXISTS trajectories_env_task ON trajectories (env_id, task_id);
CREATE INDEX IF NOT EXISTS trajectories_reward ON trajectories (reward);
CREATE INDEX IF NOT EXISTS trajectories_group ON trajectories (group_id);
CREATE VIRTUAL TABLE IF NOT EXISTS trajectories_text USING fts5 (text, content='');
CREATE TABLE IF NOT EXISTS step_metrics (
  run_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  at REAL NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS events (
  cursor INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  at REAL NOT NULL,
  env_id TEXT,
  task_id TEXT,
  reward REAL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, cursor);
`;

type Listener = (head: number) => void;

/**
 * The durable trajectory store: one SQLite file in WAL mode. Every write is one transaction that
 * also appends to the event log the websocket feed reads, so a write that returned is committed,
 * and a feed cursor names a committed event. Nothing is updated in place except run status and
 * advantages.
 */
export class TrajectoryStore {
  readonly path: string;
  readonly db: Database.Database;
  private readonly listeners = new Set<Listener>();
  private readonly statements;

  private constructor(file: string, options: OpenStoreOptions) {
    this.path = file;
    try {
      if (!options.readonly && file !== ':memory:')
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.db = new Database(file, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
      });
    } catch (error) {
      throw new ReplayConfigError(
        `Cannot open the trajectory store at '${file}': ${(error as Error).message}`,
        options.readonly ? 'A read-only store must already exist.' : 'Check the path and its permissions.',
      );
    }
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.db.exec(SCHEMA);
    }
    this.db.pragma('busy_timeout = 5000');
    this.statements = this.prepare();
  }

  /** Open (creating if needed) the store at `file`. */
  static open(file: string, options: OpenStoreOptions = {}): TrajectoryStore {
    return new TrajectoryStore(file, options);
  }

  private prepare() {
    const db = this.db;
    return {
      runById: db.prepare('SELECT id, status FROM runs WHERE id = ?'),
      insertRun: db.prepare(
        'INSERT INTO runs (id, status, info, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ),
      updateRun: db.prepare('UPDATE runs SET status = ?, info = ?, updated_at = ? WHERE id = ?'),
      insertGroup: db.prepare(
        'INSERT INTO groups (id, run_id, step, env_id, task_id, stored_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      insertTrajectory: db.prepare(`INSERT INTO trajectories (
        id, run_id, step, group_id, env_id, task_id, seed, status, reward, reward_json, tokenization, truncation,
        failure_json, prompt_length, n_tokens, n_sampled, n_turns, tokens, loss_mask, logprobs, advantages,
        messages_json, turns_json, timing_json, started_at, ms, final_text
      ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertText: db.prepare('INSERT INTO trajectories_text (rowid, text) VALUES (?, ?)'),
      insertMetrics: db.prepare('INSERT INTO step_metrics (run_id, step, at, metrics) VALUES (?, ?, ?, ?)'),
      insertEvent: db.prepare(
        'INSERT INTO events (run_id, type, at, env_id, task_id, reward, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      head: db.prepare('SELECT COALESCE(MAX(cursor), 0) AS head FROM events'),
      eventsAfter: db.prepare('SELECT * FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?'),
      runEventsAfter: db.prepare(
        'SELECT * FROM events WHERE run_id = ? AND cursor > ? ORDER BY cursor LIMIT ?',
      ),
      trajectoryById: db.prepare('SELECT * FROM trajectories WHERE id = ?'),
      setAdvantages: db.prepare('UPDATE trajectories SET advantages = ? WHERE id = ?'),
    };
  }

  /** Called after each commit with the newest cursor (in-process followers, e.g. the feed server). */
  onCommit(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    if (this.listeners.size === 0) return;
    const head = this.head();
    for (const listener of this.listeners) listener(head);
  }

  /** The newest cursor in the event log (0 when empty). */
  head(): number {
    return (this.statements.head.get() as { head: number }).head;
  }

  /** Record a run (status `running`) unless it exists. */
  startRun(runId: string, info: Record<string, unknown> = {}): void {
    this.db.transaction(() => this.ensureRun(runId, info, Date.now()))();
    this.notify();
  }

  /** Set a run's status (`finished`, `failed`, or back to `running`) and log it as an event. */
  setRunStatus(runId: string, status: RunStatus, info?: Record<string, unknown>): void {
    const now = Date.now();
    this.db.transaction(() => {
      this.ensureRun(runId, info ?? {}, now);
      const current = this.db.prepare('SELECT info FROM runs WHERE id = ?').get(runId) as { info: string };
      const merged = { ...JSON.parse(current.info), ...(info ?? {}) };
      this.statements.updateRun.run(status, JSON.stringify(merged), now, runId);
      this.statements.insertEvent.run(
        runId,
        'run',
        now,
        null,
        null,
        null,
        JSON.stringify({ status, info: merged }),
      );
    })();
    this.notify();
  }

  private ensureRun(runId: string, info: Record<string, unknown>, now: number): void {
    if (this.statements.runById.get(runId)) return;
    this.statements.insertRun.run(runId, 'running', JSON.stringify(info), now, now);
    this.statements.insertEvent.run(
      runId,
      'run',
      now,
      null,
      null,
      null,
      JSON.stringify({ status: 'running', info }),
    );
  }

  /**
   * Append a finished group in one transaction: the group, its trajectories, their text index and
   * the feed events (each turn and each trajectory, ordered by original time). When this returns,
   * the group is committed. `runId` is used when the group carries none.
   */
  appendGroup(group: TrajectoryGroup, options: { runId?: string } = {}): { cursor: number } {
    const parsed = TrajectoryGroupSchema.safeParse(group);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidTrajectoryError(
        `Group '${group?.id}' is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      );
    }
    const runId = group.runId ?? options.runId;
    if (!runId) {
      throw new InvalidTrajectoryError(
        `Group '${group.id}' has no runId; pass one in the group or as an option.`,
      );
    }
    for (const t of group.trajectories) {
      for (const token of t.tokens) {
        if (token > 0x7fffffff)
          throw new InvalidTrajectoryError(`Trajectory '${t.id}' has token id ${token} beyond Int32.`);
      }
    }
    const now = Date.now();
    let cursor = 0;
    this.db.transaction(() => {
      this.ensureRun(runId, {}, now);
      try {
        this.statements.insertGroup.run(group.id, runId, group.step ?? null, group.envId, group.taskId, now);
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateIdError('group', group.id);
        throw error;
      }
      const events: Array<{
        at: number;
        order: number;
        type: FeedEventType;
        t: Trajectory;
        payload: string;
      }> = [];
      for (const t of group.trajectories) {
        const summary = summarise(t, runId, group);
        this.insertTrajectory(t, summary);
        let at = t.timing.startedAt;
        for (const turn of t.turns) {
          at += turn.generateMs + turn.toolMs;
          const payload = {
            step: summary.step,
            trajectoryId: t.id,
            groupId: summary.groupId,
            envId: t.envId,
            taskId: t.taskId,
            turn,
          };
          events.push({ at, order: events.length, type: 'turn', t, payload: JSON.stringify(payload) });
        }
        const end = Math.max(at, t.timing.startedAt + t.timing.ms);
        events.push({
          at: end,
          order: events.length,
          type: 'trajectory',
          t,
          payload: JSON.stringify(summary),
        });
      }
      events.sort((a, b) => a.at - b.at || a.order - b.order);
      for (const e of events) {
        const info = this.statements.insertEvent.run(
          runId,
          e.type,
          e.at,
          e.t.envId,
          e.t.taskId,
          e.t.reward.total,
          e.payload,
        );
        cursor = Number(info.lastInsertRowid);
      }
    })();
    this.notify();
    return { cursor };
  }

  private insertTrajectory(t: Trajectory, summary: TrajectorySummary): void {
    let rowid: number;
    try {
      const info = this.statements.insertTrajectory.run(
        t.id,
        summary.runId,
        summary.step ?? null,
        summary.groupId ?? null,
        t.envId,
        t.taskId,
        t.seed,
        t.status,
        t.reward.total,
        JSON.stringify(t.reward),
        t.tokenization,
        t.truncation ?? null,
        t.failure ? JSON.stringify(t.failure) : null,
        t.promptLength,
        t.tokens.length,
        summary.sampledTokens,
        t.turns.length,
        encodeInt32(t.tokens),
        encodeUint8(t.lossMask),
        encodeFloat32(t.logprobs),
        t.advantages ? encodeFloat32(t.advantages) : null,
        JSON.stringify(t.messages),
        JSON.stringify(t.turns),
        JSON.stringify(t.timing),
        t.timing.startedAt,
        t.timing.ms,
        summary.finalText,
      );
      rowid = Number(info.lastInsertRowid);
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateIdError('trajectory', t.id);
      throw error;
    }
    const text = t.messages.map((m) => m.content).join('\n');
    this.statements.insertText.run(rowid, text);
  }

  /** Step-level metrics of the trainer; one record per (run, step). */
  appendStepMetrics(runId: string, step: number, metrics: Record<string, number>): { cursor: number } {
    const now = Date.now();
    let cursor = 0;
    this.db.transaction(() => {
      this.ensureRun(runId, {}, now);
      try {
        this.statements.insertMetrics.run(runId, step, now, JSON.stringify(metrics));
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new InvalidTrajectoryError(
            `Run '${runId}' already has metrics for step ${step}; each step reports once.`,
          );
        }
        throw error;
      }
      const info = this.statements.insertEvent.run(
        runId,
        'step-metrics',
        now,
        null,
        null,
        null,
        JSON.stringify({ step, metrics }),
      );
      cursor = Number(info.lastInsertRowid);
    })();
    this.notify();
    return { cursor };
  }

  /** Per-token advantages, filled in by the trainer after the group was stored. */
  setAdvantages(trajectoryId: string, advantages: readonly number[]): void {
    const row = this.statements.trajectoryById.get(trajectoryId) as { n_tokens: number } | undefined;
    if (!row) throw new NotFoundError('trajectory', trajectoryId);
    if (advantages.length !== row.n_tokens) {
      throw new InvalidTrajectoryError(
        `Advantages of '${trajectoryId}' have ${advantages.length} entries; the trajectory has ${row.n_tokens} tokens.`,
      );
    }
    this.statements.setAdvantages.run(encodeFloat32(advantages), trajectoryId);
  }

  /** A run's status, or undefined when the store has no such run. */
  runStatus(runId: string): RunStatus | undefined {
    return (this.statements.runById.get(runId) as { status: RunStatus } | undefined)?.status;
  }

  listRuns(): RunRow[] {
    const rows = this.db
      .prepare(`SELECT r.*, COUNT(t.rowid) AS n, COUNT(DISTINCT t.step) AS steps, AVG(t.reward) AS reward_mean
        FROM runs r LEFT JOIN trajectories t ON t.run_id = r.id GROUP BY r.id ORDER BY r.created_at DESC`)
      .all() as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as string,
      status: r.status as RunStatus,
      info: JSON.parse(r.info as string),
      createdAt: r.created_at as number,
      updatedAt: r.updated_at as number,
      trajectories: r.n as number,
      steps: r.steps as number,
      rewardMean: (r.reward_mean as number | null) ?? null,
    }));
  }

  /** Reward statistics per step joined with the trainer's step metrics: the viewer's curves. */
  curves(runId: string): StepPoint[] {
    const rewards = this.db
      .prepare(`SELECT step, COUNT(*) AS n, AVG(reward) AS mean, MIN(reward) AS min, MAX(reward) AS max
        FROM trajectories WHERE run_id = ? AND step IS NOT NULL GROUP BY step`)
      .all(runId) as Array<{ step: number; n: number; mean: number; min: number; max: number }>;
    const metrics = this.db
      .prepare('SELECT step, metrics FROM step_metrics WHERE run_id = ?')
      .all(runId) as Array<{
      step: number;
      metrics: string;
    }>;
    const points = new Map<number, StepPoint>();
    for (const r of rewards) {
      points.set(r.step, {
        step: r.step,
        trajectories: r.n,
        rewardMean: r.mean,
        rewardMin: r.min,
        rewardMax: r.max,
        metrics: {},
      });
    }
    for (const m of metrics) {
      const point = points.get(m.step) ?? {
        step: m.step,
        trajectories: 0,
        rewardMean: Number.NaN,
        rewardMin: Number.NaN,
        rewardMax: Number.NaN,
        metrics: {},
      };
      point.metrics = JSON.parse(m.metrics);
      points.set(m.step, point);
    }
    return [...points.values()].sort((a, b) => a.step - b.step);
  }

  /** Trajectory summaries matching every given filter. */
  queryTrajectories(query: TrajectoryQuery = {}): TrajectorySummary[] {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq = (column: string, value: unknown) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    eq('run_id', query.runId);
    eq('step', query.step);
    eq('group_id', query.groupId);
    eq('env_id', query.envId);
    eq('task_id', query.taskId);
    eq('status', query.status);
    if (query.minReward !== undefined) {
      where.push('reward >= ?');
      params.push(query.minReward);
    }
    if (query.maxReward !== undefined) {
      where.push('reward <= ?');
      params.push(query.maxReward);
    }
    if (query.text?.trim()) {
      where.push('rowid IN (SELECT rowid FROM trajectories_text WHERE trajectories_text MATCH ?)');
      params.push(ftsQuery(query.text));
    }
    const sql = `SELECT id, run_id, step, group_id, env_id, task_id, seed, status, reward_json, n_turns, n_tokens,
        n_sampled, final_text, started_at, ms FROM trajectories
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY rowid ${query.order === 'oldest' ? 'ASC' : 'DESC'} LIMIT ? OFFSET ?`;
    params.push(query.limit ?? 100, query.offset ?? 0);
    const rows = this.db.prepare(sql).all(...params) as Array<Record<string, unknown>>;
    return rows.map(rowToSummary);
  }

  getTrajectory(id: string): Trajectory {
    const row = this.statements.trajectoryById.get(id) as Record<string, unknown> | undefined;
    if (!row) throw new NotFoundError('trajectory', id);
    return rowToTrajectory(row);
  }

  getGroup(id: string): TrajectoryGroup {
    const group = this.db.prepare('SELECT * FROM groups WHERE id = ?').get(id) as
      | Record<string, unknown>
      | undefined;
    if (!group) throw new NotFoundError('group', id);
    const rows = this.db
      .prepare('SELECT * FROM trajectories WHERE group_id = ? ORDER BY rowid')
      .all(id) as Array<Record<string, unknown>>;
    return {
      schemaVersion: 1,
      id,
      runId: group.run_id as string,
      ...(group.step === null ? {} : { step: group.step as number }),
      envId: group.env_id as string,
      taskId: group.task_id as string,
      trajectories: rows.map(rowToTrajectory),
    };
  }

  /** Whole trajectories in storage order, for export. Iterates lazily: a run may not fit in memory. */
  *iterateTrajectories(query: { runId?: string } = {}): Generator<Trajectory> {
    const statement = query.runId
      ? this.db.prepare('SELECT * FROM trajectories WHERE run_id = ? ORDER BY rowid')
      : this.db.prepare('SELECT * FROM trajectories ORDER BY rowid');
    const rows = (query.runId ? statement.iterate(query.runId) : statement.iterate()) as IterableIterator<
      Record<string, unknown>
    >;
    for (const row of rows) yield rowToTrajectory(row);
  }

  /** Events after `cursor` in cursor order, at most `limit`. */
  eventsAfter(cursor: number, options: { runId?: string; limit?: number } = {}): StoredEvent[] {
    const limit = options.limit ?? 1000;
    const rows = (
      options.runId
        ? this.statements.runEventsAfter.all(options.runId, cursor, limit)
        : this.statements.eventsAfter.all(cursor, limit)
    ) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      cursor: r.cursor as number,
      runId: r.run_id as string,
      type: r.type as FeedEventType,
      at: r.at as number,
      envId: r.env_id as string | null,
      taskId: r.task_id as string | null,
      reward: r.reward as number | null,
      payload: r.payload as string,
    }));
  }

  /** `PRAGMA integrity_check`: 'ok' or the list of problems SQLite found. */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>)
      .map((r) => r.integrity_check)
      .join('\n');
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}

/** The feed message an event of the log becomes (trajectory messages without the full trajectory). */
export function eventToMessage(event: StoredEvent): FeedEventMessage {
  const base = { cursor: event.cursor, runId: event.runId, at: event.at };
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
  }
}

function summarise(t: Trajectory, runId: string, group: TrajectoryGroup): TrajectorySummary {
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

function rowToSummary(r: Record<string, unknown>): TrajectorySummary {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    ...(r.step === null ? {} : { step: r.step as number }),
    ...(r.group_id === null ? {} : { groupId: r.group_id as string }),
    envId: r.env_id as string,
    taskId: r.task_id as string,
    seed: r.seed as number,
    status: r.status as Trajectory['status'],
    reward: JSON.parse(r.reward_json as string),
    turns: r.n_turns as number,
    tokens: r.n_tokens as number,
    sampledTokens: r.n_sampled as number,
    finalText: r.final_text as string,
    startedAt: r.started_at as number,
    ms: r.ms as number,
  };
}

function rowToTrajectory(r: Record<string, unknown>): Trajectory {
  return {
    schemaVersion: 1,
    id: r.id as string,
    runId: r.run_id as string,
    ...(r.step === null ? {} : { step: r.step as number }),
    ...(r.group_id === null ? {} : { groupId: r.group_id as string }),
    envId: r.env_id as string,
    taskId: r.task_id as string,
    seed: r.seed as number,
    messages: JSON.parse(r.messages_json as string),
    tokens: decodeInt32(r.tokens as Buffer),
    lossMask: decodeUint8(r.loss_mask as Buffer) as Array<0 | 1>,
    logprobs: decodeFloat32(r.logprobs as Buffer),
    promptLength: r.prompt_length as number,
    turns: JSON.parse(r.turns_json as string),
    tokenization: r.tokenization as Trajectory['tokenization'],
    status: r.status as Trajectory['status'],
    ...(r.truncation === null ? {} : { truncation: r.truncation as string }),
    ...(r.failure_json === null ? {} : { failure: JSON.parse(r.failure_json as string) }),
    reward: JSON.parse(r.reward_json as string),
    ...(r.advantages === null ? {} : { advantages: decodeFloat32(r.advantages as Buffer) }),
    timing: JSON.parse(r.timing_json as string),
  };
}

/** User text as an FTS5 query: each word a quoted term (so `-`, `:` and quotes are literal), `*` kept as prefix. */
function ftsQuery(text: string): string {
  return text
    .trim()
    .split(/\s+/)
    .map((word) => {
      const prefix = word.endsWith('*');
      const bare = prefix ? word.slice(0, -1) : word;
      return `"${bare.replaceAll('"', '""')}"${prefix ? '*' : ''}`;
    })
    .join(' ');
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

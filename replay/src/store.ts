import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import {
  BranchSchema,
  branchJson,
  type EpisodeTurn,
  EpisodeTurnSchema,
  type FeedEventType,
  plainArray,
  type RunStatus,
  type Trajectory,
  type TrajectoryGroup,
  TrajectoryGroupSchema,
  type TrajectorySummary,
  type Turn,
} from '@toolgym/protocol';
import Database from 'better-sqlite3';
import { DuplicateIdError, InvalidTrajectoryError, NotFoundError, ReplayConfigError } from './errors.ts';
import {
  type EventDraft,
  eventJson,
  groupEvents,
  runEvent,
  type StoredEvent,
  stepMetricsEvent,
  turnEvent,
} from './feed-events.ts';
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

/** An episode whose turns were streamed and whose group has not committed. */
export interface LiveEpisodeSummary {
  trajectoryId: string;
  runId: string;
  step?: number;
  groupId?: string;
  envId: string;
  taskId: string;
  seed: number;
  startedAt: number;
  updatedAt: number;
  /** `running` while its writer lives; `unfinished` once the writer died or the run ended without its group. */
  status: 'running' | 'unfinished';
  turns: number;
  reason?: string;
}

/** What a running or unfinished episode has recorded so far: its turns, messages and tokens. */
export interface PartialTrajectory extends LiveEpisodeSummary {
  messages: Trajectory['messages'];
  turnList: Turn[];
  tokens: number[];
  lossMask: Array<0 | 1>;
  logprobs: number[];
  policyLogprobs?: number[];
  /** Each token's text piece, where the writer knew it. */
  pieces: Array<string | null>;
}

/** How much of the store's file SQLite reads through a memory map (this build caps it at 2 GiB). */
const MMAP_BYTES = 1024 * 1024 * 1024;

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
  policy_logprobs BLOB,
  branches_json TEXT,
  branched_from_json TEXT,
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
CREATE TABLE IF NOT EXISTS live_episodes (
  trajectory_id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  step INTEGER,
  group_id TEXT,
  env_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  seed INTEGER NOT NULL,
  started_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  writer TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  n_turns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS live_episodes_run ON live_episodes (run_id);
CREATE TABLE IF NOT EXISTS live_turns (
  trajectory_id TEXT NOT NULL,
  turn_index INTEGER NOT NULL,
  turn_json TEXT NOT NULL,
  messages_json TEXT NOT NULL,
  token_from INTEGER NOT NULL,
  tokens BLOB NOT NULL,
  loss_mask BLOB NOT NULL,
  logprobs BLOB NOT NULL,
  policy_logprobs BLOB,
  PRIMARY KEY (trajectory_id, turn_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS token_pieces (
  run_id TEXT NOT NULL,
  id INTEGER NOT NULL,
  piece TEXT NOT NULL,
  PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
`;

/**
 * Columns added after the first stores were written, each added in place to an older file when it
 * opens (the tables above are created whole when missing).
 */
const ADDED_COLUMNS: ReadonlyArray<{ table: string; column: string; type: string }> = [
  { table: 'trajectories', column: 'policy_logprobs', type: 'BLOB' },
  { table: 'trajectories', column: 'branches_json', type: 'TEXT' },
  { table: 'trajectories', column: 'branched_from_json', type: 'TEXT' },
  { table: 'events', column: 'seq', type: 'INTEGER' },
  { table: 'runs', column: 'reserved_seq', type: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'events', column: 'frame', type: 'BLOB' },
];

/** This process, as the writer of the episodes it streams (the store checks whether it still runs). */
const WRITER = `${hostname()}:${process.pid}`;

/** Called after each commit with the events it logged, in cursor order. */
type Listener = (events: readonly StoredEvent[]) => void;

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
  /** Events logged by the transaction under way, handed to the listeners once it commits. */
  private logged: StoredEvent[] = [];
  /** The cursor the next event of the transaction under way gets (it holds the write lock). */
  private nextCursor: number | undefined;
  /** Token ids whose piece this connection recorded, by run (a cache: the table ignores repeats anyway). */
  private readonly knownPieces = new Map<string, Set<number>>();
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
    // Other connections (the runs of several seeds sharing a store) write too. Every write
    // transaction here begins IMMEDIATE: it takes the write lock first, waiting up to busy_timeout,
    // where a deferred one that read first fails at once (SQLITE_BUSY) if another commit came between.
    this.db.pragma('busy_timeout = 5000');
    // Pages read through a map of the file: a replay reads the log page after page, and each page
    // then costs no system call and no copy (about a sixth of a one-client replay's CPU). Writes
    // still go through the journal as before.
    this.db.pragma(`mmap_size = ${MMAP_BYTES}`);
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.db
        .transaction(() => {
          this.db.exec(SCHEMA);
          migrate(this.db);
        })
        .immediate();
    }
    this.statements = this.prepare();
    if (!options.readonly) this.markUnfinished();
  }

  /** Open (creating if needed) the store at `file`. */
  static open(file: string, options: OpenStoreOptions = {}): TrajectoryStore {
    return new TrajectoryStore(file, options);
  }

  /** Statements, each prepared at first use: a read-only store of an older schema never prepares a write. */
  private prepare() {
    const db = this.db;
    return prepareLazily(db, {
      runById: 'SELECT id, status FROM runs WHERE id = ?',
      insertRun: 'INSERT INTO runs (id, status, info, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      updateRun: 'UPDATE runs SET status = ?, info = ?, updated_at = ? WHERE id = ?',
      insertGroup:
        'INSERT INTO groups (id, run_id, step, env_id, task_id, stored_at) VALUES (?, ?, ?, ?, ?, ?)',
      insertTrajectory: `INSERT INTO trajectories (
        id, run_id, step, group_id, env_id, task_id, seed, status, reward, reward_json, tokenization, truncation,
        failure_json, prompt_length, n_tokens, n_sampled, n_turns, tokens, loss_mask, logprobs, advantages,
        policy_logprobs, branches_json, branched_from_json, messages_json, turns_json, timing_json, started_at, ms,
        final_text
      ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      insertText: 'INSERT INTO trajectories_text (rowid, text) VALUES (?, ?)',
      insertMetrics: 'INSERT INTO step_metrics (run_id, step, at, metrics) VALUES (?, ?, ?, ?)',
      insertEvent: `INSERT INTO events (cursor, run_id, seq, type, at, env_id, task_id, reward, payload, frame)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      lastCursor: `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
        COALESCE((SELECT MAX(cursor) FROM events), 0)) AS cursor`,
      lastSeq: `SELECT MAX(COALESCE((SELECT MAX(seq) FROM events WHERE run_id = @run), 0),
        COALESCE((SELECT reserved_seq FROM runs WHERE id = @run), 0)) AS seq`,
      reserveSeqs: 'UPDATE runs SET reserved_seq = ? WHERE id = ?',
      head: 'SELECT COALESCE(MAX(cursor), 0) AS head FROM events',
      eventsAfter: 'SELECT * FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?',
      seqsAfter: 'SELECT run_id, seq FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?',
      runEventsAfter: 'SELECT * FROM events WHERE run_id = ? AND cursor > ? ORDER BY cursor LIMIT ?',
      framesAfter: framePageSql('cursor > ?', false),
      runFramesAfter: framePageSql('run_id = ? AND cursor > ?', false),
      timedFramesAfter: framePageSql('cursor > ?', true),
      runTimedFramesAfter: framePageSql('run_id = ? AND cursor > ?', true),
      trajectoryById: 'SELECT * FROM trajectories WHERE id = ?',
      setAdvantages: 'UPDATE trajectories SET advantages = ? WHERE id = ?',
      trajectoryExists: 'SELECT 1 FROM trajectories WHERE id = ?',
      liveEpisode: 'SELECT * FROM live_episodes WHERE trajectory_id = ?',
      insertLiveEpisode: `INSERT OR IGNORE INTO live_episodes (trajectory_id, run_id, step, group_id, env_id,
        task_id, seed, started_at, updated_at, writer, status, n_turns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', 0)`,
      touchLiveEpisode:
        "UPDATE live_episodes SET n_turns = n_turns + 1, updated_at = ?, status = 'running', reason = NULL WHERE trajectory_id = ?",
      insertLiveTurn: `INSERT OR IGNORE INTO live_turns (trajectory_id, turn_index, turn_json, messages_json,
        token_from, tokens, loss_mask, logprobs, policy_logprobs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      liveTurnIndices: 'SELECT turn_index FROM live_turns WHERE trajectory_id = ?',
      liveTurns: 'SELECT * FROM live_turns WHERE trajectory_id = ? ORDER BY turn_index',
      deleteLiveTurns: 'DELETE FROM live_turns WHERE trajectory_id = ?',
      deleteLiveEpisode: 'DELETE FROM live_episodes WHERE trajectory_id = ?',
      markUnfinished:
        "UPDATE live_episodes SET status = 'unfinished', reason = ?, updated_at = ? WHERE trajectory_id = ?",
      insertPieces:
        'INSERT OR IGNORE INTO token_pieces (run_id, id, piece) SELECT ?, CAST(key AS INTEGER), value FROM json_each(?)',
      pieces:
        'SELECT id, piece FROM token_pieces WHERE run_id = ? AND id IN (SELECT value FROM json_each(?))',
    });
  }

  /**
   * Called after each commit with the events it logged, from memory (in-process followers: the
   * feed server, the writer thread's reply to its owner). A write inside `batch` reports at the
   * batch's commit.
   */
  onCommit(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * `fn`'s writes in one IMMEDIATE transaction (each write in a savepoint of its own inside it), so
   * the events logged reach the listeners only once the outermost transaction commits, and a write
   * that rolled back reports none.
   */
  batch<T>(fn: () => T): T {
    const mark = this.logged.length;
    const cursorMark = this.nextCursor;
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (error) {
      this.logged.length = mark;
      this.nextCursor = this.db.inTransaction ? cursorMark : undefined;
      // Pieces the rolled-back writes recorded are gone from the table: forget that they were known.
      this.knownPieces.clear();
      throw error;
    }
    if (!this.db.inTransaction) this.nextCursor = undefined;
    if (!this.db.inTransaction && this.logged.length > 0) {
      const events = this.logged;
      this.logged = [];
      for (const listener of this.listeners) listener(events);
    }
    return result;
  }

  /**
   * Append one event to the log (inside a transaction) and keep it for the listeners; its cursor.
   * `seq` is the one its writer gave it when it was emitted; otherwise the run's next.
   */
  private logEvent(runId: string, event: EventDraft, seq = this.lastSeq(runId) + 1): number {
    const { type, at, envId, taskId, reward, payload } = event;
    this.nextCursor ??= (this.statements.lastCursor.get() as { cursor: number }).cursor + 1;
    const cursor = this.nextCursor++;
    const logged: StoredEvent = { cursor, seq, runId, type, at, envId, taskId, reward, payload };
    // The frame as the feed sends it, stored with the event: a replay reads it and sends it as is.
    const frame = Buffer.from(eventJson(logged));
    this.statements.insertEvent.run(cursor, runId, seq, type, at, envId, taskId, reward, payload, frame);
    this.logged.push(logged);
    return cursor;
  }

  /**
   * The highest `seq` of a run's events, or reserved for them by a writer (0 when none): events are
   * numbered after it, so no seq a client may have seen is given twice.
   */
  lastSeq(runId: string): number {
    return (this.statements.lastSeq.get({ run: runId }) as { seq: number }).seq;
  }

  /**
   * Reserve the next `count` seqs of a run (recording the run if new) for a writer that emits
   * events before it commits them; returns them.
   */
  reserveSeqs(runId: string, count: number): { from: number; to: number } {
    let range = { from: 0, to: 0 };
    this.batch(() => {
      this.ensureRun(runId, {}, Date.now());
      const from = this.lastSeq(runId) + 1;
      range = { from, to: from + count - 1 };
      this.statements.reserveSeqs.run(range.to, runId);
    });
    return range;
  }

  /** The newest cursor in the event log (0 when empty). */
  head(): number {
    return (this.statements.head.get() as { head: number }).head;
  }

  /** Record a run (status `running`) unless it exists. */
  startRun(runId: string, info: Record<string, unknown> = {}): void {
    this.batch(() => this.ensureRun(runId, info, Date.now()));
  }

  /** Set a run's status (`finished`, `failed`, or back to `running`) and log it as an event. */
  setRunStatus(
    runId: string,
    status: RunStatus,
    info?: Record<string, unknown>,
    /** Leave a run that already finished or failed as it is. */
    options: { onlyIfRunning?: boolean } = {},
  ): void {
    const now = Date.now();
    this.batch(() => {
      if (options.onlyIfRunning && (this.runStatus(runId) ?? 'running') !== 'running') return;
      this.ensureRun(runId, info ?? {}, now);
      const current = this.db.prepare('SELECT info FROM runs WHERE id = ?').get(runId) as { info: string };
      const merged = { ...JSON.parse(current.info), ...(info ?? {}) };
      this.statements.updateRun.run(status, JSON.stringify(merged), now, runId);
      this.logEvent(runId, runEvent(now, { status, info: merged }));
    });
  }

  private ensureRun(runId: string, info: Record<string, unknown>, now: number): void {
    if (this.statements.runById.get(runId)) return;
    this.statements.insertRun.run(runId, 'running', JSON.stringify(info), now, now);
    this.logEvent(runId, runEvent(now, { status: 'running', info }));
  }

  /**
   * Append a finished group in one transaction: the group, its trajectories, their text index and
   * the feed events (each turn and each trajectory, ordered by original time). When this returns,
   * the group is committed. `runId` is used when the group carries none.
   */
  appendGroup(
    group: TrajectoryGroup,
    options: {
      runId?: string;
      /** The seq its writer gave the first event the group logs (the rest follow in order). */
      seqFrom?: number;
    } = {},
  ): { cursor: number } {
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
    this.batch(() => {
      this.ensureRun(runId, {}, now);
      try {
        this.statements.insertGroup.run(group.id, runId, group.step ?? null, group.envId, group.taskId, now);
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateIdError('group', group.id);
        throw error;
      }
      // Turns streamed while the episode ran are in the log already: each turn is logged once.
      const { records, events } = groupEvents(
        group,
        runId,
        (id) =>
          new Set(
            (this.statements.liveTurnIndices.all(id) as Array<{ turn_index: number }>).map(
              (r) => r.turn_index,
            ),
          ),
      );
      for (const { t, summary, turnsJson } of records) {
        this.insertTrajectory(t, summary, turnsJson);
        this.statements.deleteLiveTurns.run(t.id);
        this.statements.deleteLiveEpisode.run(t.id);
      }
      events.forEach((e, i) => {
        cursor = this.logEvent(runId, e, options.seqFrom === undefined ? undefined : options.seqFrom + i);
      });
    });
    return { cursor };
  }

  private insertTrajectory(t: Trajectory, summary: TrajectorySummary, turnsJson: string): void {
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
        t.policyLogprobs ? encodeFloat32(t.policyLogprobs) : null,
        t.branches ? JSON.stringify(t.branches.map(branchJson)) : null,
        t.branchedFrom ? JSON.stringify(t.branchedFrom) : null,
        JSON.stringify(t.messages),
        turnsJson,
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

  /**
   * Record turns of running episodes, in one transaction, each logged as a feed `turn` event at
   * once. A turn already recorded, or of an episode whose group committed, is passed over (a writer
   * may resend after a retry; every turn is logged once). `runId` is used when a turn carries none.
   */
  appendTurns(
    turns: readonly EpisodeTurn[],
    options: {
      runId?: string;
      /** The seq and time its writer gave each turn's event when it emitted it, by position. */
      emitted?: ReadonlyArray<{ seq: number; at: number } | undefined>;
    } = {},
  ): { cursor: number } {
    const parsed = turns.map((turn) => {
      const result = EpisodeTurnSchema.safeParse(turn);
      if (!result.success) {
        const issue = result.error.issues[0];
        throw new InvalidTrajectoryError(
          `Turn of episode '${turn?.trajectoryId}' is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
        );
      }
      const runId = result.data.runId ?? options.runId;
      if (!runId)
        throw new InvalidTrajectoryError(
          `Turn of episode '${turn.trajectoryId}' has no runId; pass one in the turn or as an option.`,
        );
      return { turn: result.data, runId };
    });
    let cursor = 0;
    this.batch(() => {
      for (const [i, { turn: e, runId }] of parsed.entries()) {
        if (this.statements.trajectoryExists.get(e.trajectoryId)) continue;
        const now = Date.now();
        this.ensureRun(runId, {}, now);
        this.statements.insertLiveEpisode.run(
          e.trajectoryId,
          runId,
          e.step ?? null,
          e.groupId ?? null,
          e.envId,
          e.taskId,
          e.seed,
          e.startedAt,
          now,
          WRITER,
        );
        const { tokens } = e;
        const turnJson = JSON.stringify(e.turn);
        const inserted = this.statements.insertLiveTurn.run(
          e.trajectoryId,
          e.turn.index,
          turnJson,
          JSON.stringify(e.messages),
          tokens.from,
          encodeInt32(tokens.ids),
          encodeUint8(tokens.lossMask),
          encodeFloat32(tokens.logprobs),
          tokens.policyLogprobs ? encodeFloat32(tokens.policyLogprobs) : null,
        );
        if (inserted.changes === 0) continue;
        this.statements.touchLiveEpisode.run(now, e.trajectoryId);
        if (tokens.pieces) this.insertPieces(runId, tokens.ids, tokens.pieces);
        const emitted = options.emitted?.[i];
        cursor = this.logEvent(runId, turnEvent(e, turnJson, emitted?.at ?? now), emitted?.seq);
      }
    });
    return { cursor };
  }

  /**
   * Mark running episodes unfinished and log an `episode` event for each: those whose writer process
   * no longer runs, and, with `runId`, every one of that run (its writer ended the run without their
   * groups). Returns how many were marked.
   */
  markUnfinished(options: { runId?: string; reason?: string } = {}): number {
    const rows = this.db
      .prepare(
        `SELECT * FROM live_episodes WHERE status = 'running'${options.runId !== undefined ? ' AND run_id = ?' : ''}`,
      )
      .all(...(options.runId !== undefined ? [options.runId] : [])) as Array<Record<string, unknown>>;
    const gone = rows.filter((r) => options.runId !== undefined || !writerRuns(r.writer as string));
    if (gone.length === 0) return 0;
    const now = Date.now();
    this.batch(() => {
      for (const r of gone) {
        const reason =
          options.reason ??
          `its writer (${r.writer as string}) stopped before the episode's group was committed`;
        this.statements.markUnfinished.run(reason, now, r.trajectory_id);
        const summary = rowToLiveSummary({ ...r, status: 'unfinished', reason });
        this.logEvent(summary.runId, {
          type: 'episode',
          at: now,
          envId: summary.envId,
          taskId: summary.taskId,
          reward: null,
          payload: JSON.stringify({
            step: summary.step,
            trajectoryId: summary.trajectoryId,
            groupId: summary.groupId,
            envId: summary.envId,
            taskId: summary.taskId,
            status: 'unfinished',
            turns: summary.turns,
            reason,
          }),
        });
      }
    });
    return gone.length;
  }

  /** Running and unfinished episodes (streamed, group not committed), newest first. */
  liveEpisodes(query: { runId?: string } = {}): LiveEpisodeSummary[] {
    const rows = (
      query.runId !== undefined
        ? this.db
            .prepare('SELECT * FROM live_episodes WHERE run_id = ? ORDER BY started_at DESC')
            .all(query.runId)
        : this.db.prepare('SELECT * FROM live_episodes ORDER BY started_at DESC').all()
    ) as Array<Record<string, unknown>>;
    return rows.map(rowToLiveSummary);
  }

  /** What a running or unfinished episode recorded so far. */
  getPartialTrajectory(trajectoryId: string): PartialTrajectory {
    const row = this.statements.liveEpisode.get(trajectoryId) as Record<string, unknown> | undefined;
    if (!row) throw new NotFoundError('running or unfinished episode', trajectoryId);
    const partial: PartialTrajectory = {
      ...rowToLiveSummary(row),
      messages: [],
      turnList: [],
      tokens: [],
      lossMask: [],
      logprobs: [],
      pieces: [],
    };
    const policyLogprobs: number[] = [];
    let hasPolicyLogprobs = false;
    for (const r of this.statements.liveTurns.all(trajectoryId) as Array<Record<string, unknown>>) {
      partial.turnList.push(JSON.parse(r.turn_json as string));
      partial.messages.push(...JSON.parse(r.messages_json as string));
      // A `from` below the record's length restarts it there (the template rewrote history).
      const from = r.token_from as number;
      for (const list of [partial.tokens, partial.lossMask, partial.logprobs, policyLogprobs])
        list.length = Math.min(list.length, from);
      partial.tokens.push(...decodeInt32(r.tokens as Buffer));
      partial.lossMask.push(...(decodeUint8(r.loss_mask as Buffer) as Iterable<0 | 1>));
      const logprobs = decodeFloat32(r.logprobs as Buffer);
      partial.logprobs.push(...logprobs);
      if (r.policy_logprobs !== null) hasPolicyLogprobs = true;
      policyLogprobs.push(
        ...(r.policy_logprobs === null
          ? new Float64Array(logprobs.length)
          : decodeFloat32(r.policy_logprobs as Buffer)),
      );
    }
    if (hasPolicyLogprobs) partial.policyLogprobs = policyLogprobs;
    partial.pieces = this.tokenPieces(partial.runId, partial.tokens);
    return partial;
  }

  /** Record the pieces of ids not recorded for the run before (one statement for the new ones). */
  private insertPieces(runId: string, ids: readonly number[], pieces: readonly string[]): void {
    let known = this.knownPieces.get(runId);
    if (!known) {
      known = new Set();
      this.knownPieces.set(runId, known);
    }
    const fresh: Record<number, string> = {};
    let any = false;
    ids.forEach((id, i) => {
      if (known.has(id)) return;
      known.add(id);
      fresh[id] = pieces[i]!;
      any = true;
    });
    if (any) this.statements.insertPieces.run(runId, JSON.stringify(fresh));
  }

  /** The text piece of each token id as the run's writer decoded it; null where it was not given. */
  tokenPieces(runId: string, ids: readonly number[] | Int32Array): Array<string | null> {
    const known = new Map<number, string>();
    const rows = this.statements.pieces.all(runId, JSON.stringify([...new Set(ids)])) as Array<{
      id: number;
      piece: string;
    }>;
    for (const r of rows) known.set(r.id, r.piece);
    return Array.from(ids, (id) => known.get(id) ?? null);
  }

  /** Step-level metrics of the trainer; one record per (run, step). */
  appendStepMetrics(
    runId: string,
    step: number,
    metrics: Record<string, number>,
    /** The seq and time its writer gave the event when it emitted it. */
    emitted?: { seq: number; at: number },
  ): { cursor: number } {
    const now = emitted?.at ?? Date.now();
    let cursor = 0;
    this.batch(() => {
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
      cursor = this.logEvent(runId, stepMetricsEvent(step, metrics, now), emitted?.seq);
    });
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
    // Rows as arrays: a replay reads thousands, and naming each row's columns cost more than the read.
    const statement = options.runId ? this.statements.runEventsAfter : this.statements.eventsAfter;
    const c = eventColumns(statement);
    const rows = (
      options.runId ? statement.all(options.runId, cursor, limit) : statement.all(cursor, limit)
    ) as unknown[][];
    return rows.map((r) => {
      const frame = c.frame === undefined ? null : r[c.frame];
      return {
        cursor: r[c.cursor] as number,
        seq: (c.seq === undefined ? null : r[c.seq]) as number | null,
        // One shape for every row: a row logged before frames has `frame` undefined.
        frame: (frame ?? undefined) as Buffer | undefined,
        runId: r[c.run_id] as string,
        type: r[c.type] as FeedEventType,
        at: r[c.at] as number,
        envId: r[c.env_id] as string | null,
        taskId: r[c.task_id] as string | null,
        reward: r[c.reward] as number | null,
        payload: r[c.payload] as string,
      };
    });
  }

  /**
   * The stored frames of the events after a cursor (at most `limit`), end to end in one buffer: what
   * a replay that filters nothing sends, in one value per page where a row per event made a buffer
   * and an array each (about half of a replay's read, and garbage that a kept page held on to).
   * With `times`, when each was logged (a replay at a speed paces by it). Undefined when an event of
   * the page was logged before frames were (its frame must be built), or the log has no frames.
   */
  framesAfter(
    cursor: number,
    options: { runId?: string; limit?: number; times?: boolean } = {},
  ): FramePage | undefined {
    if (eventColumns(this.statements.eventsAfter).frame === undefined) return undefined;
    const limit = options.limit ?? 1000;
    const statement = options.times
      ? options.runId
        ? this.statements.runTimedFramesAfter
        : this.statements.timedFramesAfter
      : options.runId
        ? this.statements.runFramesAfter
        : this.statements.framesAfter;
    statement.raw(true);
    const [count, framed, lastCursor, lengths, bytes, at] = (
      options.runId ? statement.get(options.runId, cursor, limit) : statement.get(cursor, limit)
    ) as [number, number, number | null, string | null, Buffer | null, string | null | undefined];
    if (framed < count) return undefined;
    if (count === 0) return { count, lastCursor: cursor, lengths: [], bytes: Buffer.alloc(0) };
    return {
      count,
      lastCursor: lastCursor!,
      lengths: JSON.parse(`[${lengths}]`) as number[],
      bytes: bytes!,
      ...(at ? { at: JSON.parse(`[${at}]`) as number[] } : {}),
    };
  }

  /** The run and seq of the events after a cursor (at most `limit`), without their payloads. */
  seqsAfter(cursor: number, limit = 1000): Array<{ runId: string; seq: number | null }> {
    return (
      this.statements.seqsAfter.all(cursor, limit) as Array<{ run_id: string; seq: number | null }>
    ).map((r) => ({ runId: r.run_id, seq: r.seq }));
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

const EVENT_COLUMNS = [
  'cursor',
  'seq',
  'run_id',
  'type',
  'at',
  'env_id',
  'task_id',
  'reward',
  'payload',
  'frame',
] as const;
type EventColumns = Record<Exclude<(typeof EVENT_COLUMNS)[number], 'seq' | 'frame'>, number> & {
  seq?: number;
  frame?: number;
};
const eventColumnsOf = new WeakMap<Database.Statement, EventColumns>();

/** A page of the log's stored frames (`framesAfter`), in cursor order. */
export interface FramePage {
  /** Events in the page. */
  count: number;
  /** The cursor of its last event (the cursor read after, for an empty page). */
  lastCursor: number;
  /** Each frame's length in bytes. */
  lengths: readonly number[];
  /** The frames end to end. */
  bytes: Buffer;
  /** When each event was logged (only when asked for). */
  at?: readonly number[];
}

/**
 * A page of frames as one row: their count (and how many have a frame), the last cursor, their
 * lengths, the frames end to end and, if `times`, when each was logged. The aggregates take the
 * rows in the order the subquery yields them, its cursor order (an ORDER BY inside each aggregate
 * would sort every page again); SQLite writes a REAL as text that reads back as the same number.
 * group_concat treats a blob's bytes as text without converting them (a UTF-8 database), and the
 * cast gives them back as they were.
 */
function framePageSql(where: string, times: boolean): string {
  return `SELECT count(*), count(frame), max(cursor), group_concat(octet_length(frame)),
    CAST(group_concat(frame, '') AS BLOB)${times ? ', group_concat(at)' : ''}
    FROM (SELECT cursor, at, frame FROM events WHERE ${where} ORDER BY cursor LIMIT ?)`;
}

/**
 * Where each column of the event log is in the rows of `statement` (a `SELECT *` of it, switched to
 * rows as arrays); a store of an older schema may lack `seq` and `frame`.
 */
function eventColumns(statement: Database.Statement): EventColumns {
  let columns = eventColumnsOf.get(statement);
  if (!columns) {
    statement.raw(true);
    const names = statement.columns().map((column) => column.name);
    columns = Object.fromEntries(
      EVENT_COLUMNS.flatMap((name) => (names.includes(name) ? [[name, names.indexOf(name)]] : [])),
    ) as EventColumns;
    eventColumnsOf.set(statement, columns);
  }
  return columns;
}

function prepareLazily<K extends string>(
  db: Database.Database,
  sql: Record<K, string>,
): Record<K, Database.Statement> {
  const statements = {} as Record<K, Database.Statement>;
  for (const key of Object.keys(sql) as K[]) {
    let statement: Database.Statement | undefined;
    Object.defineProperty(statements, key, { get: () => (statement ??= db.prepare(sql[key])) });
  }
  return statements;
}

/** Add the columns of `ADDED_COLUMNS` that an older store lacks. */
function migrate(db: Database.Database): void {
  for (const { table, column, type } of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
  db.exec('CREATE INDEX IF NOT EXISTS events_run_seq ON events (run_id, seq)');
}

/** Whether the process that streamed an episode still runs (another host's writer is assumed to). */
function writerRuns(writer: string): boolean {
  const at = writer.lastIndexOf(':');
  if (writer.slice(0, at) !== hostname()) return true;
  try {
    process.kill(Number(writer.slice(at + 1)), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The columns every row of an episode (live, summary, whole trajectory) has: where it ran. */
function rowEpisode(r: Record<string, unknown>) {
  return {
    runId: r.run_id as string,
    ...(r.step === null ? {} : { step: r.step as number }),
    ...(r.group_id === null ? {} : { groupId: r.group_id as string }),
    envId: r.env_id as string,
    taskId: r.task_id as string,
    seed: r.seed as number,
  };
}

function rowToLiveSummary(r: Record<string, unknown>): LiveEpisodeSummary {
  return {
    trajectoryId: r.trajectory_id as string,
    ...rowEpisode(r),
    startedAt: r.started_at as number,
    updatedAt: r.updated_at as number,
    // A reader sees a dead writer's episodes as unfinished before any writer marks them so.
    status: r.status === 'unfinished' || !writerRuns(r.writer as string) ? 'unfinished' : 'running',
    turns: r.n_turns as number,
    ...(r.reason == null ? {} : { reason: r.reason as string }),
  };
}

function rowToSummary(r: Record<string, unknown>): TrajectorySummary {
  return {
    id: r.id as string,
    ...rowEpisode(r),
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
    ...rowEpisode(r),
    messages: JSON.parse(r.messages_json as string),
    tokens: decodeInt32(r.tokens as Buffer),
    lossMask: decodeUint8(r.loss_mask as Buffer),
    logprobs: decodeFloat32(r.logprobs as Buffer),
    promptLength: r.prompt_length as number,
    turns: JSON.parse(r.turns_json as string),
    ...(r.branches_json == null
      ? {}
      : { branches: BranchSchema.array().parse(JSON.parse(r.branches_json as string)) }),
    ...(r.branched_from_json == null ? {} : { branchedFrom: JSON.parse(r.branched_from_json as string) }),
    tokenization: r.tokenization as Trajectory['tokenization'],
    status: r.status as Trajectory['status'],
    ...(r.truncation === null ? {} : { truncation: r.truncation as string }),
    ...(r.failure_json === null ? {} : { failure: JSON.parse(r.failure_json as string) }),
    reward: JSON.parse(r.reward_json as string),
    ...(r.advantages === null ? {} : { advantages: plainArray(decodeFloat32(r.advantages as Buffer)) }),
    // Absent in a read-only store written before the column existed.
    ...(r.policy_logprobs == null ? {} : { policyLogprobs: decodeFloat32(r.policy_logprobs as Buffer) }),
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

import { Worker } from 'node:worker_threads';
import type { EpisodeTurn, TrajectoryGroup } from '@toolgym/protocol';
import { ReplayConfigError, ReplayError } from './errors.ts';
import {
  type EventDraft,
  type FeedEvent,
  groupEvents,
  type StoredEvent,
  stepMetricsEvent,
  turnEvent,
} from './feed-events.ts';
import { packGroup, packTurn, SentPieces, type Spans } from './handover.ts';
import { NumberRing, type SharedRing } from './number-ring.ts';
import type { OpenStoreOptions, TrajectoryStore } from './store.ts';

type Args<K extends keyof TrajectoryStore> = TrajectoryStore[K] extends (...args: infer A) => unknown
  ? A
  : never;

/** A write the worker commits; the method of `TrajectoryStore` it calls and that method's arguments. */
export type WriterRequest =
  | { id: number; op: 'appendGroup'; args: Args<'appendGroup'> }
  | { id: number; op: 'appendTurns'; args: Args<'appendTurns'> }
  | { id: number; op: 'appendStepMetrics'; args: Args<'appendStepMetrics'> }
  | { id: number; op: 'startRun'; args: Args<'startRun'> }
  | { id: number; op: 'setRunStatus'; args: Args<'setRunStatus'> }
  | { id: number; op: 'markUnfinished'; args: Args<'markUnfinished'> }
  | { id: number; op: 'reserveSeqs'; args: Args<'reserveSeqs'> }
  | { id: number; op: 'close' };

/**
 * A write as it crosses: with the spans of the ring its number arrays went to, and the JSON made for
 * its events of each turn's `turn` (`turnJson`, of a turn write) or each trajectory's `turns`
 * (`turnsJson`, of a group), which then cross as that text (`handover.ts`).
 */
export type WriterMessage = WriterRequest & { spans?: Spans; turnJson?: string[]; turnsJson?: string[] };

/** What the thread is sent once per turn of the event loop: the writes, and how far the ring holds them. */
export interface WriterBatch {
  requests: WriterMessage[];
  ringEnd: number;
}

type WriterError = { code?: string; message: string; hint?: string };

export type WriterReply =
  | { type: 'ready'; head: number }
  | { type: 'failed'; error: WriterError }
  | {
      type: 'committed';
      results: Array<
        ({ id: number; ok: true; value: unknown } | { id: number; ok: false; error: WriterError }) & {
          /**
           * For a write whose events the thread numbered (run status, unfinished episodes): the seqs
           * reserved for the run's next emitted events, after it.
           */
          reserved?: SeqRange;
        }
      >;
      /** The events the commit logged that the owner did not emit, whole (in cursor order). */
      events: readonly StoredEvent[];
      /** Where the owner's emitted events landed: for each, its run, seq and cursor (in cursor order). */
      landed: { runIds: string[]; seqs: Float64Array; cursors: Float64Array };
    }
  | { type: 'closed' };

/** Events a writer emitted before their commit that the store did not write. */
export interface WriteFailure {
  runId: string;
  seqs: number[];
  code: string;
  message: string;
}

type EmitListener = (events: readonly FeedEvent[]) => void;
type Emitted = { runId: string; events: FeedEvent[]; refused?: () => void };
type SeqRange = { from: number; to: number };

export interface WriterOptions extends Omit<OpenStoreOptions, 'readonly'> {
  /**
   * Seqs are reserved in the store this many at a time before they are emitted, so that no other
   * numbering (a sweep after this process died) reuses one a client saw; a new block is asked for
   * when half of one is left, and reserved ahead of the writes queued before it. A block far
   * larger than a commit's events keeps emission from ever waiting for one. Default 65,536.
   */
  seqBlock?: number;
  /**
   * Bytes of memory shared with the thread that the writes' number arrays are copied into
   * (`number-ring.ts`); an array that does not fit crosses in the message instead. Default 64 MiB.
   */
  ringBytes?: number;
}
type CommitListener = (events: readonly StoredEvent[], failed: readonly WriteFailure[]) => void;

/**
 * How a run's events are numbered here. `next` is the seq the next emitted event gets, up to
 * `limit` (reserved in the store); it is known while no write whose events the thread numbers
 * itself (`barriers`) is under way. Writes that would emit meanwhile, or past `limit`, wait in
 * `waiting`, so seqs only grow in the order events are logged.
 */
interface RunSeq {
  next: number | undefined;
  limit: number;
  barriers: number;
  /** A reservation of more seqs is under way. */
  extending: boolean;
  waiting: Array<{ go: () => void; fail: (error: Error) => void }>;
}

const NO_TURNS: ReadonlySet<number> = new Set();

/** The write of an emitted write, given the seqs and times its events were emitted with. */
type WriteOf = (
  emitted: Array<{ seq: number; at: number }> | undefined,
) => Omit<Exclude<WriterMessage, { op: 'close' }>, 'id'>;

/**
 * The store's writes, off the caller's thread: a worker owns the write connection and commits what
 * arrives together in one transaction, with the store's durability setting. Each promise settles
 * when its write is committed (or refused, with the store's error code), so a caller that awaits
 * keeps "acknowledged = committed".
 *
 * Turns, groups and step metrics are also *emitted* the moment they are handed over: their feed
 * events, numbered per run (`seq`), go to `onEmit` listeners (the feed server) before the thread
 * has them, so live delivery never waits for the disk. `onCommit` later reports which were
 * committed and which the store refused. Writes handed over in one turn of the event loop go to
 * the thread in one message.
 */
export class StoreWriter {
  private readonly pending = new Map<
    number,
    {
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      /** The events this write emitted before its commit, and what to forget if it is refused. */
      emitted?: Emitted;
      /** The run whose seqs this write's reply tells (it numbered its events in the thread). */
      barrier?: string;
    }
  >();
  private readonly emitListeners = new Set<EmitListener>();
  private readonly commitListeners = new Set<CommitListener>();
  /** Called once no write is pending (closing waits for it). */
  private drained: (() => void) | undefined;
  private readonly runs = new Map<string, RunSeq>();
  /** Turn indices emitted per running episode (cleared by its group): each turn is emitted once. */
  private readonly streamed = new Map<string, Set<number>>();
  private readonly sentPieces = new SentPieces();
  /** Requests and emitted events of this turn of the event loop, sent at its end. */
  private outbox: WriterMessage[] = [];
  private emitted: FeedEvent[] = [];
  private flushScheduled = false;
  private nextId = 0;
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly path: string,
    private readonly seqBlock: number,
    private readonly ring: NumberRing,
  ) {
    worker.on('message', (reply: WriterReply) => {
      if (reply.type === 'committed') this.committed(reply);
    });
    worker.on('error', (e) =>
      this.fail(new ReplayError('store_writer_failed', `The store writer failed: ${e.message}`)),
    );
    worker.on('exit', () =>
      this.fail(new ReplayError('store_writer_closed', 'The store writer has stopped.')),
    );
  }

  /** Start a writer on the store at `file` (created if needed); resolves once the store is open. */
  static async open(file: string, writerOptions: WriterOptions = {}): Promise<StoreWriter> {
    const { seqBlock = 65_536, ringBytes = 64 * 1024 * 1024, ...options } = writerOptions;
    const ring = NumberRing.create(ringBytes);
    const worker = new Worker(new URL('./store-writer-worker.js', import.meta.url), {
      workerData: { file, options, seqBlock, ring: ring.shared satisfies SharedRing },
    });
    const first = await new Promise<WriterReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new ReplayError('store_writer_failed', `The store writer exited at start (code ${code}).`)),
      );
    });
    if (first.type === 'failed') {
      await worker.terminate();
      throw new ReplayConfigError(first.error.message, first.error.hint);
    }
    return new StoreWriter(worker, file, seqBlock, ring);
  }

  /** Called with each batch of events as they are emitted, before their commit, in seq order per run. */
  onEmit(listener: EmitListener): () => void {
    this.emitListeners.add(listener);
    return () => this.emitListeners.delete(listener);
  }

  /**
   * Called after each commit with the events it logged, in cursor order, and the emitted events
   * that will never be committed (their write was refused, or the writer stopped).
   */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  appendGroup(group: TrajectoryGroup, options: { runId?: string } = {}): Promise<{ cursor: number }> {
    const runId = group?.runId ?? options.runId;
    let streamed: Array<[string, Set<number>]> = [];
    let turnsJson: string[] | undefined;
    return this.emitting(
      runId,
      () => {
        const { events, records } = groupEvents(group, runId!, (id) => this.streamed.get(id) ?? NO_TURNS);
        turnsJson = records.map((r) => r.turnsJson);
        streamed = group.trajectories.flatMap((t) => {
          const turns = this.streamed.get(t.id);
          this.streamed.delete(t.id);
          return turns ? [[t.id, turns] as [string, Set<number>]] : [];
        });
        return events;
      },
      (emitted) => {
        const spans: Spans = [];
        const packed = packGroup(group, this.ring, spans, turnsJson);
        return {
          op: 'appendGroup',
          args: [packed, { ...options, seqFrom: emitted?.[0]?.seq }],
          spans,
          ...(turnsJson ? { turnsJson } : {}),
        };
      },
      // A refused group may be sent again: its streamed turns are still all the store has of it.
      () => {
        for (const [id, turns] of streamed) this.streamed.set(id, turns);
      },
    ) as Promise<{ cursor: number }>;
  }

  appendTurn(turn: EpisodeTurn, options: { runId?: string } = {}): Promise<{ cursor: number }> {
    const runId = turn?.runId ?? options.runId;
    let indices: Set<number> | undefined;
    let turnJson: string | undefined;
    return this.emitting(
      runId,
      () => {
        indices = this.streamed.get(turn.trajectoryId);
        if (indices?.has(turn.turn.index)) return [];
        if (!indices) {
          indices = new Set();
          this.streamed.set(turn.trajectoryId, indices);
        }
        turnJson = JSON.stringify(turn.turn) as string | undefined;
        if (turnJson === undefined) throw new Error('a turn without its turn');
        indices.add(turn.turn.index);
        return [turnEvent(turn, turnJson, Date.now())];
      },
      (emitted) => {
        const spans: Spans = [];
        const packed = packTurn(turn, runId, this.sentPieces, this.ring, spans, turnJson);
        return {
          op: 'appendTurns',
          args: [[packed], { ...options, ...(emitted ? { emitted } : {}) }],
          spans,
          ...(turnJson === undefined ? {} : { turnJson: [turnJson] }),
        };
      },
      // A refused turn may be sent again, and is emitted again then.
      () => indices?.delete(turn.turn.index),
    ) as Promise<{ cursor: number }>;
  }

  appendStepMetrics(
    runId: string,
    step: number,
    metrics: Record<string, number>,
  ): Promise<{ cursor: number }> {
    return this.emitting(
      runId,
      () => [stepMetricsEvent(step, metrics, Date.now())],
      (emitted) => ({ op: 'appendStepMetrics', args: [runId, step, metrics, emitted?.[0]] }),
    ) as Promise<{ cursor: number }>;
  }

  startRun(...args: Args<'startRun'>): Promise<void> {
    return this.request({ op: 'startRun', args }, { barrier: args[0] }) as Promise<void>;
  }

  setRunStatus(...args: Args<'setRunStatus'>): Promise<void> {
    return this.request({ op: 'setRunStatus', args }, { barrier: args[0] }) as Promise<void>;
  }

  markUnfinished(...args: Args<'markUnfinished'>): Promise<number> {
    const runId = args[0]?.runId;
    return this.request(
      { op: 'markUnfinished', args },
      runId === undefined ? {} : { barrier: runId },
    ) as Promise<number>;
  }

  /**
   * A write whose events are emitted now, numbered after the run's last seq, and committed later.
   * When the events cannot be built (malformed input, no run id) nothing is emitted and the thread's
   * validation refuses the write with the field to fix.
   */
  private emitting(
    runId: string | undefined,
    build: () => EventDraft[],
    request: WriteOf,
    refused?: () => void,
  ): Promise<unknown> {
    if (runId === undefined || this.dead || this.closing) return this.request(request(undefined));
    const run = this.runs.get(runId) ?? this.learnRun(runId);
    if (run.next === undefined || run.waiting.length > 0)
      return this.later(run, () => this.emitting(runId, build, request, refused));
    let drafts: EventDraft[];
    try {
      drafts = build();
    } catch {
      return this.request(request(undefined));
    }
    if (drafts.length === 0) return Promise.resolve({ cursor: 0 });
    return this.emit(runId, run, drafts, request, refused);
  }

  /** Number `drafts` within the run's reserved seqs (waiting for more if they do not fit), emit them, and write. */
  private emit(
    runId: string,
    run: RunSeq,
    drafts: EventDraft[],
    request: WriteOf,
    refused?: () => void,
  ): Promise<unknown> {
    if (this.dead || this.closing) return this.request(request(undefined));
    if (run.next === undefined || run.next + drafts.length - 1 > run.limit) {
      this.reserve(runId, run, drafts.length);
      return this.later(run, () => this.emit(runId, run, drafts, request, refused));
    }
    const seqFrom = run.next;
    run.next += drafts.length;
    if (run.limit - run.next < this.seqBlock / 2) this.reserve(runId, run, 0);
    // The drafts were built for this write alone: numbered in place rather than copied.
    const events = drafts as FeedEvent[];
    for (let i = 0; i < events.length; i++) {
      events[i]!.runId = runId;
      events[i]!.seq = seqFrom + i;
    }
    this.emitted.push(...events);
    return this.request(request(events.map((e) => ({ seq: e.seq!, at: e.at }))), {
      emitted: { runId, events, ...(refused ? { refused } : {}) },
    });
  }

  /** Run `fn` once the run's seqs are known again, after the writes already waiting. */
  private later(run: RunSeq, fn: () => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) =>
      run.waiting.push({ go: () => void fn().then(resolve, reject), fail: reject }),
    );
  }

  /** A run not written here before: its seqs are reserved in the store (recording the run if new). */
  private learnRun(runId: string): RunSeq {
    const run: RunSeq = { next: undefined, limit: 0, barriers: 0, extending: false, waiting: [] };
    this.runs.set(runId, run);
    this.request({ op: 'startRun', args: [runId, {}] }, { barrier: runId }).catch(() => {});
    return run;
  }

  /** Reserve more seqs for the run (at least `need`), unless a reservation is under way. */
  private reserve(runId: string, run: RunSeq, need: number): void {
    if (run.extending || run.barriers > 0 || this.dead || this.closing) return;
    run.extending = true;
    this.request({ op: 'reserveSeqs', args: [runId, Math.max(this.seqBlock, need)] }).then(
      (range) => {
        run.extending = false;
        run.limit = Math.max(run.limit, (range as SeqRange).to);
        this.resume(run);
      },
      (error: Error) => {
        run.extending = false;
        for (const { fail } of run.waiting.splice(0)) fail(error);
      },
    );
  }

  /** Let the writes waiting for a run's seqs go, in order (one that must wait again keeps its place). */
  private resume(run: RunSeq): void {
    const waiting = run.waiting.splice(0);
    for (const [i, { go }] of waiting.entries()) {
      if (run.waiting.length > 0) {
        run.waiting.push(...waiting.slice(i));
        return;
      }
      go();
    }
  }

  private request(
    request: Omit<Exclude<WriterMessage, { op: 'close' }>, 'id'>,
    about: { emitted?: Emitted; barrier?: string } = {},
  ): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing)
      return Promise.reject(new ReplayError('store_writer_closed', 'The store writer is closed.'));
    if (about.barrier !== undefined) {
      const run = this.runs.get(about.barrier);
      if (run) {
        run.barriers++;
        run.next = undefined;
      } else
        this.runs.set(about.barrier, {
          next: undefined,
          limit: 0,
          barriers: 1,
          extending: false,
          waiting: [],
        });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...about });
      this.outbox.push({ ...request, id } as WriterMessage);
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Hand this turn's emitted events to the listeners, and its writes to the thread in one message. */
  private flush(): void {
    this.flushScheduled = false;
    const events = this.emitted;
    const requests = this.outbox;
    this.emitted = [];
    this.outbox = [];
    if (events.length > 0) for (const listener of this.emitListeners) listener(events);
    if (requests.length > 0)
      this.worker.postMessage({ requests, ringEnd: this.ring.publish() } satisfies WriterBatch);
  }

  private committed(reply: Extract<WriterReply, { type: 'committed' }>): void {
    const failed: WriteFailure[] = [];
    const emitted = new Map<string, FeedEvent>();
    for (const result of reply.results) {
      const write = this.pending.get(result.id)?.emitted;
      if (!write) continue;
      if (result.ok) {
        if (reply.landed.seqs.length > 0) for (const e of write.events) emitted.set(`${e.seq} ${e.runId}`, e);
        continue;
      }
      write.refused?.();
      failed.push({
        runId: write.runId,
        seqs: write.events.map((e) => e.seq!),
        code: result.error.code ?? 'store_write_failed',
        message: result.error.message,
      });
    }
    const events = landedEvents(reply, emitted);
    if (events.length > 0 || failed.length > 0)
      for (const listener of this.commitListeners) listener(events, failed);
    for (const result of reply.results) {
      const p = this.pending.get(result.id);
      if (!p) continue;
      this.pending.delete(result.id);
      if (p.barrier !== undefined)
        this.barrierDone(p.barrier, result.reserved, result.ok ? undefined : toError(result.error));
      if (result.ok) p.resolve(result.value);
      else p.reject(toError(result.error));
    }
    if (this.pending.size === 0) this.drained?.();
  }

  /** A write that numbered its events in the thread ended: once none is left, the run's next seqs are known. */
  private barrierDone(runId: string, reserved: SeqRange | undefined, error: Error | undefined): void {
    const run = this.runs.get(runId);
    if (!run) return;
    run.barriers--;
    if (run.barriers > 0) return;
    if (reserved === undefined) {
      // The store could not reserve seqs (its commit failed): the writes waiting for them fail with
      // its error, and the run's next write asks again.
      this.runs.delete(runId);
      const failure =
        error ?? new ReplayError('store_write_failed', `Could not reserve seqs for run '${runId}'.`);
      for (const { fail } of run.waiting.splice(0)) fail(failure);
      return;
    }
    run.next = reserved.from;
    run.limit = reserved.to;
    this.resume(run);
  }

  /** Commit what was handed over, then stop the worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pending.size > 0)
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
      if (this.dead) return;
      const closed = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.postMessage({
        requests: [{ id: this.nextId++, op: 'close' }],
        ringEnd: this.ring.publish(),
      } satisfies WriterBatch);
      await closed;
    })();
    return this.closing;
  }

  private fail(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    const failed: WriteFailure[] = [];
    for (const p of this.pending.values()) {
      if (p.emitted)
        failed.push({
          runId: p.emitted.runId,
          seqs: p.emitted.events.map((e) => e.seq!),
          code: (error as ReplayError).code ?? 'store_writer_failed',
          message: error.message,
        });
      p.reject(error);
    }
    this.pending.clear();
    this.drained?.();
    if (failed.length > 0) for (const listener of this.commitListeners) listener([], failed);
    // Writes waiting for a run's seq are refused now that no commit will come.
    for (const run of this.runs.values()) for (const { fail } of run.waiting.splice(0)) fail(error);
  }
}

/**
 * A commit's events in cursor order: those the thread sent whole, and the owner's emitted ones
 * with the cursors they landed at. One the owner cannot match is left out; the commit's cursors
 * then skip, and a follower reads it from the log.
 */
function landedEvents(
  reply: Extract<WriterReply, { type: 'committed' }>,
  emitted: ReadonlyMap<string, FeedEvent>,
): StoredEvent[] {
  const { runIds, seqs, cursors } = reply.landed;
  if (seqs.length === 0) return reply.events as StoredEvent[];
  const events: StoredEvent[] = [];
  let w = 0;
  for (let i = 0; i < seqs.length; i++) {
    const cursor = cursors[i]!;
    while (w < reply.events.length && reply.events[w]!.cursor < cursor) events.push(reply.events[w++]!);
    const e = emitted.get(`${seqs[i]} ${runIds[i]}`);
    if (e) events.push({ ...e, cursor });
  }
  while (w < reply.events.length) events.push(reply.events[w++]!);
  return events;
}

function toError(error: WriterError): Error {
  return error.code !== undefined
    ? new ReplayError(error.code, error.message, error.hint)
    : new Error(error.message);
}

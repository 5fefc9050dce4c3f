import { Worker } from 'node:worker_threads';
import type { EpisodeTurn } from '@toolgym/protocol';
import { ReplayConfigError, ReplayError } from './errors.ts';
import type { OpenStoreOptions, StoredEvent, TrajectoryStore } from './store.ts';

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
  | { id: number; op: 'close' };

type WriterError = { code?: string; message: string; hint?: string };

export type WriterReply =
  | { type: 'ready'; head: number }
  | { type: 'failed'; error: WriterError }
  | {
      type: 'committed';
      results: Array<
        { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WriterError }
      >;
      /** The events the commit logged, for in-process followers (the feed server) to fan out unread. */
      events: readonly StoredEvent[];
    }
  | { type: 'closed' };

type CommitListener = (events: readonly StoredEvent[]) => void;

/**
 * The store's writes, off the caller's thread: a worker owns the write connection and commits what
 * arrives together in one transaction, with the store's durability setting. Each promise settles
 * when its write is committed (or refused, with the store's error code), so a caller that awaits
 * keeps "acknowledged = committed"; one that does not (turns of a running episode) never waits for
 * the disk.
 */
export class StoreWriter {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<CommitListener>();
  /** Every write handed over and not yet settled; closing waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  private nextId = 0;
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly path: string,
  ) {
    worker.on('message', (reply: WriterReply) => {
      if (reply.type !== 'committed') return;
      for (const result of reply.results) {
        const p = this.pending.get(result.id);
        if (!p) continue;
        this.pending.delete(result.id);
        if (result.ok) p.resolve(result.value);
        else p.reject(toError(result.error));
      }
      if (reply.events.length > 0) for (const listener of this.listeners) listener(reply.events);
    });
    worker.on('error', (e) =>
      this.fail(new ReplayError('store_writer_failed', `The store writer failed: ${e.message}`)),
    );
    worker.on('exit', () =>
      this.fail(new ReplayError('store_writer_closed', 'The store writer has stopped.')),
    );
  }

  /** Start a writer on the store at `file` (created if needed); resolves once the store is open. */
  static async open(file: string, options: Omit<OpenStoreOptions, 'readonly'> = {}): Promise<StoreWriter> {
    const worker = new Worker(new URL('./store-writer-worker.js', import.meta.url), {
      workerData: { file, options },
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
    return new StoreWriter(worker, file);
  }

  /** Called after each commit with the events it logged, in cursor order. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  appendGroup(...args: Args<'appendGroup'>): Promise<{ cursor: number }> {
    return this.request({ op: 'appendGroup', args }) as Promise<{ cursor: number }>;
  }

  appendTurn(turn: EpisodeTurn, options: { runId?: string } = {}): Promise<{ cursor: number }> {
    return this.request({ op: 'appendTurns', args: [[turn], options] }) as Promise<{ cursor: number }>;
  }

  appendStepMetrics(...args: Args<'appendStepMetrics'>): Promise<{ cursor: number }> {
    return this.request({ op: 'appendStepMetrics', args }) as Promise<{ cursor: number }>;
  }

  startRun(...args: Args<'startRun'>): Promise<void> {
    return this.request({ op: 'startRun', args }) as Promise<void>;
  }

  setRunStatus(...args: Args<'setRunStatus'>): Promise<void> {
    return this.request({ op: 'setRunStatus', args }) as Promise<void>;
  }

  markUnfinished(...args: Args<'markUnfinished'>): Promise<number> {
    return this.request({ op: 'markUnfinished', args }) as Promise<number>;
  }

  private request(request: Omit<Exclude<WriterRequest, { op: 'close' }>, 'id'>): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing)
      return Promise.reject(new ReplayError('store_writer_closed', 'The store writer is closed.'));
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
    const settled: Promise<unknown> = promise.then(
      () => this.inflight.delete(settled),
      () => this.inflight.delete(settled),
    );
    this.inflight.add(settled);
    return promise;
  }

  /** Commit what was handed over, then stop the worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.inflight);
      if (this.dead) return;
      const closed = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.postMessage({ id: this.nextId++, op: 'close' } satisfies WriterRequest);
      await closed;
    })();
    return this.closing;
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}

function toError(error: WriterError): Error {
  return error.code !== undefined
    ? new ReplayError(error.code, error.message, error.hint)
    : new Error(error.message);
}

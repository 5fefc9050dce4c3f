/**
 * BM25 search off the caller's event loop. A server that answers many sessions from one thread
 * cannot run a query there: a query that needs 100 ms of CPU (or waits that long for a core on a
 * loaded machine) delays every other session's tool call by as much. Here a small pool of worker
 * threads each opens the disk index and the document store and answers one query at a time; the
 * caller's thread only posts the query and receives the hits. A query still running at
 * `timeoutMs` has its thread terminated (synchronous code cannot be interrupted otherwise) and
 * fails with `search_timeout`; a fresh thread takes its place, so the next query works.
 */
import { Worker } from 'node:worker_threads';
import { ToolGymError } from '@toolgym/protocol';
import type { DocumentStore, RetrievalHit, Retriever, SearchOptions } from './types.ts';

/** Where a search thread opens the index (`Bm25Index.open`) and the passages (`SqliteDocumentStore.open`). */
export interface SearchWorkerSource {
  indexDir: string;
  storeFile: string;
}

export interface SearchWorkerRequest {
  id: number;
  query: string;
  k: number;
}

export type SearchWorkerReply =
  | { kind: 'ready' }
  | { kind: 'broken'; message: string }
  | { kind: 'hits'; id: number; hits: RetrievalHit[] }
  | { kind: 'error'; id: number; message: string };

export interface Bm25WorkerOptions {
  /** Search threads (each holds the index's in-memory part: lengths, offsets, block bounds, vocabulary). */
  workers: number;
  /** A query running longer than this (wall time, from when a thread takes it) is stopped. */
  timeoutMs: number;
}

/** A query ran past the search budget and its thread was stopped. */
export class SearchTimeoutError extends ToolGymError {
  constructor(readonly timeoutMs: number) {
    super(
      'search_timeout',
      `The search ran past ${timeoutMs} ms and was stopped; search again with fewer or rarer words.`,
      'if ordinary queries reach it, raise the search timeout (the machine may be overloaded)',
    );
  }
}

/** The search threads could not serve (the index is missing, a thread failed). */
export class SearchWorkerError extends ToolGymError {
  constructor(message: string) {
    super('search_failed', message, 'rebuild the index (delete its directory) or check the logs');
  }
}

interface Call extends SearchWorkerRequest {
  resolve(hits: RetrievalHit[]): void;
  reject(error: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface SearchThread {
  thread: Worker;
  ready: boolean;
  /** Settles when the thread is ready or gone (never rejects). */
  started: Promise<void>;
  markStarted(): void;
  call?: Call;
  timer?: NodeJS.Timeout;
}

export class Bm25WorkerRetriever implements Retriever {
  readonly kind = 'bm25';
  private readonly threads = new Set<SearchThread>();
  private readonly queue: Call[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    /** The passages by id, for `open` and citations in the caller's thread. */
    readonly documents: DocumentStore,
    private readonly source: SearchWorkerSource,
    private readonly options: Bm25WorkerOptions,
  ) {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new RangeError(`workers must be a positive integer, not ${options.workers}`);
  }

  search(query: string, { k, signal }: SearchOptions): Promise<RetrievalHit[]> {
    signal?.throwIfAborted();
    if (this.closed) return Promise.reject(new SearchWorkerError('the search threads were closed'));
    return new Promise((resolve, reject) => {
      const call: Call = { id: this.nextId++, query, k, resolve, reject };
      if (signal) {
        call.signal = signal;
        call.onAbort = () =>
          this.cancel(call, signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.queue.push(call);
      this.pump();
    });
  }

  /**
   * Starts the threads now rather than on the first query: a thread takes a while to load its
   * code and open the index (seconds on a loaded machine). Resolves when every thread is ready.
   */
  warm(): Promise<void> {
    while (this.threads.size < this.options.workers && !this.closed) this.spawn();
    return Promise.all([...this.threads].map((t) => t.started)).then(() => undefined);
  }

  /** Stops every thread; queued and running queries fail. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = new SearchWorkerError('the search threads were closed');
    for (const call of this.queue.splice(0)) this.settle(call, closing);
    await Promise.all([...this.threads].map((t) => this.stop(t, closing)));
  }

  private pump(): void {
    for (const t of this.threads) {
      if (this.queue.length === 0) return;
      if (t.ready && !t.call) this.start(t, this.queue.shift()!);
    }
    // A query starts the whole pool (`warm`): the next query should find a thread ready.
    if (this.queue.length > 0) void this.warm();
  }

  private spawn(): void {
    const thread = new Worker(new URL('./bm25-search-worker.js', import.meta.url), {
      workerData: this.source,
    });
    let markStarted = () => {};
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    const t: SearchThread = { thread, ready: false, started, markStarted };
    this.threads.add(t);
    thread.on('message', (reply: SearchWorkerReply) => {
      if (reply.kind === 'ready') {
        t.ready = true;
        t.markStarted();
        thread.unref();
        this.pump();
      } else if (reply.kind === 'broken') {
        this.fail(t, new SearchWorkerError(reply.message));
      } else {
        this.finish(t, reply);
      }
    });
    thread.on('error', (error) =>
      this.fail(t, new SearchWorkerError(`a search thread failed: ${error.message}`)),
    );
    thread.on('exit', (code) => this.fail(t, new SearchWorkerError(`a search thread exited (code ${code})`)));
  }

  /** A thread that dies before it is ready fails the queued queries too: another would die the same way. */
  private fail(t: SearchThread, error: Error): void {
    if (!t.ready && this.threads.has(t)) for (const call of this.queue.splice(0)) this.settle(call, error);
    void this.stop(t, error);
  }

  private start(t: SearchThread, call: Call): void {
    t.call = call;
    // A query in flight keeps the process alive; an idle pool does not.
    t.thread.ref();
    t.timer = setTimeout(
      () => void this.stop(t, new SearchTimeoutError(this.options.timeoutMs)),
      this.options.timeoutMs,
    );
    t.thread.postMessage({ id: call.id, query: call.query, k: call.k } satisfies SearchWorkerRequest);
  }

  private finish(t: SearchThread, reply: Extract<SearchWorkerReply, { id: number }>): void {
    const call = t.call;
    clearTimeout(t.timer);
    t.call = undefined;
    t.thread.unref();
    if (call?.id === reply.id) {
      if (reply.kind === 'hits') this.settle(call, undefined, reply.hits);
      else this.settle(call, new SearchWorkerError(`the search failed: ${reply.message}`));
    }
    this.pump();
  }

  /** A cancelled query leaves the queue, or stops the thread running it. */
  private cancel(call: Call, reason: Error): void {
    const queued = this.queue.indexOf(call);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      this.settle(call, reason);
      return;
    }
    for (const t of this.threads) if (t.call === call) void this.stop(t, reason);
  }

  private async stop(t: SearchThread, reason: Error): Promise<void> {
    if (!this.threads.delete(t)) return;
    t.markStarted();
    clearTimeout(t.timer);
    if (t.call) this.settle(t.call, reason);
    t.call = undefined;
    await t.thread.terminate();
    this.pump();
  }

  private settle(call: Call, error: Error | undefined, hits?: RetrievalHit[]): void {
    if (call.onAbort) call.signal?.removeEventListener('abort', call.onAbort);
    if (error) call.reject(error);
    else call.resolve(hits!);
  }
}

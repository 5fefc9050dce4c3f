/**
 * Pure tools run in worker threads, so a tool that loops forever holds a thread the kit can
 * terminate, never the event loop that serves every other episode.
 *
 * A worker imports the environment's module (a workspace package or a user's file alike: only its
 * URL crosses) and runs the tool it is asked for by environment ref and tool name, one call at a
 * time, through a `ToolChannel` in shared memory. The caller awaits the reply with
 * `Atomics.waitAsync` and never blocks its thread: on a loaded machine the worker may wait for a
 * core, and a caller blocked meanwhile would hold the event loop that serves every other episode.
 * At the call's deadline the worker is terminated and the call fails with `tool_timeout`, and the
 * pool starts another. Two workers are kept warm, so a call that stalls one leaves the other free;
 * when calls have queued for `stallMs`, a call that has run that long no longer counts against
 * `maxWorkers`, and up to two more workers start.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ToolOutput } from './define-environment.ts';
import { ToolError } from './errors.ts';
import { REPLY, REQUEST, ToolChannel } from './tool-channel.ts';

/** What a worker answers a request with. */
export type ToolWorkerReply =
  | { kind: 'result'; id: number; output: ToolOutput }
  | { kind: 'error'; id: number; message: string; code?: string };

/** What a worker posts on its port: that it loaded the module, or why it could not. */
type ToolWorkerStatus = { kind: 'ready' } | { kind: 'broken'; message: string };

/** What the pool asks a worker. */
export interface ToolWorkerRequest {
  id: number;
  ref: string;
  tool: string;
  args: unknown;
}

/** The call ran past its deadline; its worker was terminated. */
export class ToolDeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`ran past ${timeoutMs} ms`);
    this.name = 'ToolDeadlineError';
  }
}

interface PendingCall extends ToolWorkerRequest {
  timeoutMs: number;
  /** performance.now() when the call was queued. */
  queuedAt: number;
  resolve(output: ToolOutput): void;
  reject(error: Error): void;
}

interface PooledWorker {
  thread: Worker;
  channel: ToolChannel;
  ready: boolean;
  call?: PendingCall;
  /** performance.now() when `call` started, or when the worker last went idle. */
  since: number;
}

export interface ToolWorkerPoolOptions {
  /** A call running longer than this no longer counts against `maxWorkers`. */
  stallMs?: number;
  /** Workers that take calls at once before calls queue (more while calls stall). */
  maxWorkers?: number;
  /** An idle worker is stopped after this long. */
  idleMs?: number;
}

const WORKER_SCRIPT = new URL('./tool-worker.js', import.meta.url);

/** `Atomics.waitAsync` (ES2024; in Node since 16), typed here because the workspace targets ES2023. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number):
      | { async: false; value: 'not-equal' | 'timed-out' }
      | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;
/** Workers the pool keeps warm: one for calls, one spare that takes over from a stalled call. */
const WARM_WORKERS = 2;
/** Workers started beyond `maxWorkers` while calls stall, at most. */
const EXTRA_WORKERS = 2;

export class ToolWorkerPool {
  private readonly workers = new Set<PooledWorker>();
  private readonly queue: PendingCall[] = [];
  private nextId = 0;
  private readonly stallMs: number;
  private readonly maxWorkers: number;
  private readonly idleMs: number;
  /** Checks deadlines and stalls while workers live; it keeps the process alive while calls wait or run (workers never do). */
  private watch?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  /** Set when the module cannot be loaded in a worker: every call fails with it. */
  private broken?: string;

  constructor(
    readonly moduleUrl: string,
    options: ToolWorkerPoolOptions = {},
  ) {
    this.stallMs = options.stallMs ?? 50;
    this.maxWorkers = Math.max(WARM_WORKERS, options.maxWorkers ?? availableParallelism());
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** Runs `tool` of environment `ref` with already validated `args`; rejects with `ToolDeadlineError` at the deadline. */
  run(ref: string, tool: string, args: unknown, timeoutMs: number): Promise<ToolOutput> {
    if (this.broken) return Promise.reject(new Error(this.broken));
    return new Promise<ToolOutput>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, ref, tool, args, timeoutMs, queuedAt: performance.now(), resolve, reject });
      this.watch ??= setInterval(() => this.check(), Math.max(1, Math.floor(this.stallMs / 2)));
      this.watch.ref();
      this.warm();
      this.pump();
    });
  }

  /** Starts the warm workers now, so the first calls need not wait for a thread to start. */
  warm(): void {
    while (this.workers.size < WARM_WORKERS && !this.broken) this.spawn();
  }

  /** Workers alive now (for tests and diagnostics). */
  get size(): number {
    return this.workers.size;
  }

  /** Stops every worker; queued and running calls fail. */
  async close(): Promise<void> {
    const closing = new Error('the tool worker pool was closed');
    for (const call of this.queue.splice(0)) call.reject(closing);
    await Promise.all([...this.workers].map((w) => this.stop(w, closing)));
    clearInterval(this.watch);
    this.watch = undefined;
  }

  private pump(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) break;
      if (worker.ready && !worker.call) this.start(worker, this.queue.shift()!);
    }
    if (this.queue.length === 0) {
      this.settle();
      return;
    }
    // Calls have waited a while: start a worker if the pool is below its size, not counting stalled calls.
    const now = performance.now();
    if (now - this.queue[0]!.queuedAt < this.stallMs) return;
    let live = 0;
    for (const w of this.workers) if (!w.call || now - w.since < this.stallMs) live++;
    const starting = [...this.workers].some((w) => !w.ready);
    if (!starting && live < this.maxWorkers && this.workers.size < this.maxWorkers + EXTRA_WORKERS) this.spawn();
  }

  private spawn(): void {
    const channel = new ToolChannel();
    const thread = new Worker(WORKER_SCRIPT, { workerData: { moduleUrl: this.moduleUrl, buffer: channel.buffer } });
    const worker: PooledWorker = { thread, channel, ready: false, since: performance.now() };
    this.workers.add(worker);
    thread.on('message', (status: ToolWorkerStatus) => {
      if (status.kind === 'ready') {
        worker.ready = true;
        this.pump();
        return;
      }
      this.broken = status.message;
      for (const call of this.queue.splice(0)) call.reject(new Error(status.message));
      void this.stop(worker, new Error(status.message));
    });
    thread.on('error', (error) => void this.stop(worker, new Error(`the tool worker failed: ${error.message}`)));
    thread.on('exit', (code) => void this.stop(worker, new Error(`the tool worker exited (code ${code})`)));
    // After the listeners: adding a 'message' listener refs the port again.
    thread.unref();
    this.scheduleIdleSweep();
  }

  private start(worker: PooledWorker, call: PendingCall): void {
    worker.call = call;
    worker.since = performance.now();
    const { id, ref, tool, args } = call;
    if (!worker.channel.write({ id, ref, tool, args } satisfies ToolWorkerRequest)) {
      worker.call = undefined;
      call.reject(new Error(`the arguments of '${tool}' are too large to send to a tool worker`));
      return;
    }
    worker.channel.signal(REQUEST);
    const waiting = waitAsync(worker.channel.state, 0, REQUEST, call.timeoutMs + 1_000);
    if (!waiting.async) {
      this.receive(worker);
      return;
    }
    void waiting.value.then(() => {
      if (worker.call === call && worker.channel.phase === REPLY) this.receive(worker);
    });
  }

  private receive(worker: PooledWorker): void {
    const call = worker.call;
    if (!call) return;
    const reply = worker.channel.read<ToolWorkerReply>();
    worker.channel.free();
    worker.call = undefined;
    worker.since = performance.now();
    if (reply.id !== call.id) call.reject(new Error('a tool worker answered another call'));
    else if (reply.kind === 'result') call.resolve(reply.output);
    else call.reject(reply.code !== undefined ? new ToolError(reply.message, reply.code) : new Error(reply.message));
    this.pump();
  }

  /**
   * Stops workers past their call's deadline, and lets calls that wait behind a stalled one have a
   * worker. A reply already in the channel is taken first: when this thread was busy elsewhere (a
   * learner step, a starved process on a loaded host) the timer can fire before the reply's wake-up
   * is handled, and the tool, which finished in time, must not be recorded as stopped.
   */
  private check(): void {
    const now = performance.now();
    for (const w of this.workers) {
      if (!w.call) continue;
      if (w.channel.phase === REPLY) this.receive(w);
      else if (now - w.since >= w.call.timeoutMs) void this.stop(w, new ToolDeadlineError(w.call.timeoutMs));
    }
    this.pump();
  }

  /** No call waits or runs any more: the process may exit. */
  private settle(): void {
    if (this.queue.length > 0) return;
    for (const w of this.workers) if (w.call) return;
    this.watch?.unref();
  }

  private async stop(worker: PooledWorker, reason: Error): Promise<void> {
    if (!this.workers.delete(worker)) return;
    const call = worker.call;
    worker.call = undefined;
    call?.reject(reason);
    // A worker stopped mid-call is replaced at once, so the pool stays warm.
    if (call) this.warm();
    await worker.thread.terminate();
    this.pump();
  }

  private scheduleIdleSweep(): void {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(() => {
      const now = performance.now();
      for (const w of [...this.workers]) if (w.ready && !w.call && now - w.since >= this.idleMs) void this.stop(w, new Error('idle'));
      if (this.workers.size === 0) {
        clearInterval(this.idleTimer);
        this.idleTimer = undefined;
        clearInterval(this.watch);
        this.watch = undefined;
      }
    }, this.idleMs / 2);
    this.idleTimer.unref();
  }
}

const pools = new Map<string, ToolWorkerPool>();

/** The process's pool for the environment module at `moduleUrl`. */
export function toolWorkerPool(moduleUrl: string): ToolWorkerPool {
  let pool = pools.get(moduleUrl);
  if (!pool) {
    pool = new ToolWorkerPool(moduleUrl);
    pools.set(moduleUrl, pool);
  }
  return pool;
}

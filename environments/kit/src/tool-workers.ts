/**
 * Pure tools run in worker threads, so a tool that loops forever holds a thread the kit can
 * terminate, never the event loop that serves every other episode.
 *
 * A worker imports the environment's module (a workspace package or a user's file alike: only its
 * URL crosses) and runs the tool it is asked for by environment ref and tool name. Each worker runs
 * one call at a time. At the call's deadline the worker is terminated and the call fails with
 * `tool_timeout`; the pool starts another. A call that has run past `stallMs` no longer counts
 * against the pool's size, so a warm spare takes the next calls while it runs out its deadline.
 */
import { availableParallelism, constants, setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ToolOutput } from './define-environment.ts';
import { ToolError } from './errors.ts';

/** What a worker posts back. */
export type ToolWorkerReply =
  /** `tid`: the thread's id in the kernel (Linux), so a stalled call's thread can be reniced. */
  | { kind: 'ready'; tid?: number }
  | { kind: 'broken'; message: string }
  | { kind: 'result'; id: number; output: ToolOutput }
  | { kind: 'error'; id: number; message: string; code?: string };

/** What the pool posts to a worker. */
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
  resolve(output: ToolOutput): void;
  reject(error: Error): void;
}

interface PooledWorker {
  thread: Worker;
  ready: boolean;
  tid?: number;
  call?: PendingCall;
  /** performance.now() when `call` started. */
  since: number;
  timers: NodeJS.Timeout[];
}

export interface ToolWorkerPoolOptions {
  /** Workers running a call for less than this count against `maxWorkers`. */
  stallMs?: number;
  /** Workers (busy and spare) the pool keeps while no call stalls. */
  maxWorkers?: number;
  /** An idle worker is stopped after this long. */
  idleMs?: number;
}

const WORKER_SCRIPT = new URL('./tool-worker.js', import.meta.url);

export class ToolWorkerPool {
  private readonly workers = new Set<PooledWorker>();
  private readonly queue: PendingCall[] = [];
  private nextId = 0;
  private readonly stallMs: number;
  private readonly maxWorkers: number;
  private readonly idleMs: number;
  private idleTimer?: NodeJS.Timeout;
  private lastUsed = 0;
  /** Set when the module cannot be loaded in a worker: every call fails with it. */
  private broken?: string;

  constructor(
    readonly moduleUrl: string,
    options: ToolWorkerPoolOptions = {},
  ) {
    this.stallMs = options.stallMs ?? 20;
    this.maxWorkers = options.maxWorkers ?? Math.max(2, availableParallelism());
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** Runs `tool` of environment `ref` with already validated `args`; rejects with `ToolDeadlineError` at the deadline. */
  run(ref: string, tool: string, args: unknown, timeoutMs: number): Promise<ToolOutput> {
    if (this.broken) return Promise.reject(new Error(this.broken));
    this.lastUsed = performance.now();
    return new Promise<ToolOutput>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, ref, tool, args, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Starts the workers the pool keeps while idle (one for calls, one spare), so the first calls need not wait for a thread. */
  warm(): void {
    while (this.workers.size < Math.min(2, this.maxWorkers)) this.spawn();
    this.scheduleIdleSweep();
  }

  /** Workers alive now (for tests and diagnostics). */
  get size(): number {
    return this.workers.size;
  }

  /** Stops every worker; queued and running calls fail. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const closing = new Error('the tool worker pool was closed');
    for (const call of this.queue.splice(0)) call.reject(closing);
    await Promise.all([...this.workers].map((w) => this.stop(w, closing)));
  }

  private pump(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) break;
      if (worker.ready && !worker.call) this.start(worker, this.queue.shift()!);
    }
    const now = performance.now();
    const live = [...this.workers].filter((w) => !w.call || now - w.since < this.stallMs);
    // A stalled call's thread is replaced at once, so the next call never waits for a thread to
    // start; under load the pool grows to maxWorkers.
    const saturated = this.queue.length > 0 && live.every((w) => w.call || !w.ready);
    if (live.length < Math.min(2, this.maxWorkers) || (saturated && live.length < this.maxWorkers)) this.spawn();
    this.scheduleIdleSweep();
  }

  /** A call past `stallMs` is probably runaway: its thread gets the lowest CPU priority until its deadline. */
  private demote(worker: PooledWorker): void {
    if (worker.tid === undefined || !worker.call) return;
    try {
      setPriority(worker.tid, constants.priority.PRIORITY_LOW);
    } catch {
      // Not permitted or not supported here: the deadline still holds.
    }
  }

  private spawn(): void {
    const thread = new Worker(WORKER_SCRIPT, { workerData: { moduleUrl: this.moduleUrl } });
    thread.unref();
    const worker: PooledWorker = { thread, ready: false, since: 0, timers: [] };
    this.workers.add(worker);
    thread.on('message', (reply: ToolWorkerReply) => this.onReply(worker, reply));
    thread.on('error', (error) => this.onExit(worker, `the tool worker failed: ${error.message}`));
    thread.on('exit', (code) => this.onExit(worker, `the tool worker exited (code ${code})`));
  }

  private start(worker: PooledWorker, call: PendingCall): void {
    worker.call = call;
    worker.since = performance.now();
    const { id, ref, tool, args } = call;
    worker.thread.postMessage({ id, ref, tool, args } satisfies ToolWorkerRequest);
    worker.timers = [
      setTimeout(() => {
        this.demote(worker);
        this.pump();
      }, this.stallMs + 1),
      setTimeout(() => void this.stop(worker, new ToolDeadlineError(call.timeoutMs)), call.timeoutMs),
    ];
  }

  private onReply(worker: PooledWorker, reply: ToolWorkerReply): void {
    if (reply.kind === 'ready') {
      worker.ready = true;
      worker.tid = reply.tid;
      this.pump();
      return;
    }
    if (reply.kind === 'broken') {
      this.broken = reply.message;
      for (const call of this.queue.splice(0)) call.reject(new Error(reply.message));
      void this.stop(worker, new Error(reply.message));
      return;
    }
    const call = worker.call;
    if (!call || call.id !== reply.id) return;
    for (const timer of worker.timers) clearTimeout(timer);
    worker.call = undefined;
    if (reply.kind === 'result') call.resolve(reply.output);
    else call.reject(reply.code !== undefined ? new ToolError(reply.message, reply.code) : new Error(reply.message));
    this.pump();
  }

  private onExit(worker: PooledWorker, reason: string): void {
    if (!this.workers.delete(worker)) return;
    for (const timer of worker.timers) clearTimeout(timer);
    worker.call?.reject(new Error(reason));
    worker.call = undefined;
    if (this.queue.length > 0) this.pump();
  }

  private async stop(worker: PooledWorker, reason: Error): Promise<void> {
    if (!this.workers.delete(worker)) return;
    for (const timer of worker.timers) clearTimeout(timer);
    worker.call?.reject(reason);
    worker.call = undefined;
    await worker.thread.terminate();
    if (this.queue.length > 0) this.pump();
  }

  private scheduleIdleSweep(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const quiet = performance.now() - this.lastUsed >= this.idleMs;
      if (quiet && this.queue.length === 0 && [...this.workers].every((w) => !w.call)) {
        for (const w of [...this.workers]) void this.stop(w, new Error('idle'));
      } else if (this.workers.size > 0) this.scheduleIdleSweep();
    }, this.idleMs);
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

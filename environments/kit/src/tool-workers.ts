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
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ToolOutput } from './define-environment.ts';
import { ToolError } from './errors.ts';

/** What a worker posts back. */
export type ToolWorkerReply =
  | { kind: 'ready' }
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
  call?: PendingCall;
  /** performance.now() when `call` started. */
  since: number;
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
/** Workers the pool keeps warm: one for calls, one spare that takes over from a stalled call. */
const WARM_WORKERS = 2;

export class ToolWorkerPool {
  private readonly workers = new Set<PooledWorker>();
  private readonly queue: PendingCall[] = [];
  private nextId = 0;
  private running = 0;
  private readonly stallMs: number;
  private readonly maxWorkers: number;
  private readonly idleMs: number;
  /** While calls run: checks for stalls and deadlines (one timer, not two per call). */
  private watch?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastUsed = 0;
  /** Set when the module cannot be loaded in a worker: every call fails with it. */
  private broken?: string;

  constructor(
    readonly moduleUrl: string,
    options: ToolWorkerPoolOptions = {},
  ) {
    this.stallMs = options.stallMs ?? 20;
    this.maxWorkers = Math.max(WARM_WORKERS, options.maxWorkers ?? availableParallelism());
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** Runs `tool` of environment `ref` with already validated `args`; rejects with `ToolDeadlineError` at the deadline. */
  run(ref: string, tool: string, args: unknown, timeoutMs: number): Promise<ToolOutput> {
    if (this.broken) return Promise.reject(new Error(this.broken));
    this.lastUsed = performance.now();
    return new Promise<ToolOutput>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, ref, tool, args, timeoutMs, resolve, reject });
      // The watch keeps the process alive while calls wait or run (the workers themselves never do).
      this.watch ??= setInterval(() => this.check(), Math.max(1, Math.floor(this.stallMs / 2)));
      this.pump();
    });
  }

  /** Starts the warm workers now, so the first calls need not wait for a thread to start. */
  warm(): void {
    while (this.workers.size < WARM_WORKERS) this.spawn();
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
    clearInterval(this.watch);
    this.watch = undefined;
    await Promise.all([...this.workers].map((w) => this.stop(w, closing)));
  }

  private pump(): void {
    if (this.queue.length > 0)
      for (const worker of this.workers) {
        if (worker.ready && !worker.call) this.start(worker, this.queue.shift()!);
        if (this.queue.length === 0) break;
      }
    // A stalled call's thread is replaced at once, so the next call never waits for a thread to
    // start; while calls queue, the pool grows to maxWorkers.
    const now = performance.now();
    let live = 0;
    let free = false;
    for (const w of this.workers) {
      if (w.call && now - w.since >= this.stallMs) continue;
      live++;
      free ||= !w.call;
    }
    if (live < WARM_WORKERS || (this.queue.length > 0 && !free && live < this.maxWorkers)) this.spawn();
    this.scheduleIdleSweep();
  }

  private spawn(): void {
    const thread = new Worker(WORKER_SCRIPT, { workerData: { moduleUrl: this.moduleUrl } });
    const worker: PooledWorker = { thread, ready: false, since: 0 };
    this.workers.add(worker);
    thread.on('message', (reply: ToolWorkerReply) => this.onReply(worker, reply));
    thread.on('error', (error) => void this.stop(worker, new Error(`the tool worker failed: ${error.message}`)));
    thread.on('exit', (code) => void this.stop(worker, new Error(`the tool worker exited (code ${code})`)));
    // After the listeners: adding a 'message' listener refs the port again. While a call runs, the
    // pool's watch timer keeps the process alive; otherwise idle workers never do.
    thread.unref();
  }

  private start(worker: PooledWorker, call: PendingCall): void {
    worker.call = call;
    worker.since = performance.now();
    this.running++;
    const { id, ref, tool, args } = call;
    worker.thread.postMessage({ id, ref, tool, args } satisfies ToolWorkerRequest);
  }

  /** Stops workers past their call's deadline, and lets a spare take over from a stalled call. */
  private check(): void {
    const now = performance.now();
    let stalled = false;
    for (const w of this.workers) {
      if (!w.call) continue;
      if (now - w.since >= w.call.timeoutMs) void this.stop(w, new ToolDeadlineError(w.call.timeoutMs));
      else stalled ||= now - w.since >= this.stallMs;
    }
    if (stalled) this.pump();
  }

  private finish(worker: PooledWorker): PendingCall | undefined {
    const call = worker.call;
    if (!call) return undefined;
    worker.call = undefined;
    if (--this.running === 0 && this.queue.length === 0) {
      clearInterval(this.watch);
      this.watch = undefined;
    }
    return call;
  }

  private onReply(worker: PooledWorker, reply: ToolWorkerReply): void {
    if (reply.kind === 'ready') {
      worker.ready = true;
      this.pump();
      return;
    }
    if (reply.kind === 'broken') {
      this.broken = reply.message;
      for (const call of this.queue.splice(0)) call.reject(new Error(reply.message));
      if (this.running === 0) {
        clearInterval(this.watch);
        this.watch = undefined;
      }
      void this.stop(worker, new Error(reply.message));
      return;
    }
    if (worker.call?.id !== reply.id) return;
    const call = this.finish(worker)!;
    if (reply.kind === 'result') call.resolve(reply.output);
    else call.reject(reply.code !== undefined ? new ToolError(reply.message, reply.code) : new Error(reply.message));
    if (this.queue.length > 0) this.pump();
  }

  private async stop(worker: PooledWorker, reason: Error): Promise<void> {
    if (!this.workers.delete(worker)) return;
    this.finish(worker)?.reject(reason);
    await worker.thread.terminate();
    if (this.queue.length > 0 || this.running > 0) this.pump();
  }

  private scheduleIdleSweep(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const quiet = performance.now() - this.lastUsed >= this.idleMs;
      if (quiet && this.queue.length === 0 && this.running === 0) {
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

import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import { QueryError } from '../errors.ts';
import type { FromExecutor, QueryRequest, QueryResult, ToExecutor } from './messages.ts';

const PROCESS_ENTRY = fileURLToPath(new URL('./query-process.ts', import.meta.url));

/** The loader that lets the query process run TypeScript directly (the workspace has no build step). */
function tsxLoader(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    throw new ConfigError(
      'the SQL query process needs the `tsx` package',
      'install it in the workspace root: pnpm add -D tsx',
    );
  }
}

interface Pending {
  resolve(result: QueryResult): void;
  reject(error: Error): void;
}

/** One query process; runs one query at a time. */
class QueryProcess {
  readonly child: ChildProcess;
  pending?: { id: number } & Pending;
  exited = false;
  /** Resolves when the process has loaded and can take queries; rejects if it dies first. */
  readonly ready: Promise<void>;

  constructor(loader: string, onExit: (process: QueryProcess) => void) {
    this.child = fork(PROCESS_ENTRY, [], {
      execArgv: ['--import', loader, '--max-old-space-size=512'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let markReady: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    // Nobody may be waiting yet; the rejection is still delivered to later awaits.
    this.ready.catch(() => {});
    // Idle query processes must not keep the environment process alive.
    this.child.unref();
    this.child.channel?.unref();
    this.child.on('message', (message: FromExecutor) => {
      if ('ready' in message) return markReady();
      const pending = this.pending;
      if (!pending || pending.id !== message.id) return;
      this.pending = undefined;
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new QueryError(message.code, message.message));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      failStart(
        new QueryError(
          'executor_crashed',
          `The query process could not start (${signal ?? `exit code ${code}`}).`,
        ),
      );
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(
        new QueryError(
          'executor_crashed',
          `The query process stopped (${signal ?? `exit code ${code}`}) while running the query, e.g. because it used too much memory. Simplify the query; the episode goes on.`,
        ),
      );
      onExit(this);
    });
    this.child.on('error', () => {
      // 'exit' follows and reports the failure.
    });
  }

  send(message: ToExecutor): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/**
 * Query processes shared by the episodes of one environment process. Each query takes an idle
 * process (or waits for one); a query that overruns its limit has its process killed — the only
 * way to stop a running better-sqlite3 statement — and a fresh process is started for the next
 * query, so the episode (and every other episode) goes on.
 */
export class QueryPool {
  private readonly processes = new Set<QueryProcess>();
  private readonly idle: QueryProcess[] = [];
  private readonly waiting: Array<Waiter> = [];
  private readonly sessions = new Set<string>();
  private nextId = 1;
  private closed = false;
  private loader?: string;
  /** Processes started so far (tests check that a timeout replaced one). */
  started = 0;

  constructor(readonly size: number) {}

  /** Runs one read-only query. Rejects with `QueryError` for anything the model should see. */
  async run(request: QueryRequest, timeoutMs: number, signal?: AbortSignal): Promise<QueryResult> {
    if (this.closed) throw new QueryError('executor_crashed', 'The query pool is closed.');
    this.sessions.add(request.session);
    const worker = await this.acquire(signal);
    try {
      await worker.ready;
    } catch (error) {
      this.releaseProcess(worker);
      throw error;
    }
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<QueryResult>((resolve, reject) => {
        worker.pending = { id, resolve, reject };
        const stop = (error: QueryError) => {
          if (worker.pending?.id !== id) return;
          worker.pending = undefined;
          reject(error);
          this.retire(worker);
        };
        timer = setTimeout(
          () =>
            stop(
              new QueryError(
                'query_timeout',
                `The query ran longer than ${timeoutMs} ms and was stopped. Make it cheaper (filter earlier, avoid cross joins and unbounded recursion); the episode goes on.`,
              ),
            ),
          timeoutMs,
        );
        onAbort = () => stop(cancelled());
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
        worker.send({ kind: 'query', id, ...request });
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      this.releaseProcess(worker);
    }
  }

  /** Pids of the live query processes, or only of those running a query (for diagnostics and tests). */
  processIds(options: { busy?: boolean } = {}): number[] {
    return [...this.processes].flatMap((p) =>
      p.child.pid === undefined || (options.busy && !p.pending) ? [] : [p.child.pid],
    );
  }

  /** Closes a session's connections in every live process. */
  release(session: string): void {
    if (!this.sessions.delete(session)) return;
    for (const process of this.processes) process.send({ kind: 'release', session });
  }

  /** Kills every process; pending queries fail, and so do those still waiting for a process. */
  close(): void {
    this.closed = true;
    for (const process of this.processes) process.kill();
    this.processes.clear();
    this.idle.length = 0;
    for (const waiter of this.waiting.splice(0))
      waiter.reject(new QueryError('executor_crashed', 'The query pool is closed.'));
  }

  /** A process for one query; a caller that is cancelled while every process is busy leaves the queue at once. */
  private acquire(signal?: AbortSignal): Promise<QueryProcess> {
    if (signal?.aborted) return Promise.reject(cancelled());
    const ready = this.idle.pop();
    if (ready) return Promise.resolve(ready);
    if (this.processes.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(cancelled());
      };
      const waiter: Waiter = {
        resolve: (process) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(process);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private spawn(): QueryProcess {
    this.loader ??= tsxLoader();
    this.started++;
    const process = new QueryProcess(this.loader, (gone) => this.forget(gone));
    this.processes.add(process);
    return process;
  }

  /** Hands a process to the next waiter, or parks it idle. Dead processes are replaced. */
  private releaseProcess(process: QueryProcess): void {
    if (this.closed) return;
    const live = process.exited || !this.processes.has(process) ? undefined : process;
    const next = this.waiting.shift();
    if (next) next.resolve(live ?? this.spawn());
    else if (live) this.idle.push(live);
  }

  /** Kills an overrunning process and starts its replacement at once, so the next query finds it warm. */
  private retire(process: QueryProcess): void {
    this.forget(process);
    process.kill();
    if (!this.closed && this.processes.size < this.size) this.idle.push(this.spawn());
  }

  /** Starts one process ahead of the first query (process start-up is the slow part). */
  warm(): void {
    if (!this.closed && this.processes.size === 0) this.idle.push(this.spawn());
  }

  private forget(process: QueryProcess): void {
    this.processes.delete(process);
    const at = this.idle.indexOf(process);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

interface Waiter {
  resolve(process: QueryProcess): void;
  reject(error: QueryError): void;
}

function cancelled(): QueryError {
  return new QueryError('query_timeout', 'The query was cancelled (the tool call or episode ended).');
}

const shared = new Map<number, QueryPool>();

/** The pool of this process for a given size (environments with equal settings share it). */
export function sharedQueryPool(size: number): QueryPool {
  let pool = shared.get(size);
  if (!pool) {
    pool = new QueryPool(size);
    shared.set(size, pool);
  }
  return pool;
}

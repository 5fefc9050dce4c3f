import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { WarmPool } from '@toolgym/sandbox';
import { GraderFailureError } from './errors.ts';
import { LineSplitter } from './line-splitter.ts';
import { GRADER_SCRIPT, HOST_PYTHON } from './python.ts';

/** A message from the grader (trusted: the grader never runs candidate code). */
export type GraderMessage =
  | { t: 'start'; test: number }
  | { t: 'call'; line: string }
  | { t: 'kill' }
  | { t: 'result'; test: number; ok: boolean; error: string | null }
  | { t: 'done' };

/** A message to the grader; `line` is a candidate's reply, passed on as an opaque string. */
export type ToGrader =
  | { t: 'go' }
  | { t: 'reply'; line: string }
  | { t: 'timeout'; test: number }
  | { t: 'exited'; test: number; why: string; timeout: boolean };

const READY = 0x52;
/** Python starts in tens of milliseconds, seconds on a loaded machine. */
const START_TIMEOUT_MS = 30_000;
const STDERR_KEPT = 8 * 1024;

/**
 * One grader process (`grader.py serve`) on the host: it waits, pre-started, for one grading job
 * and exits after it, so nothing of one grading reaches the next.
 *
 * A grader never keeps the Node process alive: a grading that uses one does, through its own
 * deadline, and a grader left behind by anything must not hold a finished command open. Only a
 * grader being killed does, until it is reaped, so that `exited` settles for whoever awaits it.
 */
export class GraderProcess {
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  onMessage: (message: GraderMessage) => void = () => {};
  private stderr = '';
  private exitedFlag = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    let seenReady = false;
    let markReady: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    const lines = new LineSplitter(
      64 * 1024 * 1024,
      (line) => this.onMessage(JSON.parse(line) as GraderMessage),
      () => this.kill(),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      if (!seenReady) {
        seenReady = true;
        if (chunk[0] !== READY)
          failStart(new GraderFailureError(`the grader wrote output before it was ready`));
        markReady();
        chunk = chunk.subarray(1);
      }
      lines.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      child.on('close', () => {
        this.exitedFlag = true;
        if (!seenReady)
          failStart(new GraderFailureError(`the grader did not start: ${this.stderr.trim() || 'no output'}`));
        resolve();
      });
    });
    child.on('error', (error) =>
      failStart(new GraderFailureError(`cannot start ${HOST_PYTHON}: ${error.message}`)),
    );
  }

  /**
   * Starts a grader; it takes a job once `ready` resolves. One that fails to start, or is not
   * ready within `START_TIMEOUT_MS`, is killed (a grader stuck starting would wedge its pool).
   */
  static spawn(): GraderProcess {
    const child = spawn(HOST_PYTHON, ['-I', '-S', '-B', GRADER_SCRIPT, 'serve'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const grader = new GraderProcess(child);
    grader.keepProcessAlive(false);
    const startLimit = setTimeout(() => grader.kill(), START_TIMEOUT_MS);
    startLimit.unref();
    grader.ready.then(
      () => clearTimeout(startLimit),
      () => {
        clearTimeout(startLimit);
        grader.kill();
      },
    );
    return grader;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exitedFlag && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the grader wrote to stderr (the end of it), for a failure report. */
  get diagnostics(): string {
    return this.stderr.trim();
  }

  send(message: ToGrader | Record<string, unknown>): void {
    if (this.alive) this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  kill(): void {
    if (!this.alive) return;
    // Its exit keeps the process alive, or `exited` may never settle.
    this.keepProcessAlive(true);
    this.child.kill('SIGKILL');
  }

  private keepProcessAlive(keep: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Array<{
      ref(): void;
      unref(): void;
    }>;
    for (const handle of handles) {
      if (keep) handle.ref();
      else handle.unref();
    }
  }
}

/** How long closing a pool waits for its graders still grading before it kills them. */
const CLOSE_GRACE_MS = 5_000;

/** Pre-started grader processes, each used for one grading (the grading cost is then the candidate's sandbox alone). */
export class GraderPool {
  private readonly pool: WarmPool<GraderProcess>;
  /** Every grader this pool started that has not exited: starting, idle, or taken by a grading. */
  private readonly running = new Set<GraderProcess>();

  constructor(size: number) {
    this.pool = new WarmPool<GraderProcess>({
      minIdle: size,
      maxIdle: size,
      // A grader is the caller's once taken (it kills it), so the pool bounds nothing and never queues for long.
      maxItems: Number.POSITIVE_INFINITY,
      queueTimeoutMs: 60_000,
      shrinkAfterMs: 60_000,
      create: async () => {
        const grader = GraderProcess.spawn();
        this.running.add(grader);
        void grader.exited.then(() => this.running.delete(grader));
        await grader.ready;
        return grader;
      },
      destroy: async (grader) => {
        grader.kill();
        await grader.exited;
      },
      isAlive: (grader) => grader.alive,
      concurrency: 1,
      onError: (error) =>
        process.emitWarning(`grader pool: ${error instanceof Error ? error.message : String(error)}`),
    });
  }

  /** A ready grader (pre-started when the pool has one). */
  async take(): Promise<GraderProcess> {
    const { item: grader } = await this.pool.acquire();
    this.pool.release();
    return grader;
  }

  warmUp(): Promise<void> {
    return this.pool.fill();
  }

  /** Pids of the graders this pool started that are still running (for tests and diagnostics). */
  pids(): number[] {
    return [...this.running].flatMap((grader) => (grader.pid === undefined ? [] : [grader.pid]));
  }

  /**
   * Stops every grader the pool started: the idle ones at once, those still grading after at most
   * `CLOSE_GRACE_MS` (a grading that outlives its pool has nobody waiting for its result).
   */
  async close(): Promise<void> {
    await this.pool.close();
    const left = [...this.running];
    const ended = Promise.all(left.map((grader) => grader.exited));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    for (const grader of left) grader.kill();
    await ended;
  }
}

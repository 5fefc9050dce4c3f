import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { SandboxError } from './errors.ts';
import { encodeJob, type LauncherRlimits } from './launcher.ts';
import { OutputCapture } from './output-capture.ts';
import type { RunRequest, RunResult, SandboxLimits } from './types.ts';

/** A started sandbox whose launcher waits for one job; what each backend provides. */
export interface PreparedSandbox {
  readonly warm: boolean;
  /** Applies the run's whole-sandbox limits (memory, pids, cpus) before the job starts. */
  applyLimits(limits: SandboxLimits): Promise<void>;
  readonly stdin: Writable;
  /** Where the program's output goes from now on (the ready byte is already consumed). */
  attachOutput(sinks: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void }): void;
  /** Resolves with the exit status once the sandbox is gone and its output drained. */
  readonly exited: Promise<number | null>;
  kill(): Promise<void>;
  /** After exit: whether the kernel OOM-killed anything in it (given the exit status, to skip needless lookups). */
  oomKilled(exitCode: number | null): Promise<boolean>;
  /** Releases everything the sandbox held; nothing of it remains afterwards. */
  dispose(): Promise<void>;
}

const SIGXCPU_STATUS = 128 + 24;

/** Hands one job to a prepared sandbox and watches it: wall time, output size, abort. */
export async function runJob(
  sandbox: PreparedSandbox,
  request: RunRequest,
  limits: SandboxLimits,
  rlimits: LauncherRlimits,
): Promise<RunResult> {
  let timedOut = false;
  let aborted = false;
  let outputLimitExceeded = false;
  let killing: Promise<void> | undefined;
  const kill = () => {
    killing ??= sandbox.kill();
    return killing;
  };
  const onOverflow = () => {
    outputLimitExceeded = true;
    void kill();
  };
  const stdout = new OutputCapture(limits.outputBytes, onOverflow);
  const stderr = new OutputCapture(limits.outputBytes, onOverflow);
  try {
    await sandbox.applyLimits(limits);
    const onStdout = request.onStdout;
    sandbox.attachOutput({
      stdout: onStdout
        ? (c) => {
            stdout.push(c);
            onStdout(c);
          }
        : (c) => stdout.push(c),
      stderr: (c) => stderr.push(c),
    });
    const started = performance.now();
    const timer = setTimeout(() => {
      timedOut = true;
      void kill();
    }, limits.wallMs);
    const onAbort = () => {
      aborted = true;
      void kill();
    };
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // A program that exits without reading its stdin closes the pipe under us: that is not an error.
    sandbox.stdin.on('error', () => {});
    const job = encodeJob(request, limits, rlimits);
    if (isStream(request.stdin)) {
      sandbox.stdin.write(job);
      void pump(request.stdin, sandbox.stdin);
    } else {
      sandbox.stdin.end(job);
    }
    let exitCode: number | null;
    try {
      exitCode = await sandbox.exited;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    }
    const ms = performance.now() - started;
    await killing;
    const oomKilled = await sandbox.oomKilled(exitCode);
    return {
      stdout: stdout.text(),
      stderr: stderr.text(),
      exitCode,
      timedOut,
      oomKilled,
      cpuLimitExceeded: exitCode === SIGXCPU_STATUS,
      outputLimitExceeded,
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      aborted,
      ms,
      warm: sandbox.warm,
    };
  } catch (error) {
    await kill().catch(() => {});
    if (error instanceof SandboxError) throw error;
    throw new SandboxError(
      'sandbox_failed',
      `the sandbox failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    await sandbox.dispose();
  }
}

const isStream = (stdin: RunRequest['stdin']): stdin is AsyncIterable<string | Uint8Array> =>
  stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array);

/** Copies a streamed stdin into the sandbox as it arrives; stops quietly when the program has gone. */
async function pump(source: AsyncIterable<string | Uint8Array>, sink: Writable): Promise<void> {
  try {
    for await (const chunk of source) {
      if (sink.destroyed || sink.writableEnded) return;
      if (!sink.write(chunk)) await Promise.race([once(sink, 'drain'), once(sink, 'close')]);
    }
    sink.end();
  } catch {
    // the sandbox closed its stdin (it exited or was killed): nothing more to deliver
  }
}

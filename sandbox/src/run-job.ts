import { SandboxError } from './errors.ts';
import { encodeJob, type LauncherRlimits } from './launcher.ts';
import { OutputCapture } from './output-capture.ts';
import type { SandboxInput } from './supervisor.ts';
import type { RunRequest, RunResult, SandboxLimits } from './types.ts';

/** A started sandbox whose launcher waits for one job; what each backend provides. */
export interface PreparedSandbox {
  /** Applies the run's whole-sandbox limits (memory, pids, cpus) before the job starts. */
  applyLimits(limits: SandboxLimits): Promise<void>;
  /** The launcher's stdin: the job, then the program's input. */
  readonly input: SandboxInput;
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

/** How the launcher of a backend runs jobs. */
export interface LauncherSettings {
  rlimits: LauncherRlimits;
  /** The launcher's interpreter inside the sandbox (commands naming it may run in-process). */
  python: string;
}

/** Hands one job to a prepared sandbox and watches it: wall time, output size, abort. */
export async function runJob(
  sandbox: PreparedSandbox,
  request: RunRequest,
  limits: SandboxLimits,
  launcher: LauncherSettings,
  warm: boolean,
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
    const job = encodeJob(request, limits, launcher.rlimits, launcher.python);
    if (isStream(request.stdin)) {
      sandbox.input.sendJob(job, true);
      void pump(request.stdin, sandbox.input, sandbox.exited);
    } else {
      sandbox.input.sendJob(job, false);
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
      warm,
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

/** The result of a run whose signal aborted while it waited for a sandbox: nothing ran. */
export function abortedBeforeStart(): RunResult {
  return {
    stdout: '',
    stderr: '',
    exitCode: null,
    timedOut: false,
    oomKilled: false,
    cpuLimitExceeded: false,
    outputLimitExceeded: false,
    stdoutTruncated: false,
    stderrTruncated: false,
    aborted: true,
    ms: 0,
    warm: false,
  };
}

const isStream = (stdin: RunRequest['stdin']): stdin is AsyncIterable<string | Uint8Array> =>
  stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array);

/** Copies a streamed stdin into the sandbox as it arrives, one chunk at a time; stops when the sandbox has gone. */
async function pump(
  source: AsyncIterable<string | Uint8Array>,
  input: SandboxInput,
  exited: Promise<unknown>,
): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  try {
    for await (const chunk of source) {
      if (gone) return;
      await input.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    }
  } catch {
    // the caller's stream failed: the program reads end of file
  }
  input.end();
}

/**
 * The one interface every backend implements: `run({ cmd, files, stdin, limits })`.
 * A run is always a fresh sandbox: nothing of one run is visible to the next, whatever the backend.
 */

/** Limits of one run. Every one is enforced by every backend (see `SandboxCapabilities` for how). */
export interface SandboxLimits {
  /** Wall-clock time from the job being handed to the sandbox until it exits; then the sandbox is killed. */
  wallMs: number;
  /** CPU time of each process (RLIMIT_CPU, whole seconds, rounded up): SIGXCPU, then SIGKILL a second later. */
  cpuMs: number;
  /** Memory of the whole sandbox (cgroup memory limit; RLIMIT_AS per process where no cgroup can be made). */
  memoryBytes: number;
  /** Processes and threads in the whole sandbox (cgroup pids limit; RLIMIT_NPROC otherwise). */
  pids: number;
  /** Bytes kept of stdout and of stderr each; a program that writes more is killed (`outputLimitExceeded`). */
  outputBytes: number;
  /** Largest file a program may write (RLIMIT_FSIZE). */
  fileBytes: number;
  /** Size of the writable work dir and of /tmp (each a private tmpfs, counted in `memoryBytes`). */
  diskBytes: number;
  /**
   * CPUs the sandbox may use at once (CPU quota); 0 = no quota (the default: CPU time is already
   * bounded by `cpuMs` and `wallMs`, and on bubblewrap a CPU cgroup costs ~50% latency on a busy host).
   */
  cpus: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  wallMs: 10_000,
  cpuMs: 5_000,
  memoryBytes: 256 * 1024 * 1024,
  pids: 64,
  outputBytes: 1024 * 1024,
  fileBytes: 16 * 1024 * 1024,
  diskBytes: 64 * 1024 * 1024,
  cpus: 0,
};

export interface RunRequest {
  /** argv; `cmd[0]` is looked up on PATH (`/usr/bin:/bin`) inside the sandbox. */
  cmd: string[];
  /** Files put in the work dir before the run, by path relative to it. */
  files?: Record<string, string | Uint8Array>;
  /**
   * The program's standard input: bytes handed over at once, or a stream written to the program as
   * it arrives (an interactive program); the program's stdin closes when the stream ends.
   */
  stdin?: string | Uint8Array | AsyncIterable<string | Uint8Array>;
  /** Called with each chunk of stdout as it arrives (the result still keeps the first `outputBytes`). */
  onStdout?: (chunk: Buffer) => void;
  /** Extra environment variables (the sandbox starts from a small fixed environment, not the host's). */
  env?: Record<string, string>;
  limits?: Partial<SandboxLimits>;
  /** Aborting kills the run; the result then has `aborted: true`. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** The exit status; a program killed by signal N reports 128 + N (as shells and Docker do). `null` if it never ran. */
  exitCode: number | null;
  timedOut: boolean;
  oomKilled: boolean;
  /** The program exceeded its CPU-time limit (killed by SIGXCPU or by the hard limit). */
  cpuLimitExceeded: boolean;
  /** The program wrote more than `outputBytes` to stdout or stderr and was killed. */
  outputLimitExceeded: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  aborted: boolean;
  /** Wall time of the run itself, from the job being handed over to exit. */
  ms: number;
  /** Served by a pre-started sandbox of the warm pool. */
  warm: boolean;
}

/**
 * How this backend, on this machine, enforces each limit and isolation; `null` means not here.
 * `syscalls` is the seccomp filter; `concurrency` how many sandboxes may run at once and why.
 */
export type SandboxCapabilities = Record<
  keyof SandboxLimits | 'network' | 'filesystem' | 'syscalls' | 'concurrency',
  string | null
>;

/** The warm pool of a backend's default sandbox shape, as it has sized itself to the load. */
export interface PoolState {
  /** Ready sandboxes the pool aims to keep (grows to the largest queue seen, halves when quiet). */
  target: number;
  idle: number;
  /** The most sandboxes alive at once so far. */
  peak: number;
  /** The bound from memory and pids (`capabilities().concurrency` says how it was reached). */
  max: number;
}

export interface Sandbox {
  readonly backend: string;
  run(request: RunRequest): Promise<RunResult>;
  /** Fills the warm pool to its current target now (it also refills itself after each run). */
  warmUp(): Promise<void>;
  /** The warm pool's current size and bound. */
  poolState?(): PoolState;
  capabilities(): SandboxCapabilities;
  /** Kills pre-started sandboxes and runs in flight; safe to call twice. */
  close(): Promise<void>;
}

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { SandboxError } from './errors.ts';
import { marshal } from './python-marshal.ts';
import { DEFAULT_LIMITS, type RunRequest, type SandboxLimits } from './types.ts';

/**
 * The program a pre-started sandbox waits in (`launcher.py`, run as `python3 -c`): it writes one
 * ready byte, reads one job, writes the files, lowers its rlimits and runs the command. See the
 * file for the protocol and for how `python3` commands run in the launcher's own interpreter.
 */
export const LAUNCHER_SOURCE = readFileSync(new URL('./launcher.py', import.meta.url), 'utf8');

/** The byte the launcher writes when it is ready for its job. */
export const READY_BYTE = 0x52;

export const WORK_DIR = '/work';

/** The environment a sandbox starts with (the launcher's, and the command's before `env`). */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
};

/** The argv that starts a launcher with `python` (an absolute path inside the sandbox). */
export function launcherCommand(python: string): string[] {
  return [python, '-c', LAUNCHER_SOURCE];
}

/** Which rlimits the launcher sets; the rest of the limits are the backend's. */
export interface LauncherRlimits {
  /** Use RLIMIT_AS for memory (only where no cgroup enforces it: it also counts untouched reservations). */
  memoryByRlimit: boolean;
  /** Use RLIMIT_NPROC for pids (only where no cgroup does and the sandbox runs as its own uid). */
  pidsByRlimit: boolean;
}

/** Validates a request and fills in default limits: configuration errors fail here, naming the field. */
export function resolveRequest(
  request: RunRequest,
  defaults: SandboxLimits = DEFAULT_LIMITS,
): { request: RunRequest; limits: SandboxLimits } {
  if (
    !Array.isArray(request.cmd) ||
    request.cmd.length === 0 ||
    request.cmd.some((a) => typeof a !== 'string')
  ) {
    throw new SandboxError(
      'invalid_request',
      'run: `cmd` must be a non-empty array of strings',
      "e.g. cmd: ['python3', 'main.py']",
    );
  }
  if (request.cmd.some((a) => a.includes('\0')))
    throw new SandboxError('invalid_request', 'run: `cmd` contains a NUL byte');
  for (const rel of Object.keys(request.files ?? {})) checkRelativePath(rel);
  const limits = { ...defaults, ...request.limits };
  for (const [name, value] of Object.entries(limits)) {
    const min = name === 'cpus' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new SandboxError(
        'invalid_request',
        `run: limit '${name}' is ${String(value)}`,
        `give a finite number ≥ ${min}`,
      );
    }
  }
  return { request, limits };
}

/** A work-dir path must stay inside the work dir: relative, no `..`, no NUL. */
export function checkRelativePath(rel: string): void {
  const parts = rel.split('/');
  if (
    rel.length === 0 ||
    rel.startsWith('/') ||
    rel.includes('\0') ||
    parts.some((p) => p === '..' || p === '')
  ) {
    throw new SandboxError(
      'invalid_request',
      `run: file path '${rel}' leaves the work dir or is empty`,
      "use a relative path such as 'src/main.py'",
    );
  }
}

/**
 * How a command may run in the launcher's interpreter instead of a new one: only `python3`
 * (the launcher's own interpreter) with `-c`, `-m` or a script and no interpreter options, and
 * only when `env` leaves alone what an interpreter reads while it starts. `null`: exec it.
 */
export function inProcessMode(
  cmd: readonly string[],
  env: Readonly<Record<string, string>> | undefined,
  python: string,
): 'command' | 'module' | 'script' | null {
  if (cmd[0] !== 'python3' && cmd[0] !== python) return null;
  const startupEnv = Object.keys(env ?? {}).some(
    (key) => key.startsWith('PYTHON') || key.startsWith('LC_') || key === 'LANG' || key === 'HOME',
  );
  if (startupEnv) return null;
  const first = cmd[1];
  if (first === undefined) return null;
  if (first === '-c' && cmd.length >= 3) return 'command';
  if (first === '-m' && cmd.length >= 3) return 'module';
  return first.startsWith('-') ? null : 'script';
}

/**
 * The bytes written to a waiting launcher: a 4-byte length and the marshalled job, then the
 * program's stdin when it is given at once (a streamed stdin follows as it arrives).
 */
export function encodeJob(
  request: RunRequest,
  limits: SandboxLimits,
  rlimits: LauncherRlimits,
  python: string,
): Buffer {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuMs / 1000));
  const list: Array<[string, number, number]> = [
    ['RLIMIT_CPU', cpuSeconds, cpuSeconds + 1],
    ['RLIMIT_FSIZE', limits.fileBytes, limits.fileBytes],
    ['RLIMIT_CORE', 0, 0],
  ];
  if (rlimits.memoryByRlimit) list.push(['RLIMIT_AS', limits.memoryBytes, limits.memoryBytes]);
  if (rlimits.pidsByRlimit) list.push(['RLIMIT_NPROC', limits.pids, limits.pids]);
  const files: Record<string, Uint8Array> = {};
  for (const [rel, content] of Object.entries(request.files ?? {})) {
    files[rel] = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  }
  const header = marshal({
    cmd: request.cmd,
    cwd: WORK_DIR,
    env: { ...BASE_ENV, ...request.env },
    files,
    rlimits: list,
    inProcess: inProcessMode(request.cmd, request.env, python),
  });
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  const stdin =
    typeof request.stdin === 'string' || request.stdin instanceof Uint8Array
      ? Buffer.from(request.stdin)
      : Buffer.alloc(0);
  return Buffer.concat([length, header, stdin]);
}

/**
 * Whether RLIMIT_NPROC counts the processes of one user namespace (Linux ≥ 5.14, where rlimits
 * are kept per namespace and uid): then, set inside a sandbox's own user namespace, it bounds
 * that sandbox alone. Before, it counted every process of the host uid, shared by all sandboxes.
 */
export function nprocCountsPerUserNamespace(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 5 || (major === 5 && minor >= 14);
}

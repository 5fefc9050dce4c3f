import { SandboxError } from './errors.ts';
import { DEFAULT_LIMITS, type RunRequest, type SandboxLimits } from './types.ts';

/**
 * The program a pre-started sandbox waits in. It is started with the sandbox (so the hot path
 * pays neither namespace/container creation nor this interpreter's start-up), writes one ready
 * byte, then reads one job from stdin: a 10-digit length line and that many bytes of JSON. It
 * writes the job's files into the work dir, lowers its own rlimits and execs the command, which
 * inherits the rest of stdin as its own. It runs exactly one job: a sandbox is never reused.
 */
export const LAUNCHER_SOURCE = String.raw`
import os, sys, json, base64, resource
os.write(1, b'R')
def read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            os._exit(121)
        buf += chunk
    return bytes(buf)
job = json.loads(read_exact(int(read_exact(11)[:10])))
cwd = job['cwd']
for rel, data in job['files'].items():
    path = os.path.join(cwd, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(base64.b64decode(data))
os.chdir(cwd)
for name, soft, hard in job['rlimits']:
    resource.setrlimit(getattr(resource, name), (soft, hard))
try:
    os.execvpe(job['cmd'][0], job['cmd'], job['env'])
except OSError as error:
    os.write(2, ('sandbox: cannot run %r: %s\n' % (job['cmd'][0], error.strerror)).encode())
    os._exit(127)
`;

/** The byte the launcher writes when it is ready for its job. */
export const READY_BYTE = 0x52;

export const WORK_DIR = '/work';

const BASE_ENV: Record<string, string> = {
  PATH: '/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
};

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

/** The bytes written to a waiting launcher: the job header, then the program's stdin when it is given at once. */
export function encodeJob(request: RunRequest, limits: SandboxLimits, rlimits: LauncherRlimits): Buffer {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuMs / 1000));
  const list: Array<[string, number, number]> = [
    ['RLIMIT_CPU', cpuSeconds, cpuSeconds + 1],
    ['RLIMIT_FSIZE', limits.fileBytes, limits.fileBytes],
    ['RLIMIT_CORE', 0, 0],
  ];
  if (rlimits.memoryByRlimit) list.push(['RLIMIT_AS', limits.memoryBytes, limits.memoryBytes]);
  if (rlimits.pidsByRlimit) list.push(['RLIMIT_NPROC', limits.pids, limits.pids]);
  const files: Record<string, string> = {};
  for (const [rel, content] of Object.entries(request.files ?? {})) {
    files[rel] = Buffer.from(typeof content === 'string' ? Buffer.from(content, 'utf8') : content).toString(
      'base64',
    );
  }
  const header = Buffer.from(
    JSON.stringify({
      cmd: request.cmd,
      cwd: WORK_DIR,
      env: { ...BASE_ENV, ...request.env },
      files,
      rlimits: list,
    }),
    'utf8',
  );
  const stdin = typeof request.stdin === 'string' || request.stdin instanceof Uint8Array ? Buffer.from(request.stdin) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(`${String(header.length).padStart(10, '0')}\n`), header, stdin]);
}

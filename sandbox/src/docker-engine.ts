import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { DEFAULT_PYTHON_IMAGE } from './docker.ts';
import { SandboxError } from './errors.ts';

/** A reachable Docker engine; `stop` stops it only if this process started it. */
export interface DockerEngine {
  docker: Docker;
  /** The DOCKER_HOST value that reaches it (for the docker CLI and scripts). */
  host: string;
  /** This process started the engine (and `stop` ends it). */
  owned: boolean;
  stop(): Promise<void>;
}

/** Where a started engine keeps its images between runs, so the Python image is built once. */
const PERSISTENT_DATA_ROOT = '/var/lib/toolgym-docker';

/**
 * Finds a Docker engine, or starts one for tests and benches: DOCKER_HOST when set (local or
 * remote), then the default socket, then a `dockerd` of our own (no iptables, no bridge: sandbox
 * containers have no network anyway) with its socket, pidfile and exec root in a temp dir. Only
 * an engine started here is ever stopped. Throws `backend_unavailable` saying why when none can run.
 */
export async function startDockerEngine(options: { startTimeoutMs?: number } = {}): Promise<DockerEngine> {
  const notOwned = (docker: Docker, host: string): DockerEngine => ({
    docker,
    host,
    owned: false,
    stop: async () => {},
  });
  if (process.env.DOCKER_HOST) {
    const docker = new Docker();
    if (await pings(docker)) return notOwned(docker, process.env.DOCKER_HOST);
    throw new SandboxError(
      'backend_unavailable',
      `DOCKER_HOST=${process.env.DOCKER_HOST} does not answer`,
      'start that engine or unset DOCKER_HOST',
    );
  }
  if (existsSync('/var/run/docker.sock')) {
    const docker = new Docker({ socketPath: '/var/run/docker.sock' });
    if (await pings(docker)) return notOwned(docker, 'unix:///var/run/docker.sock');
  }
  const dockerd = spawnSync('dockerd', ['--version'], { encoding: 'utf8' });
  if (dockerd.error || dockerd.status !== 0) {
    throw new SandboxError(
      'backend_unavailable',
      'no Docker engine is running and dockerd is not installed',
      'apt-get install docker.io',
    );
  }
  if (process.getuid?.() !== 0) {
    throw new SandboxError(
      'backend_unavailable',
      'no Docker engine is running and starting dockerd needs root',
      'start dockerd, or set DOCKER_HOST',
    );
  }
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  // The shared data root caches the image; if another dockerd holds it (its lock would stall this
  // one), use a private root for this engine.
  const first = dataRootInUse(PERSISTENT_DATA_ROOT)
    ? { reason: `${PERSISTENT_DATA_ROOT} is in use` }
    : await launchDockerd(PERSISTENT_DATA_ROOT, timeoutMs);
  if ('engine' in first) return first.engine;
  const second = await launchDockerd(undefined, timeoutMs);
  if ('engine' in second) return second.engine;
  throw new SandboxError(
    'backend_unavailable',
    `dockerd did not start: ${second.reason || first.reason}`,
    'see the dockerd log lines above',
  );
}

/** Whether a running dockerd uses `dataRoot` (found by its command line). */
function dataRootInUse(dataRoot: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'dockerd' && argv.includes(`--data-root=${dataRoot}`)) return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
}

async function launchDockerd(
  dataRoot: string | undefined,
  timeoutMs: number,
): Promise<{ engine: DockerEngine } | { reason: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'toolgym-dockerd-'));
  const socket = path.join(dir, 'docker.sock');
  const logFile = path.join(dir, 'dockerd.log');
  const log = openSync(logFile, 'w');
  const args = [
    '--iptables=false',
    '--ip-forward=false',
    '--bridge=none',
    `--data-root=${dataRoot ?? path.join(dir, 'data')}`,
    `--exec-root=${path.join(dir, 'exec')}`,
    `--pidfile=${path.join(dir, 'dockerd.pid')}`,
    `--host=unix://${socket}`,
  ];
  const child: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  let exited = false;
  // If this process dies without stopping the engine, the engine must not outlive it.
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  child.on('exit', () => {
    exited = true;
    process.removeListener('exit', stopOnExit);
  });
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (existsSync(socket) && (await pings(docker))) {
      const engine: DockerEngine = {
        docker,
        host: `unix://${socket}`,
        owned: true,
        stop: () => stopDockerd(child, dir, dataRoot === undefined),
      };
      return { engine };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const reason = tail(logFile);
  await stopDockerd(child, dir, true);
  return { reason };
}

async function stopDockerd(child: ChildProcess, dir: string, removeData: boolean): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  // A private data root holds overlay mounts until dockerd has gone; only then can it be removed.
  rmSync(dir, { recursive: true, force: true, maxRetries: removeData ? 3 : 0 });
}

async function pings(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/**
 * Builds the default Python image on the engine unless it is there already: runs
 * sandbox/scripts/build-python-image.sh (rootfs from the host's python3, `docker import`).
 */
export function ensurePythonImage(engine: DockerEngine, image = DEFAULT_PYTHON_IMAGE): void {
  const script = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../scripts/build-python-image.sh',
  );
  const result = spawnSync('bash', [script, image], {
    env: { ...process.env, DOCKER_HOST: engine.host },
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new SandboxError(
      'backend_unavailable',
      `building ${image} failed: ${(result.stderr || result.stdout).trim()}`,
      `run ${script} by hand to see why`,
    );
  }
}

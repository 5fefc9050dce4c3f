import os from 'node:os';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { SandboxError } from './errors.ts';
import { LAUNCHER_SOURCE, type LauncherRlimits, READY_BYTE, resolveRequest, WORK_DIR } from './launcher.ts';
import { processAlive } from './process-alive.ts';
import { type PreparedSandbox, runJob } from './run-job.ts';
import {
  DEFAULT_LIMITS,
  type RunRequest,
  type RunResult,
  type Sandbox,
  type SandboxCapabilities,
  type SandboxLimits,
} from './types.ts';
import { WarmPool } from './warm-pool.ts';

export const DEFAULT_PYTHON_IMAGE = 'toolgym/python:3.11-minimal';

export interface DockerSandboxOptions {
  /** The engine; by default `new Docker()`, which follows DOCKER_HOST (local socket, tcp://, ssh://). */
  docker?: Docker;
  /** An image with python3 on /usr/bin (the launcher needs it); build the default one with sandbox/scripts/build-python-image.sh. */
  image?: string;
  limits?: Partial<SandboxLimits>;
  /** Pre-started containers kept ready; 0 turns the warm pool off. */
  poolSize?: number;
  /** uid:gid inside the container (never root). */
  user?: string;
  /** An OCI runtime other than the engine's default (e.g. `runsc` for gVisor). */
  runtime?: string;
}

/**
 * Docker backend (dockerode): a container per run with no network, a read-only root
 * filesystem, every capability dropped, no-new-privileges, memory/pids/CPU limits, tmpfs `/work`
 * and `/tmp`. Files travel inside the job (not through bind mounts), so a remote engine
 * (DOCKER_HOST=tcp://… or ssh://…) works the same as a local one.
 */
export function createDockerSandbox(options: DockerSandboxOptions = {}): Sandbox {
  return new DockerSandbox(options);
}

class DockerSandbox implements Sandbox {
  readonly backend = 'docker';
  private readonly docker: Docker;
  private readonly image: string;
  private readonly defaults: SandboxLimits;
  private readonly pool: WarmPool<DockerInstance>;
  private readonly live = new Set<DockerInstance>();
  private imageChecked?: Promise<void>;
  private closed = false;
  // The container's limits are the cgroup's, enforced by the engine; the launcher adds only per-process ones.
  private readonly rlimits: LauncherRlimits = { memoryByRlimit: false, pidsByRlimit: false };

  constructor(private readonly options: DockerSandboxOptions) {
    this.docker = options.docker ?? new Docker();
    this.image = options.image ?? DEFAULT_PYTHON_IMAGE;
    this.defaults = { ...DEFAULT_LIMITS, ...options.limits };
    this.pool = new WarmPool<DockerInstance>({
      size: options.poolSize ?? 2,
      create: () => this.start(this.defaults, true),
      destroy: (instance) => instance.dispose(),
      isAlive: (instance) => instance.alive,
      concurrency: 2,
      onError: (error) =>
        process.emitWarning(`docker warm pool: ${error instanceof Error ? error.message : String(error)}`),
    });
  }

  async run(request: RunRequest): Promise<RunResult> {
    if (this.closed) throw new SandboxError('closed', 'run() on a closed sandbox');
    const { limits } = resolveRequest(request, this.defaults);
    const pooled = limits.diskBytes === this.defaults.diskBytes ? this.pool.take() : undefined;
    const instance = pooled ?? (await this.start(limits, false));
    return runJob(instance, request, limits, this.rlimits);
  }

  async warmUp(): Promise<void> {
    await this.checkImage();
    await this.pool.fill();
  }

  capabilities(): SandboxCapabilities {
    return {
      wallMs: 'host timer, then `docker kill` (every process of the container)',
      cpuMs: 'RLIMIT_CPU per process (SIGXCPU, SIGKILL one second later)',
      memoryBytes: 'container memory limit, swap off (State.OOMKilled)',
      pids: 'container pids limit',
      outputBytes: 'host counts stdout/stderr bytes and kills the container past the limit',
      fileBytes: 'RLIMIT_FSIZE',
      diskBytes: 'tmpfs size of /work and /tmp',
      cpus: 'container NanoCpus',
      network: "network mode 'none'",
      filesystem:
        'read-only image root, tmpfs /work and /tmp, no bind mounts, cap-drop ALL, no-new-privileges',
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
    await Promise.all([...this.live].map((instance) => instance.dispose()));
  }

  private checkImage(): Promise<void> {
    this.imageChecked ??= this.docker
      .getImage(this.image)
      .inspect()
      .then(
        () => this.sweepOrphans(),
        (error: { statusCode?: number; message?: string }) => {
          this.imageChecked = undefined;
          throw error.statusCode === 404
            ? new SandboxError(
                'backend_unavailable',
                `docker image '${this.image}' is not on the engine`,
                'build it: sandbox/scripts/build-python-image.sh',
              )
            : new SandboxError(
                'backend_unavailable',
                `docker engine not reachable: ${error.message}`,
                'start dockerd or set DOCKER_HOST',
              );
        },
      );
    return this.imageChecked;
  }

  /**
   * Removes containers that an earlier process of this host started and never removed (it was
   * killed): their launchers exited when the attach connection dropped, but they still exist.
   */
  private async sweepOrphans(): Promise<void> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: ['toolgym.sandbox'] },
    });
    const orphans = containers.filter((c) => {
      const owner = Number(c.Labels['toolgym.sandbox']);
      return c.Labels['toolgym.host'] === os.hostname() && owner !== process.pid && !processAlive(owner);
    });
    await Promise.all(
      orphans.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  }

  private async start(limits: SandboxLimits, warm: boolean): Promise<DockerInstance> {
    await this.checkImage();
    if (this.closed) throw new SandboxError('closed', 'sandbox closed while starting');
    const tmpfs = `rw,nosuid,nodev,size=${limits.diskBytes},mode=1777`;
    const container = await this.docker.createContainer({
      Image: this.image,
      Cmd: ['/usr/bin/python3', '-I', '-S', '-c', LAUNCHER_SOURCE],
      User: this.options.user ?? '65534:65534',
      WorkingDir: WORK_DIR,
      Env: [],
      Hostname: 'sandbox',
      NetworkDisabled: true,
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Labels: { 'toolgym.sandbox': String(process.pid), 'toolgym.host': os.hostname() },
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        // An init as pid 1: the kernel does not deliver default-action signals (SIGXCPU of the CPU
        // limit) to a namespace's pid 1, so the program must not be it.
        Init: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Tmpfs: { '/tmp': tmpfs, [WORK_DIR]: tmpfs },
        ...containerLimits(limits),
        LogConfig: { Type: 'none', Config: {} },
        ...(this.options.runtime ? { Runtime: this.options.runtime } : {}),
      },
    });
    const instance = new DockerInstance(container, warm, limits, () => this.live.delete(instance));
    this.live.add(instance);
    try {
      await instance.begin();
    } catch (error) {
      await instance.dispose();
      throw error;
    }
    return instance;
  }
}

function containerLimits(limits: SandboxLimits) {
  return {
    Memory: limits.memoryBytes,
    MemorySwap: limits.memoryBytes,
    PidsLimit: limits.pids,
    NanoCpus: limits.cpus > 0 ? Math.round(limits.cpus * 1e9) : 0,
  };
}

/** One created, attached and started container whose launcher waits for its single job. */
class DockerInstance implements PreparedSandbox {
  private stream?: Duplex;
  private sinks?: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void };
  private early: Buffer[] = [];
  private exitedFlag = false;
  private disposed?: Promise<void>;
  private exitPromise?: Promise<number | null>;

  constructor(
    private readonly container: Docker.Container,
    readonly warm: boolean,
    private readonly createdWith: SandboxLimits,
    private readonly onDisposed: () => void,
  ) {}

  async begin(): Promise<void> {
    const stream = (await this.container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as unknown as Duplex;
    this.stream = stream;
    let readyByteSeen = false;
    const ready = new Promise<void>((resolve, reject) => {
      const demux = new DockerStreamDemux((kind, chunk) => {
        if (kind === 'stdout' && !readyByteSeen) {
          readyByteSeen = true;
          if (chunk[0] !== READY_BYTE)
            reject(
              new SandboxError('sandbox_failed', 'container wrote output before its launcher was ready'),
            );
          resolve();
          chunk = chunk.subarray(1);
          if (chunk.length === 0) return;
        }
        if (this.sinks) this.sinks[kind](chunk);
        else if (kind === 'stderr') this.early.push(chunk);
      });
      stream.on('data', (chunk: Buffer) => demux.push(chunk));
      const ended = new Promise<void>((done) => {
        stream.on('end', done);
        stream.on('close', done);
        stream.on('error', () => done());
      });
      this.exitPromise = Promise.all([
        this.container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>,
        ended,
      ]).then(
        ([status]) => {
          this.exitedFlag = true;
          if (!readyByteSeen) {
            const why = Buffer.concat(this.early).toString('utf8').trim() || `exit ${status.StatusCode}`;
            reject(new SandboxError('sandbox_failed', `container did not start its launcher: ${why}`));
          }
          return status.StatusCode;
        },
        () => {
          this.exitedFlag = true;
          return null;
        },
      );
    });
    await this.container.start();
    await ready;
  }

  get alive(): boolean {
    return !this.exitedFlag && this.stream !== undefined && !this.stream.destroyed;
  }

  get stdin(): Duplex {
    if (!this.stream) throw new SandboxError('sandbox_failed', 'container not attached');
    return this.stream;
  }

  get exited(): Promise<number | null> {
    if (!this.exitPromise) throw new SandboxError('sandbox_failed', 'container not started');
    return this.exitPromise;
  }

  async applyLimits(limits: SandboxLimits): Promise<void> {
    const wanted = containerLimits(limits);
    const current = containerLimits(this.createdWith);
    if (
      wanted.Memory !== current.Memory ||
      wanted.PidsLimit !== current.PidsLimit ||
      wanted.NanoCpus !== current.NanoCpus
    ) {
      await this.container.update(wanted);
    }
  }

  attachOutput(sinks: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void }): void {
    this.sinks = sinks;
    for (const chunk of this.early.splice(0)) sinks.stderr(chunk);
  }

  async kill(): Promise<void> {
    await this.container.kill({ signal: 'SIGKILL' }).catch(() => {
      // not running any more
    });
  }

  async oomKilled(exitCode: number | null): Promise<boolean> {
    // The OOM killer sends SIGKILL; any other exit needs no extra round trip to the engine.
    if (exitCode !== 128 + 9) return false;
    const info = await this.container.inspect();
    return info.State.OOMKilled === true;
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.stream?.destroy();
      await this.container.remove({ force: true, v: true }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
      });
      this.onDisposed();
    })();
    return this.disposed;
  }
}

/**
 * Splits Docker's multiplexed attach stream (Tty off): frames of an 8-byte header — stream type
 * (1 stdout, 2 stderr), three zero bytes, a big-endian length — then the payload.
 */
class DockerStreamDemux {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly emit: (kind: 'stdout' | 'stderr', chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      const kind = this.pending[0] === 2 ? 'stderr' : 'stdout';
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      if (payload.length > 0) this.emit(kind, payload);
    }
  }
}

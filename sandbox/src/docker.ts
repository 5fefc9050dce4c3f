import os from 'node:os';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { bwrapCommand, SYSTEM_PATHS, systemBinds } from './bwrap-command.ts';
import { SandboxError } from './errors.ts';
import { BASE_ENV, nprocCountsPerUserNamespace, resolveRequest } from './launcher.ts';
import { processAlive } from './process-alive.ts';
import { abortedBeforeStart, type LauncherSettings, type PreparedSandbox, runJob } from './run-job.ts';
import { type SandboxBound, sandboxBound } from './sandbox-bound.ts';
import { seccompFor } from './seccomp.ts';
import { type SandboxInput, type SupervisedSandbox, Supervisor, supervisorCommand } from './supervisor.ts';
import {
  DEFAULT_LIMITS,
  type PoolState,
  type RunRequest,
  type RunResult,
  type Sandbox,
  type SandboxCapabilities,
  type SandboxLimits,
} from './types.ts';
import { AcquireAborted, WarmPool } from './warm-pool.ts';

/** Has python3 and bwrap; build it with sandbox/scripts/build-python-image.sh. */
export const DEFAULT_PYTHON_IMAGE = 'toolgym/python:3.11-bwrap';

export interface DockerSandboxOptions {
  /** The engine; by default `new Docker()`, which follows DOCKER_HOST (local socket, tcp://, ssh://). */
  docker?: Docker;
  /** An image with python3 and bwrap on /usr/bin, laid out like this host (build-python-image.sh). */
  image?: string;
  limits?: Partial<SandboxLimits>;
  /** Containers with a ready sandbox kept with no load (the pool grows past this under load); 0 keeps none. */
  poolSize?: number;
  /** Containers alive at once; by default as many as the engine's memory and pids allow. */
  maxSandboxes?: number;
  /** How long a run waits for a container when `maxSandboxes` are busy, before `sandbox_busy`. */
  queueTimeoutMs?: number;
  /** Containers being created at once. */
  startConcurrency?: number;
  /** After this long with no run waiting, the pool's idle target halves. */
  shrinkAfterMs?: number;
  /** An OCI runtime other than the engine's default (e.g. `runsc` for gVisor). */
  runtime?: string;
  /** Install the seccomp filter in every sandbox (default). */
  seccomp?: boolean;
  /**
   * The cgroup each container goes under. By default, on an engine with the cgroupfs driver,
   * the root: every container then gets the CPU share of one process session on the host, as a
   * bubblewrap sandbox or a bare process does. Under the engine's own default parent (`docker`)
   * all containers together get the share of one session, so a busy host starves them. Give
   * the engine's parent (e.g. `/docker`, or a systemd slice) to keep them there.
   */
  cgroupParent?: string;
}

/**
 * Memory a container holds besides its run's program: the supervisor, the next sandbox waiting
 * beside the run, and the page cache of the interpreter's files. The container's limit is the
 * run's `memoryBytes` plus this.
 */
const CONTAINER_MEMORY_OVERHEAD = 64 * 1024 * 1024;
/**
 * Processes of a container besides the program: docker-init, the supervisor, the run's bwrap and
 * its init, and the next sandbox (bwrap, its init, its launcher).
 */
const CONTAINER_OVERHEAD_PIDS = 7;
const SIGKILL_STATUS = 128 + 9;

/**
 * Docker backend (dockerode). A container is a long-lived host for sandboxes, one at a time: its
 * main process is the supervisor, which starts every run in a fresh bubblewrap sandbox inside
 * it (new namespaces, private tmpfs `/work` and `/tmp`, the seccomp filter), exactly as the
 * bubblewrap backend does on the host. The container adds the outer wall: no network, a
 * read-only image root, every capability dropped, no-new-privileges, memory/pids/CPU limits for
 * the run. A container serves runs until one ends abnormally (a limit, an abort, a failure) or
 * the pool shrinks; then it is removed. Files travel inside the job (no bind mounts), so a
 * remote engine (DOCKER_HOST=tcp://… or ssh://…) works the same as a local one.
 */
export function createDockerSandbox(options: DockerSandboxOptions = {}): Sandbox {
  return new DockerSandbox(options);
}

interface EngineFacts {
  bound: SandboxBound;
  launcher: LauncherSettings;
  /** The containers' cgroup parent; undefined: the engine's default. */
  cgroupParent: string | undefined;
}

class DockerSandbox implements Sandbox {
  readonly backend = 'docker';
  private readonly docker: Docker;
  private readonly image: string;
  private readonly defaults: SandboxLimits;
  private readonly seccomp: Buffer | null;
  private readonly binds = systemBinds(SYSTEM_PATHS);
  private readonly live = new Set<ContainerHost>();
  private ready?: Promise<{ facts: EngineFacts; pool: WarmPool<ContainerHost> }>;
  private pool?: WarmPool<ContainerHost>;
  private closed = false;

  constructor(private readonly options: DockerSandboxOptions) {
    this.docker = options.docker ?? new Docker();
    this.image = options.image ?? DEFAULT_PYTHON_IMAGE;
    this.defaults = { ...DEFAULT_LIMITS, ...options.limits };
    this.seccomp = options.seccomp === false ? null : seccompFor('docker');
  }

  async run(request: RunRequest): Promise<RunResult> {
    if (this.closed) throw new SandboxError('closed', 'run() on a closed sandbox');
    const { limits } = resolveRequest(request, this.defaults);
    const { facts, pool } = await this.engine();
    let acquired: { item: ContainerHost; warm: boolean };
    try {
      acquired = await pool.acquire(request.signal);
    } catch (error) {
      if (error instanceof AcquireAborted) return abortedBeforeStart();
      throw error;
    }
    const host = acquired.item;
    let sandbox: ContainerRun | undefined;
    let next: Promise<void> | undefined;
    let result: RunResult | undefined;
    try {
      sandbox = await host.takeSandbox(limits.diskBytes);
      // The container's next sandbox starts now, beside this run, so the container is ready again
      // the moment this run ends.
      next = host.prepareSandbox(this.defaults.diskBytes);
      next.catch(() => {});
      result = await runJob(sandbox, request, limits, facts.launcher, acquired.warm);
      return result;
    } finally {
      const clean =
        result !== undefined &&
        !result.timedOut &&
        !result.aborted &&
        !result.outputLimitExceeded &&
        !result.oomKilled &&
        !sandbox?.killedByHost &&
        host.alive;
      if (clean && next) {
        const readied = next.then(
          () => true,
          () => host.dispose().then(() => false),
        );
        pool.recycle(host, readied);
      } else {
        pool.release();
        void host.dispose();
      }
    }
  }

  async warmUp(): Promise<void> {
    const { pool } = await this.engine();
    await pool.fill();
  }

  poolState(): PoolState {
    const pool = this.pool;
    return pool
      ? { target: pool.target, idle: pool.idleCount, peak: pool.peakItems, max: pool.maxItems }
      : { target: 0, idle: 0, peak: 0, max: 0 };
  }

  capabilities(): SandboxCapabilities {
    return {
      wallMs: 'host timer, then `docker kill` of the container',
      cpuMs: 'RLIMIT_CPU per process (SIGXCPU, SIGKILL one second later)',
      memoryBytes: 'container memory limit (the run plus a fixed overhead), swap off',
      pids: "container pids limit, and RLIMIT_NPROC in the sandbox's own user namespace",
      outputBytes: 'host counts stdout/stderr bytes and kills the container past the limit',
      fileBytes: 'RLIMIT_FSIZE',
      diskBytes: 'tmpfs size of /work and /tmp',
      cpus: 'container NanoCpus',
      network: "network mode 'none', and a new network namespace per sandbox",
      filesystem:
        'a bubblewrap sandbox per run in a container with a read-only image root, cap-drop ALL, no-new-privileges',
      syscalls: this.seccomp
        ? 'seccomp filter in each sandbox: ptrace, mount, kernel modules, keyring, bpf, io_uring, namespaces … refused'
        : null,
      concurrency: 'one run at a time per container; containers bounded by the engine’s memory and pids',
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ready = await this.ready?.catch(() => undefined);
    await ready?.pool.close();
    await Promise.all([...this.live].map((host) => host.dispose()));
  }

  /** Checks the image, sweeps orphans and reads the engine's memory and kernel, once. */
  private engine(): Promise<{ facts: EngineFacts; pool: WarmPool<ContainerHost> }> {
    this.ready ??= (async () => {
      await this.checkImage();
      await this.sweepOrphans();
      const info = (await this.docker.info()) as {
        MemTotal?: number;
        KernelVersion?: string;
        CgroupDriver?: string;
      };
      const bound = sandboxBound({
        memoryBytes: this.defaults.memoryBytes + CONTAINER_MEMORY_OVERHEAD,
        pids: this.defaults.pids,
        overheadPids: CONTAINER_OVERHEAD_PIDS,
        totalMemoryBytes: info.MemTotal,
        requested: this.options.maxSandboxes,
      });
      const facts: EngineFacts = {
        bound,
        launcher: {
          python: '/usr/bin/python3',
          // The container's memory cgroup is the run's (one run at a time); NPROC adds a per-sandbox pid bound.
          rlimits: {
            memoryByRlimit: false,
            pidsByRlimit: nprocCountsPerUserNamespace(info.KernelVersion ?? os.release()),
          },
        },
        cgroupParent: this.options.cgroupParent ?? (info.CgroupDriver === 'cgroupfs' ? '/' : undefined),
      };
      const poolSize = this.options.poolSize ?? 2;
      const pool = new WarmPool<ContainerHost>({
        create: () => this.startContainer(facts.cgroupParent),
        destroy: (host) => host.dispose(),
        isAlive: (host) => host.alive,
        minIdle: poolSize,
        maxIdle: poolSize === 0 ? 0 : bound.maxSandboxes,
        maxItems: bound.maxSandboxes,
        concurrency: this.options.startConcurrency ?? 4,
        queueTimeoutMs: this.options.queueTimeoutMs ?? 60_000,
        shrinkAfterMs: this.options.shrinkAfterMs ?? 10_000,
        onError: (error) =>
          process.emitWarning(`docker warm pool: ${error instanceof Error ? error.message : String(error)}`),
      });
      this.pool = pool;
      return { facts, pool };
    })();
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }

  private async checkImage(): Promise<void> {
    try {
      await this.docker.getImage(this.image).inspect();
    } catch (error) {
      const e = error as { statusCode?: number; message?: string };
      throw e.statusCode === 404
        ? new SandboxError(
            'backend_unavailable',
            `docker image '${this.image}' is not on the engine`,
            'build it: sandbox/scripts/build-python-image.sh',
          )
        : new SandboxError(
            'backend_unavailable',
            `docker engine not reachable: ${e.message}`,
            'start dockerd or set DOCKER_HOST',
          );
    }
  }

  /**
   * Removes containers that an earlier process of this host started and never removed (it was
   * killed): their supervisors exited when the attach connection dropped, but they still exist.
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

  private async startContainer(cgroupParent: string | undefined): Promise<ContainerHost> {
    if (this.closed) throw new SandboxError('closed', 'sandbox closed while starting');
    const command = supervisorCommand('/usr/bin/python3', {
      uid: null,
      gid: null,
      seccomp: this.seccomp,
      oomFiles: ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control'],
      env: BASE_ENV,
    });
    const container = await this.docker.createContainer({
      Image: this.image,
      Cmd: command,
      User: '65534:65534',
      WorkingDir: '/',
      Env: [],
      Hostname: 'sandbox',
      NetworkDisabled: true,
      OpenStdin: true,
      StdinOnce: false,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Labels: { 'toolgym.sandbox': String(process.pid), 'toolgym.host': os.hostname() },
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        Init: true,
        CapDrop: ['ALL'],
        // bwrap inside needs user namespaces (Docker's default profile refuses them without
        // CAP_SYS_ADMIN) and a /proc it can mount (no masked paths over it). The program runs
        // under the sandbox's own seccomp filter, installed by bwrap.
        SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'],
        MaskedPaths: [],
        ReadonlyPaths: [],
        ...containerLimits(this.defaults),
        LogConfig: { Type: 'none', Config: {} },
        ...(this.options.runtime ? { Runtime: this.options.runtime } : {}),
        ...(cgroupParent ? { CgroupParent: cgroupParent } : {}),
      },
    });
    const host = new ContainerHost(
      container,
      this.defaults,
      {
        bwrap: '/usr/bin/bwrap',
        binds: this.binds,
        seccomp: this.seccomp !== null,
        python: '/usr/bin/python3',
      },
      () => this.live.delete(host),
    );
    this.live.add(host);
    try {
      await host.begin();
      await host.prepareSandbox(this.defaults.diskBytes);
    } catch (error) {
      await host.dispose();
      throw error;
    }
    return host;
  }
}

function containerLimits(limits: SandboxLimits) {
  return {
    Memory: limits.memoryBytes + CONTAINER_MEMORY_OVERHEAD,
    MemorySwap: limits.memoryBytes + CONTAINER_MEMORY_OVERHEAD,
    PidsLimit: limits.pids + CONTAINER_OVERHEAD_PIDS,
    NanoCpus: limits.cpus > 0 ? Math.round(limits.cpus * 1e9) : 0,
  };
}

/** A started container whose supervisor runs one sandbox at a time. */
class ContainerHost {
  private stream?: Duplex;
  private supervisor?: Supervisor;
  private sandbox?: { sandbox: SupervisedSandbox; diskBytes: number };
  private disposed?: Promise<void>;
  private current: ReturnType<typeof containerLimits>;

  constructor(
    private readonly container: Docker.Container,
    limits: SandboxLimits,
    private readonly sandboxSpec: { bwrap: string; binds: string[]; seccomp: boolean; python: string },
    /** Called once the container is removed. */
    private readonly onRemoved: () => void,
  ) {
    this.current = containerLimits(limits);
  }

  get alive(): boolean {
    return this.disposed === undefined && this.supervisor !== undefined && !this.supervisor.closed;
  }

  async begin(): Promise<void> {
    const stream = (await this.container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as unknown as Duplex;
    this.stream = stream;
    const supervisor = new Supervisor((bytes) => stream.write(bytes));
    this.supervisor = supervisor;
    const errors: Buffer[] = [];
    const demux = new DockerStreamDemux((kind, chunk) => {
      if (kind === 'stdout') supervisor.push(chunk);
      else errors.push(chunk);
    });
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    const end = () =>
      supervisor.close(
        `the container stopped${errors.length ? `: ${Buffer.concat(errors).toString('utf8').trim()}` : ''}`,
      );
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    await this.container.start();
  }

  /** Starts the container's next sandbox (tmpfs of `diskBytes`) and resolves when its launcher is ready. */
  async prepareSandbox(diskBytes: number): Promise<void> {
    if (this.sandbox) throw new SandboxError('sandbox_failed', 'the container has a sandbox ready already');
    if (!this.supervisor) throw new SandboxError('sandbox_failed', 'container not attached');
    const sandbox = this.supervisor.start({ argv: bwrapCommand({ ...this.sandboxSpec, diskBytes }) });
    this.sandbox = { sandbox, diskBytes };
    await sandbox.ready;
  }

  /** The ready sandbox for one run; one of another tmpfs size replaces it first. */
  async takeSandbox(diskBytes: number): Promise<ContainerRun> {
    if (this.sandbox && this.sandbox.diskBytes !== diskBytes) {
      const other = this.sandbox.sandbox;
      this.sandbox = undefined;
      other.kill();
      await other.exited;
      await this.prepareSandbox(diskBytes);
    }
    const ready = this.sandbox;
    if (!ready) throw new SandboxError('sandbox_failed', 'the container has no ready sandbox');
    this.sandbox = undefined;
    return new ContainerRun(this, ready.sandbox);
  }

  /** Sets the container's limits to a run's, when they differ from the ones it has. */
  async applyLimits(limits: SandboxLimits): Promise<void> {
    const wanted = containerLimits(limits);
    if (
      wanted.Memory !== this.current.Memory ||
      wanted.PidsLimit !== this.current.PidsLimit ||
      wanted.NanoCpus !== this.current.NanoCpus
    ) {
      await this.container.update(wanted);
      this.current = wanted;
    }
  }

  /** Kills everything in the container; it serves no more runs. */
  async kill(): Promise<void> {
    await this.container.kill({ signal: 'SIGKILL' }).catch(() => {
      // not running any more
    });
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.stream?.destroy();
      this.supervisor?.close('the container was removed');
      await this.container.remove({ force: true, v: true }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
      });
      this.onRemoved();
    })();
    return this.disposed;
  }
}

/** One run in a container's sandbox. */
class ContainerRun implements PreparedSandbox {
  readonly exited: Promise<number | null>;
  readonly input: SandboxInput;
  /** The host killed the container (a limit, an abort): the container is not reused. */
  killedByHost = false;
  private oomKills: number | null = null;

  constructor(
    private readonly host: ContainerHost,
    private readonly sandbox: SupervisedSandbox,
  ) {
    this.input = sandbox;
    this.exited = sandbox.exited.then((exit) => {
      this.oomKills = exit.oomKills;
      // Killed with its container, the sandbox never reports an exit status of its own.
      return exit.exitCode ?? (this.killedByHost ? SIGKILL_STATUS : null);
    });
  }

  applyLimits(limits: SandboxLimits): Promise<void> {
    return this.host.applyLimits(limits);
  }

  attachOutput(sinks: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void }): void {
    this.sandbox.attachOutput(sinks);
  }

  async kill(): Promise<void> {
    this.killedByHost = true;
    await this.host.kill();
  }

  async oomKilled(_exitCode: number | null): Promise<boolean> {
    return (this.oomKills ?? 0) > 0;
  }

  async dispose(): Promise<void> {
    // The sandbox has exited; the container is recycled or removed by the caller.
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

import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import {
  type CgroupManager,
  CgroupManager as Cgroups,
  type Controller,
  type SandboxCgroup,
} from './cgroup.ts';
import { SandboxError } from './errors.ts';
import {
  absolutePath,
  bwrapCommand,
  SYSTEM_PATHS,
  supervisorNamespace,
  systemBinds,
} from './bwrap-command.ts';
import { BASE_ENV, nprocCountsPerUserNamespace, resolveRequest } from './launcher.ts';
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

export interface BubblewrapSandboxOptions {
  /** Default limits of every run (a run may override them). */
  limits?: Partial<SandboxLimits>;
  /**
   * Pre-started sandboxes kept ready with no load (the pool grows past this under load and
   * shrinks back when idle); 0 keeps none, so every run starts its own sandbox.
   */
  poolSize?: number;
  /** Sandboxes alive at once; by default as many as memory and pids allow (`sandboxBound`). */
  maxSandboxes?: number;
  /** How long a run waits for a sandbox when `maxSandboxes` are busy, before `sandbox_busy`. */
  queueTimeoutMs?: number;
  /**
   * Sandboxes being created at once (default 8 per core). A start spends most of its wall time
   * waiting in the kernel (namespace and mount set-up), so a few per core leave the CPUs idle.
   */
  startConcurrency?: number;
  /** After this long with no run waiting, the pool's idle target halves. */
  shrinkAfterMs?: number;
  /** The bubblewrap binary. */
  bwrapPath?: string;
  /** The interpreter the launcher runs with inside the sandbox (it must be under a bound path). */
  launcherPython?: string;
  /** Host directories bound read-only at the same place (symlinks such as /lib → usr/lib are recreated). */
  readOnlyPaths?: string[];
  /** When ToolGym runs as root, the host uid/gid the sandbox runs as (never root). */
  uid?: number;
  /** Use cgroups for memory, pids and CPU limits when they are writable (default); rlimits otherwise. */
  cgroups?: boolean;
  /** Install the seccomp filter (`seccomp.ts`) in every sandbox (default). */
  seccomp?: boolean;
}

/** Processes of a sandbox besides its program: the outer bwrap and bwrap's init in the pid namespace. */
const SANDBOX_OVERHEAD_PIDS = 2;

/**
 * Bubblewrap backend: every run gets new user, pid, network, ipc, uts and cgroup namespaces, a
 * read-only view of the system directories and nothing else of the host, private tmpfs `/work`
 * and `/tmp`, a seccomp filter, and its own cgroup. A small supervisor process (supervisor.py)
 * starts the sandboxes, so a start never forks the Node process. No daemon is needed.
 */
export function createBubblewrapSandbox(options: BubblewrapSandboxOptions = {}): Sandbox {
  return new BubblewrapSandbox(options);
}

class BubblewrapSandbox implements Sandbox {
  readonly backend = 'bubblewrap';
  private readonly defaults: SandboxLimits;
  private readonly cgroups: CgroupManager | undefined;
  private readonly asRoot: boolean;
  private readonly uid: number;
  private readonly launcher: LauncherSettings;
  private readonly seccomp: Buffer | null;
  private readonly bound: SandboxBound;
  private readonly binds: string[];
  private readonly bwrap: string;
  /** What the supervisor's command starts with: its own mount namespace (as root), or nothing. */
  private readonly supervisorPrefix: string[];
  /** One pool per sandbox shape (tmpfs size, CPU quota or not): the default shape keeps `poolSize` ready. */
  private readonly pools = new Map<string, WarmPool<BwrapInstance>>();
  private readonly live = new Set<BwrapInstance>();
  private host?: { process: ChildProcessWithoutNullStreams; supervisor: Supervisor };
  /** Runs in progress or waiting: while any, the supervisor keeps the Node process alive. */
  private holds = 0;
  private closed = false;

  constructor(private readonly options: BubblewrapSandboxOptions) {
    this.defaults = { ...DEFAULT_LIMITS, ...options.limits };
    // The supervisor execs it without a PATH search.
    this.bwrap = absolutePath(options.bwrapPath ?? 'bwrap');
    const probe = spawnSync(this.bwrap, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new SandboxError(
        'backend_unavailable',
        `bubblewrap is not runnable (${this.bwrap})`,
        'install it: apt-get install bubblewrap',
      );
    }
    this.seccomp = options.seccomp === false ? null : seccompFor('bubblewrap');
    this.cgroups = options.cgroups === false ? undefined : Cgroups.detect();
    this.cgroups?.sweepStale();
    this.asRoot = process.getuid?.() === 0;
    this.uid = options.uid ?? 65534;
    this.launcher = {
      python: options.launcherPython ?? '/usr/bin/python3',
      rlimits: {
        memoryByRlimit: !this.cgroups?.has('memory'),
        pidsByRlimit: !this.cgroups?.has('pids') && nprocCountsPerUserNamespace(),
      },
    };
    this.binds = systemBinds(options.readOnlyPaths ?? SYSTEM_PATHS);
    this.supervisorPrefix = this.asRoot ? this.ownMountNamespace() : [];
    this.bound = sandboxBound({
      memoryBytes: this.defaults.memoryBytes,
      pids: this.defaults.pids,
      overheadPids: SANDBOX_OVERHEAD_PIDS,
      requested: options.maxSandboxes,
    });
  }

  async run(request: RunRequest): Promise<RunResult> {
    if (this.closed) throw new SandboxError('closed', 'run() on a closed sandbox');
    const { limits } = resolveRequest(request, this.defaults);
    this.hold(1);
    try {
      let acquired: { item: BwrapInstance; warm: boolean };
      try {
        acquired = await this.poolFor(limits.diskBytes, limits.cpus > 0).acquire(request.signal);
      } catch (error) {
        if (error instanceof AcquireAborted) return abortedBeforeStart();
        throw error;
      }
      try {
        return await runJob(acquired.item, request, limits, this.launcher, acquired.warm);
      } finally {
        this.poolFor(limits.diskBytes, limits.cpus > 0).release();
      }
    } finally {
      this.hold(-1);
    }
  }

  warmUp(): Promise<void> {
    return this.poolFor(this.defaults.diskBytes, this.defaults.cpus > 0).fill();
  }

  poolState(): PoolState {
    const pool = this.poolFor(this.defaults.diskBytes, this.defaults.cpus > 0);
    return { target: pool.target, idle: pool.idleCount, peak: pool.peakItems, max: pool.maxItems };
  }

  capabilities(): SandboxCapabilities {
    const cg = (c: 'memory' | 'pids' | 'cpu') =>
      this.cgroups?.has(c) ? `cgroup v${this.cgroups.version} ${c} controller` : null;
    return {
      wallMs: 'host timer, then SIGKILL of the sandbox and of its cgroup',
      cpuMs: 'RLIMIT_CPU per process (SIGXCPU, SIGKILL one second later)',
      memoryBytes: cg('memory') ?? 'RLIMIT_AS per process (no cgroup available: no OOM detection)',
      pids:
        cg('pids') ??
        (this.launcher.rlimits.pidsByRlimit ? "RLIMIT_NPROC in the sandbox's own user namespace" : null),
      outputBytes: 'host counts stdout/stderr bytes and kills the sandbox past the limit',
      fileBytes: 'RLIMIT_FSIZE',
      diskBytes: 'tmpfs size of /work and /tmp',
      cpus: cg('cpu') ? `${cg('cpu')} (CFS quota; joined only by runs with cpus > 0)` : null,
      network: 'new network namespace: loopback only, nothing routed',
      filesystem: 'read-only binds of system dirs, private tmpfs /work and /tmp, no other host path',
      syscalls: this.seccomp
        ? 'seccomp filter: ptrace, mount, kernel modules, keyring, bpf, io_uring, namespaces … refused'
        : null,
      concurrency: `at most ${this.bound.maxSandboxes} sandboxes at once (${this.bound.reason}); runs beyond wait, then sandbox_busy`,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing waits on the supervisor: it must keep the process alive until it has answered.
    this.hold(1);
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    await Promise.all([...this.live].map((instance) => instance.dispose()));
    await Promise.all([...this.live].map((instance) => instance.cleanedUp));
    await this.cgroups?.removeFree();
    const host = this.host;
    if (host && host.process.exitCode === null && host.process.signalCode === null) {
      const exited = new Promise((resolve) => host.process.once('close', resolve));
      host.process.stdin.end();
      await exited;
    }
    this.hold(-1);
  }

  private poolFor(diskBytes: number, cpuQuota: boolean): WarmPool<BwrapInstance> {
    const key = `${diskBytes}:${cpuQuota}`;
    let pool = this.pools.get(key);
    if (!pool) {
      const isDefault = diskBytes === this.defaults.diskBytes && cpuQuota === this.defaults.cpus > 0;
      const poolSize = this.options.poolSize ?? 2;
      pool = new WarmPool<BwrapInstance>({
        create: () => this.start(diskBytes, cpuQuota),
        destroy: (instance) => instance.dispose(),
        isAlive: (instance) => instance.alive,
        minIdle: isDefault ? poolSize : 0,
        maxIdle: poolSize === 0 ? 0 : this.bound.maxSandboxes,
        maxItems: this.bound.maxSandboxes,
        concurrency: this.options.startConcurrency ?? 8 * os.availableParallelism(),
        queueTimeoutMs: this.options.queueTimeoutMs ?? 60_000,
        shrinkAfterMs: this.options.shrinkAfterMs ?? 10_000,
        onError: (error) =>
          process.emitWarning(
            `bubblewrap warm pool: ${error instanceof Error ? error.message : String(error)}`,
          ),
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  private supervisor(): Supervisor {
    if (this.host && !this.host.supervisor.closed) return this.host.supervisor;
    const command = supervisorCommand(this.launcher.python, {
      uid: this.asRoot ? this.uid : null,
      gid: this.asRoot ? this.uid : null,
      seccomp: this.seccomp,
      oomFiles: [],
      env: BASE_ENV,
    });
    const argv = [...this.supervisorPrefix, ...command];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    const supervisor = new Supervisor((bytes) => child.stdin.write(bytes));
    child.stdout.on('data', (chunk: Buffer) => supervisor.push(chunk));
    child.stderr.on('data', (chunk: Buffer) =>
      process.emitWarning(`bubblewrap supervisor: ${chunk.toString('utf8').trim()}`),
    );
    child.stdin.on('error', () => {});
    child.on('error', (error) => supervisor.close(error.message));
    child.on('close', (code, signal) => supervisor.close(`it exited (${code ?? signal})`));
    this.host = { process: child, supervisor };
    this.refHost();
    return supervisor;
  }

  /** `supervisorNamespace`, if bwrap can make it here (else the supervisor shares the host's mounts). */
  private ownMountNamespace(): string[] {
    const prefix = supervisorNamespace({
      bwrap: this.bwrap,
      binds: this.binds,
      cgroups: this.cgroups !== undefined,
    });
    const probe = spawnSync(prefix[0]!, [...prefix.slice(1), this.bwrap, '--version'], { encoding: 'utf8' });
    if (probe.status === 0) return prefix;
    process.emitWarning(
      `bubblewrap supervisor: runs in the host's mount namespace (${(probe.stderr || String(probe.error)).trim()})`,
    );
    return [];
  }

  private hold(delta: number): void {
    this.holds += delta;
    this.refHost();
  }

  /** An idle supervisor (and its idle sandboxes) must not keep the process alive; a run in progress must. */
  private refHost(): void {
    if (!this.host) return;
    const { process: child } = this.host;
    // The stdio pipes are net.Sockets at run time, though typed as plain streams.
    const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{
      ref(): void;
      unref(): void;
    }>;
    for (const handle of handles) {
      if (this.holds > 0) handle.ref();
      else handle.unref();
    }
  }

  private async start(diskBytes: number, cpuQuota: boolean): Promise<BwrapInstance> {
    if (this.closed) throw new SandboxError('closed', 'sandbox closed while starting');
    // The CPU controller only when a quota is asked for: being in a CPU cgroup slows start-up under load.
    const controllers: Controller[] = cpuQuota ? ['memory', 'pids', 'cpu'] : ['memory', 'pids'];
    const cgroup = this.cgroups?.acquire('bwrap', controllers);
    cgroup?.setLimits(this.defaults);
    const sandbox = this.supervisor().start({
      argv: bwrapCommand({
        bwrap: this.bwrap,
        binds: this.binds,
        diskBytes,
        seccomp: this.seccomp !== null,
        python: this.launcher.python,
      }),
      cgroupProcs: cgroup?.procsFiles() ?? [],
    });
    const release = async () => {
      const ok = await (cgroup && this.cgroups ? this.cgroups.release(cgroup, controllers) : true);
      if (!ok)
        process.emitWarning(
          `bubblewrap sandbox: cgroup ${cgroup?.procsFiles()[0]} still busy after a minute`,
        );
      this.live.delete(instance);
    };
    const instance = new BwrapInstance(sandbox, cgroup, release);
    this.live.add(instance);
    try {
      await instance.ready;
    } catch (error) {
      await instance.dispose();
      throw error;
    }
    return instance;
  }
}

/** One sandbox whose launcher waits for its single job, and its cgroup. */
class BwrapInstance implements PreparedSandbox {
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  readonly input: SandboxInput;
  private disposed?: Promise<void>;
  /** Settles when the cgroup is gone (after `dispose`). */
  cleanedUp: Promise<void> = Promise.resolve();

  constructor(
    private readonly sandbox: SupervisedSandbox,
    private readonly cgroup: SandboxCgroup | undefined,
    /** Gives the cgroup back (or removes it) once the sandbox is gone. */
    private readonly releaseCgroup: () => Promise<void>,
  ) {
    this.ready = sandbox.ready;
    this.input = sandbox;
    this.exited = sandbox.exited.then((exit) => exit.exitCode);
  }

  get alive(): boolean {
    return !this.sandbox.hasExited;
  }

  async applyLimits(limits: SandboxLimits): Promise<void> {
    this.cgroup?.setLimits(limits);
  }

  attachOutput(sinks: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void }): void {
    this.sandbox.attachOutput(sinks);
  }

  async kill(): Promise<void> {
    this.sandbox.kill();
    this.cgroup?.killAll();
  }

  async oomKilled(_exitCode: number | null): Promise<boolean> {
    return (this.cgroup?.oomKills() ?? 0) > 0;
  }

  /**
   * Kills whatever is left (nothing, after a normal exit: the pid namespace died with its init)
   * and gives the cgroup back once the kernel has reaped every process in it, which can lag;
   * that part runs in the background and `cleanedUp` tracks it.
   */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      if (this.alive) {
        await this.kill();
        await this.exited;
      }
      this.cleanedUp = this.releaseCgroup();
    })();
    return this.disposed;
  }
}

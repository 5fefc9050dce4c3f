import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { type CgroupManager, CgroupManager as Cgroups, type SandboxCgroup } from './cgroup.ts';
import { SandboxError } from './errors.ts';
import { LAUNCHER_SOURCE, type LauncherRlimits, READY_BYTE, resolveRequest, WORK_DIR } from './launcher.ts';
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

export interface BubblewrapSandboxOptions {
  /** Default limits of every run (a run may override them). */
  limits?: Partial<SandboxLimits>;
  /** Pre-started sandboxes kept ready; 0 turns the warm pool off (every run starts cold). */
  poolSize?: number;
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
}

/** Runs jobs at once through `sh`: join the cgroups, drop to the sandbox uid, exec bwrap. */
const JOIN_CGROUPS_AND_EXEC =
  'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

/**
 * Bubblewrap backend: every run gets new user, pid, network, ipc, uts and cgroup namespaces, a
 * read-only view of the system directories and nothing else of the host, private tmpfs `/work`
 * and `/tmp`, and its own cgroup. It is the default on Linux: no daemon, ~10 ms to create.
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
  private readonly rlimits: LauncherRlimits;
  private readonly baseArgs: string[];
  private readonly pool: WarmPool<BwrapInstance>;
  private readonly live = new Set<BwrapInstance>();
  private closed = false;

  constructor(private readonly options: BubblewrapSandboxOptions) {
    this.defaults = { ...DEFAULT_LIMITS, ...options.limits };
    const bwrap = options.bwrapPath ?? 'bwrap';
    const probe = spawnSync(bwrap, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new SandboxError(
        'backend_unavailable',
        `bubblewrap is not runnable (${bwrap})`,
        'install it: apt-get install bubblewrap',
      );
    }
    this.cgroups = options.cgroups === false ? undefined : Cgroups.detect();
    this.cgroups?.sweepStale();
    this.asRoot = process.getuid?.() === 0;
    this.uid = options.uid ?? 65534;
    this.rlimits = {
      memoryByRlimit: !this.cgroups?.has('memory'),
      // RLIMIT_NPROC counts every process of the uid; it only means "this sandbox" with a uid of its own.
      pidsByRlimit: !this.cgroups?.has('pids') && this.asRoot,
    };
    this.baseArgs = [
      bwrap,
      ...systemBinds(options.readOnlyPaths ?? ['/usr', '/bin', '/lib', '/lib64', '/sbin']),
    ];
    this.pool = new WarmPool<BwrapInstance>({
      size: options.poolSize ?? 2,
      create: async () => {
        const instance = await this.start(this.defaults.diskBytes, this.defaults.cpus > 0, true);
        // An idle pre-started sandbox must not keep the process alive (it dies with it anyway).
        instance.setKeepsProcessAlive(false);
        return instance;
      },
      destroy: (instance) => instance.dispose(),
      isAlive: (instance) => instance.alive,
      concurrency: 2,
      onError: (error) =>
        process.emitWarning(
          `bubblewrap warm pool: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
  }

  async run(request: RunRequest): Promise<RunResult> {
    if (this.closed) throw new SandboxError('closed', 'run() on a closed sandbox');
    const { limits } = resolveRequest(request, this.defaults);
    // The pool's sandboxes have the default tmpfs size and CPU-quota setting; other runs need a sandbox of their own.
    const poolFits =
      limits.diskBytes === this.defaults.diskBytes && limits.cpus > 0 === this.defaults.cpus > 0;
    const pooled = poolFits ? this.pool.take() : undefined;
    const instance = pooled ?? (await this.start(limits.diskBytes, limits.cpus > 0, false));
    return runJob(instance, request, limits, this.rlimits);
  }

  warmUp(): Promise<void> {
    return this.pool.fill();
  }

  capabilities(): SandboxCapabilities {
    const cg = (c: 'memory' | 'pids' | 'cpu') =>
      this.cgroups?.has(c) ? `cgroup v${this.cgroups.version} ${c} controller` : null;
    return {
      wallMs: 'host timer, then SIGKILL of the process group and of the cgroup',
      cpuMs: 'RLIMIT_CPU per process (SIGXCPU, SIGKILL one second later)',
      memoryBytes: cg('memory') ?? 'RLIMIT_AS per process (no cgroup available: no OOM detection)',
      pids: cg('pids') ?? (this.rlimits.pidsByRlimit ? `RLIMIT_NPROC of uid ${this.uid}` : null),
      outputBytes: 'host counts stdout/stderr bytes and kills the sandbox past the limit',
      fileBytes: 'RLIMIT_FSIZE',
      diskBytes: 'tmpfs size of /work and /tmp',
      cpus: cg('cpu') ? `${cg('cpu')} (CFS quota; joined only by runs with cpus > 0)` : null,
      network: 'new network namespace: loopback only, nothing routed',
      filesystem: 'read-only binds of system dirs, private tmpfs /work and /tmp, no other host path',
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
    await Promise.all([...this.live].map((instance) => instance.dispose()));
    await Promise.all([...this.live].map((instance) => instance.cleanedUp));
  }

  private async start(diskBytes: number, cpuQuota: boolean, warm: boolean): Promise<BwrapInstance> {
    if (this.closed) throw new SandboxError('closed', 'sandbox closed while starting');
    // The CPU controller only when a quota is asked for: being in a CPU cgroup slows start-up under load.
    const cgroup = this.cgroups?.create('bwrap', cpuQuota ? ['memory', 'pids', 'cpu'] : ['memory', 'pids']);
    const dropPrivileges = this.asRoot
      ? ['setpriv', `--reuid=${this.uid}`, `--regid=${this.uid}`, '--clear-groups', '--inh-caps=-all', '--']
      : [];
    const bwrapArgs = [
      ...this.baseArgs.slice(0, 1),
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--hostname',
      'sandbox',
      ...this.baseArgs.slice(1),
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--size',
      String(diskBytes),
      '--tmpfs',
      '/tmp',
      '--size',
      String(diskBytes),
      '--perms',
      '0755',
      '--tmpfs',
      WORK_DIR,
      // The root bwrap builds is its own tmpfs: make it read-only too, so only /work and /tmp are writable.
      '--remount-ro',
      '/',
      '--chdir',
      WORK_DIR,
      this.options.launcherPython ?? '/usr/bin/python3',
      '-I',
      '-S',
      '-c',
      LAUNCHER_SOURCE,
    ];
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        JOIN_CGROUPS_AND_EXEC,
        'sh',
        ...(cgroup?.procsFiles() ?? []),
        '--',
        ...dropPrivileges,
        ...bwrapArgs,
      ],
      {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {},
      },
    );
    const instance = new BwrapInstance(child, cgroup, warm, () => this.live.delete(instance));
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

/** `--ro-bind` for each existing path; a symlink (merged /usr) is recreated as the same symlink. */
function systemBinds(paths: string[]): string[] {
  const args: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    if (lstatSync(p).isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else args.push('--ro-bind', p, p);
  }
  return args;
}

/** One started bwrap process whose launcher waits for its single job. */
class BwrapInstance implements PreparedSandbox {
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  private sinks?: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void };
  /** Output before a job is attached: start-up errors of bwrap itself. */
  private early: Buffer[] = [];
  private disposed?: Promise<void>;
  private exitedFlag = false;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly cgroup: SandboxCgroup | undefined,
    readonly warm: boolean,
    private readonly onDisposed: () => void,
  ) {
    let readyByteSeen = false;
    let markReady: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (!readyByteSeen) {
        readyByteSeen = true;
        if (chunk[0] !== READY_BYTE)
          failStart(
            new SandboxError(
              'sandbox_failed',
              'bubblewrap sandbox wrote output before its launcher was ready',
            ),
          );
        markReady();
        chunk = chunk.subarray(1);
        if (chunk.length === 0) return;
      }
      this.sinks?.stdout(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.sinks) this.sinks.stderr(chunk);
      else this.early.push(chunk);
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exitedFlag = true;
        if (!readyByteSeen) {
          const why = Buffer.concat(this.early).toString('utf8').trim() || `exit ${code ?? signal}`;
          failStart(
            new SandboxError(
              'sandbox_failed',
              `bubblewrap sandbox did not start: ${why}`,
              'check that bwrap can create user namespaces here',
            ),
          );
        }
        resolve(code ?? (signal ? 128 + signalNumber(signal) : null));
      });
    });
    child.on('error', (error) =>
      failStart(new SandboxError('sandbox_failed', `cannot start bubblewrap: ${error.message}`)),
    );
  }

  get alive(): boolean {
    return !this.exitedFlag && this.child.exitCode === null && this.child.signalCode === null;
  }

  get stdin() {
    return this.child.stdin;
  }

  async applyLimits(limits: SandboxLimits): Promise<void> {
    // The job starts now: from here until it exits the run holds the process open.
    this.setKeepsProcessAlive(true);
    this.cgroup?.setLimits(limits);
  }

  setKeepsProcessAlive(keep: boolean): void {
    // The stdio pipes are net.Sockets at run time, though typed as plain streams.
    const pipes = [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Array<{
      ref(): void;
      unref(): void;
    }>;
    for (const handle of [this.child, ...pipes]) {
      if (keep) handle.ref();
      else handle.unref();
    }
  }

  attachOutput(sinks: { stdout: (chunk: Buffer) => void; stderr: (chunk: Buffer) => void }): void {
    this.sinks = sinks;
    for (const chunk of this.early.splice(0)) sinks.stderr(chunk);
  }

  async kill(): Promise<void> {
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    }
    this.cgroup?.killAll();
  }

  async oomKilled(_exitCode: number | null): Promise<boolean> {
    return (this.cgroup?.oomKills() ?? 0) > 0;
  }

  /**
   * Kills whatever is left (nothing, after a normal exit: the pid namespace died with its init)
   * and removes the cgroup. The cgroup directory goes once the kernel has reaped every process,
   * which can lag; that part runs in the background and `cleanedUp` tracks it.
   */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      if (this.alive) {
        await this.kill();
        await this.exited;
      }
      this.cgroup?.killAll();
      this.cleanedUp = (this.cgroup?.remove() ?? Promise.resolve(true)).then((removed) => {
        if (!removed)
          process.emitWarning(
            `bubblewrap sandbox: cgroup ${this.cgroup?.procsFiles()[0]} still busy after a minute`,
          );
        this.onDisposed();
      });
    })();
    return this.disposed;
  }

  /** Settles when the cgroup is gone (after `dispose`). */
  cleanedUp: Promise<void> = Promise.resolve();
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
};

function signalNumber(signal: NodeJS.Signals): number {
  return SIGNALS[signal] ?? 0;
}

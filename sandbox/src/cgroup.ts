import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processAlive } from './process-alive.ts';

/** The limits a cgroup enforces for a whole sandbox (every process in it, tmpfs pages included). */
export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpus: number;
}

export type Controller = 'memory' | 'pids' | 'cpu';
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu'];
const MOUNT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;

/**
 * Makes one cgroup per sandbox under a `toolgym-sandbox` parent, on cgroup v1 (one hierarchy per
 * controller, as on this CI machine) or v2 (one unified hierarchy). Controllers that cannot be
 * used (not mounted, read-only, not delegated) are left out and reported by `controllers`.
 */
/** Names cgroups uniquely across every manager of this process. */
let cgroupCounter = 0;

export class CgroupManager {
  /** Empty cgroups of finished sandboxes, by controller set, ready for the next sandbox. */
  private readonly free = new Map<string, SandboxCgroup[]>();

  private constructor(
    readonly version: 1 | 2,
    /** Parent directory per usable controller (v2: the same directory for all). */
    private readonly parents: Map<Controller, string>,
  ) {}

  get controllers(): Controller[] {
    return [...this.parents.keys()];
  }

  has(controller: Controller): boolean {
    return this.parents.has(controller);
  }

  /** Finds writable cgroup hierarchies; `undefined` when none can be used. */
  static detect(): CgroupManager | undefined {
    const own = ownCgroupPaths();
    const parents = new Map<Controller, string>();
    if (existsSync(path.join(MOUNT, 'cgroup.controllers'))) {
      const parent = firstWritable([
        path.join(MOUNT, own.get('') ?? '/', 'toolgym-sandbox'),
        path.join(MOUNT, 'toolgym-sandbox'),
      ]);
      if (!parent) return undefined;
      const available = readFileSync(path.join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/);
      for (const controller of CONTROLLERS) {
        if (!available.includes(controller)) continue;
        try {
          writeFileSync(path.join(parent, 'cgroup.subtree_control'), `+${controller}`);
          parents.set(controller, parent);
        } catch {
          // not delegated to us: the backend falls back to rlimits for this limit
        }
      }
      return parents.size > 0 ? new CgroupManager(2, parents) : undefined;
    }
    for (const controller of CONTROLLERS) {
      const mount = path.join(MOUNT, controller);
      if (!existsSync(path.join(mount, 'cgroup.procs'))) continue;
      const parent = firstWritable([
        path.join(mount, own.get(controller) ?? '/', 'toolgym-sandbox'),
        path.join(mount, 'toolgym-sandbox'),
      ]);
      if (parent) parents.set(controller, parent);
    }
    return parents.size > 0 ? new CgroupManager(1, parents) : undefined;
  }

  /** Removes empty cgroups left by sandbox processes that died before cleaning up (a crash, SIGKILL). */
  sweepStale(): void {
    for (const parent of new Set(this.parents.values())) {
      let entries: string[] = [];
      try {
        entries = readdirSync(parent);
      } catch {
        continue;
      }
      for (const entry of entries) {
        const owner = /-(\d+)-\d+$/.exec(entry)?.[1];
        if (owner === undefined || processAlive(Number(owner))) continue;
        try {
          rmdirSync(path.join(parent, entry));
        } catch {
          // still has processes, or not ours: leave it
        }
      }
    }
  }

  /**
   * A cgroup in the given controllers (those this manager can use): an empty one a finished
   * sandbox gave back, else a new one. Creating and removing a memory cgroup costs the kernel
   * more than a sandbox's other set-up; an empty one holds nothing of the sandbox before it but
   * counters, which `SandboxCgroup` reads relative to when it was taken.
   */
  acquire(label: string, controllers: Controller[] = CONTROLLERS): SandboxCgroup {
    const reused = this.free.get(controllers.join())?.pop();
    if (reused) {
      reused.resetCounters();
      return reused;
    }
    return this.create(label, controllers);
  }

  /**
   * Takes a cgroup back once every process in it is gone (kills what is left), for `acquire`;
   * one that stays busy is removed instead. Resolves when it is free or removed.
   */
  async release(cgroup: SandboxCgroup, controllers: Controller[] = CONTROLLERS): Promise<boolean> {
    for (let attempt = 0; attempt < 40; attempt++) {
      cgroup.killAll();
      if (cgroup.pids().length === 0) {
        const key = controllers.join();
        this.free.set(key, [...(this.free.get(key) ?? []), cgroup]);
        return true;
      }
      // Not unref'd: close() awaits this, and an unref'd timer would let the process exit mid-await.
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 10 * 2 ** attempt)));
    }
    return cgroup.remove();
  }

  /** Removes the cgroups kept for reuse. */
  async removeFree(): Promise<void> {
    const all = [...this.free.values()].flat();
    this.free.clear();
    await Promise.all(all.map((cgroup) => cgroup.remove()));
  }

  private create(label: string, controllers: Controller[]): SandboxCgroup {
    const name = `${label}-${process.pid}-${++cgroupCounter}`;
    const dirs = new Map<Controller, string>();
    for (const [controller, parent] of this.parents) {
      if (!controllers.includes(controller)) continue;
      const dir = path.join(parent, name);
      if (!dirs.has(controller) && ![...dirs.values()].includes(dir)) mkdirSync(dir, { recursive: true });
      dirs.set(controller, dir);
    }
    return new SandboxCgroup(this.version, dirs);
  }
}

export class SandboxCgroup {
  /** OOM kills counted before this sandbox took the cgroup. */
  private oomBaseline = 0;
  /** The limits last written, so an unchanged limit is not written again. */
  private written: Partial<Record<'memory' | 'pids' | 'cpu', number>> = {};

  constructor(
    readonly version: 1 | 2,
    private readonly dirs: Map<Controller, string>,
  ) {}

  resetCounters(): void {
    this.oomBaseline += this.oomKills();
  }

  /** The `cgroup.procs` files a process writes its pid to, to join this cgroup before it forks. */
  procsFiles(): string[] {
    return [...new Set(this.dirs.values())].map((dir) => path.join(dir, 'cgroup.procs'));
  }

  has(controller: Controller): boolean {
    return this.dirs.has(controller);
  }

  setLimits(limits: CgroupLimits): void {
    const memory = this.dirs.get('memory');
    const pids = this.dirs.get('pids');
    const cpu = this.dirs.get('cpu');
    if (memory && this.written.memory !== limits.memoryBytes) {
      writeFileSync(
        path.join(memory, this.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
        String(limits.memoryBytes),
      );
      // No swap: a sandbox over its limit is killed instead of paging the host to a crawl.
      if (this.version === 2) tryWrite(path.join(memory, 'memory.swap.max'), '0');
      this.written.memory = limits.memoryBytes;
    }
    if (pids && this.written.pids !== limits.pids) {
      writeFileSync(path.join(pids, 'pids.max'), String(limits.pids));
      this.written.pids = limits.pids;
    }
    if (cpu && this.written.cpu !== limits.cpus) {
      this.written.cpu = limits.cpus;
      const quota = limits.cpus > 0 ? Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)) : -1;
      if (this.version === 1) {
        writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(quota));
      } else {
        writeFileSync(path.join(cpu, 'cpu.max'), `${quota < 0 ? 'max' : quota} ${CPU_PERIOD_US}`);
      }
    }
  }

  /** How many processes the kernel OOM-killed in this cgroup since the current sandbox took it. */
  oomKills(): number {
    const memory = this.dirs.get('memory');
    if (!memory) return 0;
    const file = path.join(memory, this.version === 1 ? 'memory.oom_control' : 'memory.events');
    const match = /^oom_kill (\d+)$/m.exec(readText(file));
    return (match ? Number(match[1]) : 0) - this.oomBaseline;
  }

  /** Pids still in the cgroup (any controller). */
  pids(): number[] {
    const pids = new Set<number>();
    for (const file of this.procsFiles()) {
      for (const line of readText(file).split('\n')) if (line.trim()) pids.add(Number(line));
    }
    return [...pids];
  }

  /** SIGKILLs every process in the cgroup until it is empty (a fork bomb may race the first pass). */
  killAll(): void {
    for (let pass = 0; pass < 20; pass++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /**
   * Removes the cgroup once its processes are reaped. Reaping is asynchronous (slow on a loaded
   * machine), so this retries with backoff for up to a minute and reports whether it succeeded.
   */
  async remove(): Promise<boolean> {
    for (const dir of new Set(this.dirs.values())) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (attempt >= 40) return false;
          this.killAll();
          // Not unref'd: close() awaits this, and an unref'd timer would let the process exit mid-await.
          await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 10 * 2 ** attempt)));
        }
      }
    }
    return true;
  }
}

/** `controller → path` of this process's own cgroups ('' for v2's unified hierarchy). */
function ownCgroupPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readText('/proc/self/cgroup').split('\n')) {
    const [, controllers, cgroupPath] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers === undefined || cgroupPath === undefined) continue;
    for (const c of controllers.split(',')) paths.set(c, cgroupPath);
  }
  return paths;
}

function firstWritable(candidates: string[]): string | undefined {
  for (const dir of candidates) {
    try {
      mkdirSync(dir, { recursive: true });
      const probe = path.join(dir, `probe-${process.pid}`);
      mkdirSync(probe);
      rmdirSync(probe);
      return dir;
    } catch {
      // not ours to write: try the next place
    }
  }
  return undefined;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tryWrite(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch {
    // optional knob absent (no swap accounting)
  }
}

import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What bounds the number of sandboxes alive at once, and the resulting count. */
export interface SandboxBound {
  maxSandboxes: number;
  /** The budgets the count comes from, for `capabilities()` and error messages. */
  reason: string;
}

/**
 * Sandboxes alive at once (idle, starting and running) so that all of them at their limits fit:
 * their memory limits within `memoryBudgetBytes` (default: three quarters of the machine's
 * memory) and their pid limits within half of the kernel's pid space. `requested` caps it further.
 */
export function sandboxBound(options: {
  memoryBytes: number;
  pids: number;
  /** Processes a sandbox has beyond its program's own (bwrap, its init, a supervisor share). */
  overheadPids: number;
  memoryBudgetBytes?: number;
  /** Total memory of the machine the sandboxes run on (a remote Docker engine's, say). */
  totalMemoryBytes?: number;
  requested?: number;
}): SandboxBound {
  const memoryBudget = options.memoryBudgetBytes ?? 0.75 * (options.totalMemoryBytes ?? os.totalmem());
  const byMemory = Math.floor(memoryBudget / options.memoryBytes);
  const pidSpace = Math.min(
    readNumber('/proc/sys/kernel/pid_max'),
    readNumber('/proc/sys/kernel/threads-max'),
  );
  const byPids = Math.floor(pidSpace / 2 / (options.pids + options.overheadPids));
  const maxSandboxes = Math.max(1, Math.min(byMemory, byPids, options.requested ?? Number.POSITIVE_INFINITY));
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  return {
    maxSandboxes,
    reason: `${byMemory} by memory (${gib(memoryBudget)} / ${gib(options.memoryBytes)} each), ${byPids} by pids${options.requested === undefined ? '' : `, ${options.requested} requested`}`,
  };
}

function readNumber(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

import { createBubblewrapSandbox, createDockerSandbox, type Sandbox } from '@toolgym/sandbox';
import type { SandboxSettings } from './config.ts';

const factories: Record<SandboxSettings['backend'], (settings: SandboxSettings) => Sandbox> = {
  bubblewrap: (s) => createBubblewrapSandbox({ poolSize: s.poolSize }),
  docker: (s) => createDockerSandbox({ poolSize: s.poolSize }),
};

/** A shared sandbox with no open episode is closed after this long (so a finished CLI run can exit). */
const IDLE_CLOSE_MS = 10_000;

interface Entry {
  sandbox: Sandbox;
  leases: number;
  idleTimer?: NodeJS.Timeout;
}

const shared = new Map<string, Entry>();

function entryFor(settings: SandboxSettings): Entry {
  const key = `${settings.backend}:${settings.poolSize}`;
  let entry = shared.get(key);
  if (!entry) {
    entry = { sandbox: factories[settings.backend](settings), leases: 0 };
    shared.set(key, entry);
    scheduleIdleClose(key, entry);
  }
  return entry;
}

function scheduleIdleClose(key: string, entry: Entry): void {
  clearTimeout(entry.idleTimer);
  entry.idleTimer = setTimeout(() => {
    if (entry.leases > 0 || shared.get(key) !== entry) return;
    shared.delete(key);
    void entry.sandbox.close();
  }, IDLE_CLOSE_MS);
  entry.idleTimer.unref();
}

/**
 * One sandbox (and so one warm pool) per backend and pool size, shared by the episodes of the
 * process: episodes never share a run (each run is a fresh sandbox), only the pool that feeds
 * them. The sandbox is closed when no episode has used it for a while.
 */
export function sharedSandbox(settings: SandboxSettings): Sandbox {
  return entryFor(settings).sandbox;
}

/** Holds the shared sandbox for one episode; `release` when the episode ends. */
export function leaseSharedSandbox(settings: SandboxSettings): { sandbox: Sandbox; release(): void } {
  const key = `${settings.backend}:${settings.poolSize}`;
  const entry = entryFor(settings);
  clearTimeout(entry.idleTimer);
  entry.leases++;
  let released = false;
  return {
    sandbox: entry.sandbox,
    release() {
      if (released) return;
      released = true;
      entry.leases--;
      if (entry.leases === 0) scheduleIdleClose(key, entry);
    },
  };
}

/** Closes the shared sandboxes now (tests, shutdown); the next use makes new ones. */
export async function closeSharedSandboxes(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  for (const entry of all) clearTimeout(entry.idleTimer);
  await Promise.all(all.map((entry) => entry.sandbox.close()));
}

import { createBubblewrapSandbox, createDockerSandbox, type Sandbox } from '@toolgym/sandbox';
import type { SandboxSettings } from './config.ts';
import { GraderPool } from './grading/grader-process.ts';
import type { GradingInfra } from './grading/run-tests.ts';

const factories: Record<SandboxSettings['backend'], (settings: SandboxSettings) => Sandbox> = {
  bubblewrap: (s) => createBubblewrapSandbox({ poolSize: s.poolSize }),
  docker: (s) => createDockerSandbox({ poolSize: s.poolSize }),
};

/** A shared sandbox with no open episode is closed after this long (so a finished CLI run can exit). */
const IDLE_CLOSE_MS = 10_000;

interface Entry extends GradingInfra {
  leases: number;
  idleTimer?: NodeJS.Timeout;
}

const shared = new Map<string, Entry>();

const keyOf = (settings: SandboxSettings) => `${settings.backend}:${settings.poolSize}`;

function entryFor(settings: SandboxSettings): Entry {
  const key = keyOf(settings);
  let entry = shared.get(key);
  if (!entry) {
    entry = {
      sandbox: factories[settings.backend](settings),
      graders: new GraderPool(settings.poolSize),
      leases: 0,
    };
    shared.set(key, entry);
    scheduleIdleClose(key, entry);
  }
  return entry;
}

const closeEntry = (entry: Entry) => Promise.all([entry.sandbox.close(), entry.graders.close()]);

function scheduleIdleClose(key: string, entry: Entry): void {
  clearTimeout(entry.idleTimer);
  entry.idleTimer = setTimeout(() => {
    if (entry.leases > 0 || shared.get(key) !== entry) return;
    shared.delete(key);
    void closeEntry(entry);
  }, IDLE_CLOSE_MS);
  entry.idleTimer.unref();
}

/**
 * One sandbox (and so one warm pool) and one pool of grader processes per backend and pool size,
 * shared by the episodes of the process: episodes never share a run (each run is a fresh sandbox,
 * each grading a fresh grader process), only the pools that feed them. They are closed when no
 * episode has used them for a while.
 */
export function sharedSandbox(settings: SandboxSettings): Sandbox {
  return entryFor(settings).sandbox;
}

/** Holds the shared sandbox and graders (for an episode, or grading outside one); `release` when done. */
export function leaseSharedGrading(settings: SandboxSettings): GradingInfra & { release(): void } {
  const key = keyOf(settings);
  const entry = entryFor(settings);
  clearTimeout(entry.idleTimer);
  entry.leases++;
  let released = false;
  return {
    sandbox: entry.sandbox,
    graders: entry.graders,
    release() {
      if (released) return;
      released = true;
      entry.leases--;
      if (entry.leases === 0) scheduleIdleClose(key, entry);
    },
  };
}

/** Closes the shared sandboxes and grader pools now (tests, shutdown); the next use makes new ones. */
export async function closeSharedSandboxes(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  for (const entry of all) clearTimeout(entry.idleTimer);
  await Promise.all(all.map(closeEntry));
}

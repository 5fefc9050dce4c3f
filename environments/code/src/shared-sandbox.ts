import { createBubblewrapSandbox, createDockerSandbox, type Sandbox } from '@toolgym/sandbox';
import type { SandboxSettings } from './config.ts';

const factories: Record<SandboxSettings['backend'], (settings: SandboxSettings) => Sandbox> = {
  bubblewrap: (s) => createBubblewrapSandbox({ poolSize: s.poolSize }),
  docker: (s) => createDockerSandbox({ poolSize: s.poolSize }),
};

const shared = new Map<string, Sandbox>();

/**
 * One sandbox (and so one warm pool) per backend and pool size, shared by every episode of the
 * process: episodes never share a run (each run is a fresh sandbox), only the pool that feeds them.
 */
export function sharedSandbox(settings: SandboxSettings): Sandbox {
  const key = `${settings.backend}:${settings.poolSize}`;
  let sandbox = shared.get(key);
  if (!sandbox) {
    sandbox = factories[settings.backend](settings);
    shared.set(key, sandbox);
  }
  return sandbox;
}

/** Closes the shared sandboxes (tests, process shutdown); the next use makes new ones. */
export async function closeSharedSandboxes(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  await Promise.all(all.map((s) => s.close()));
}

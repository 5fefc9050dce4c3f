import path from 'node:path';
import { discoverEnvironments, type Environment, type EnvironmentRegistry, loadEnvironmentModule } from '@toolgym/env-kit';

let cached: Promise<EnvironmentRegistry> | undefined;

/** The registry of every environment the workspace and the current project provide. */
export function registry(): Promise<EnvironmentRegistry> {
  cached ??= discoverEnvironments();
  return cached;
}

/** Looks like a file path rather than an id (`./my-env.ts`, `/abs/env`). */
function isPath(ref: string): boolean {
  return ref.startsWith('.') || ref.startsWith('/') || /\.(ts|js|mjs)$/.test(ref);
}

/**
 * An environment instance from an id (`compose`, `sql@1`) or a path to a user's module, with
 * options (e.g. from a config file).
 */
export async function makeEnvironment(ref: string, options?: unknown): Promise<Environment> {
  const reg = await registry();
  if (isPath(ref)) {
    const definitions = await loadEnvironmentModule(path.resolve(ref));
    for (const d of definitions) reg.register(d, ref);
    return reg.make(definitions[0]!.ref, options);
  }
  return reg.make(ref, options);
}

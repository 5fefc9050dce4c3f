import path from 'node:path';
import {
  discoverEnvironments,
  type Environment,
  type EnvironmentRegistry,
  loadEnvironmentModule,
  UnknownEnvironmentError,
} from '@toolgym/env-kit';

let everything: Promise<EnvironmentRegistry> | undefined;

/** The registry of every environment the workspace and the current project provide. */
export function registry(): Promise<EnvironmentRegistry> {
  everything ??= discoverEnvironments();
  return everything;
}

/** Looks like a file path rather than an id (`./my-env.ts`, `/abs/env`). */
function isPath(ref: string): boolean {
  return ref.startsWith('.') || ref.startsWith('/') || /\.(ts|js|mjs)$/.test(ref);
}

/**
 * An environment instance from an id (`compose`, `sql@1`) or a path to a user's module, with
 * options (e.g. from a config file). Only the named environment's package is imported when it
 * declares its id; an unknown id loads everything, to suggest the closest one.
 */
export async function makeEnvironment(ref: string, options?: unknown): Promise<Environment> {
  if (isPath(ref)) {
    const reg = await registry();
    const definitions = await loadEnvironmentModule(path.resolve(ref));
    for (const d of definitions) reg.register(d, ref);
    return reg.make(definitions[0]!.ref, options);
  }
  const id = ref.split('@')[0] ?? ref;
  try {
    return (await discoverEnvironments(undefined, { ids: [id] })).make(ref, options);
  } catch (error) {
    if (!(error instanceof UnknownEnvironmentError)) throw error;
    return (await registry()).make(ref, options);
  }
}

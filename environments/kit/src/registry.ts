import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closest, distance } from 'fastest-levenshtein';
import { type EnvironmentDefinition, recordModule } from './define-environment.ts';
import { ConfigError, UnknownEnvironmentError } from './errors.ts';
import { Environment } from './episode.ts';

// biome-ignore lint/suspicious/noExplicitAny: the registry holds definitions of every state/config type
export type AnyEnvironmentDefinition = EnvironmentDefinition<any, any>;

/** Environments by id and version; `make('sql@1')` or `make('sql')` (the newest version). */
export class EnvironmentRegistry {
  private readonly byId = new Map<string, Map<number, AnyEnvironmentDefinition>>();
  /** Where each definition came from, for error messages. */
  private readonly origins = new Map<string, string>();

  register(definition: AnyEnvironmentDefinition, origin = '(in code)'): void {
    const versions = this.byId.get(definition.id) ?? new Map<number, AnyEnvironmentDefinition>();
    const existing = versions.get(definition.version);
    if (existing && existing !== definition) {
      throw new ConfigError(
        `environment '${definition.ref}' is registered twice (${this.origins.get(definition.ref)} and ${origin})`,
        'give one of them another id or a new version',
      );
    }
    versions.set(definition.version, definition);
    this.byId.set(definition.id, versions);
    this.origins.set(definition.ref, origin);
  }

  /** Every registered definition, newest version first within an id. */
  list(): AnyEnvironmentDefinition[] {
    return [...this.byId.keys()]
      .sort()
      .flatMap((id) => [...(this.byId.get(id)?.values() ?? [])].sort((a, b) => b.version - a.version));
  }

  resolve(ref: string): AnyEnvironmentDefinition {
    const [id = '', versionText] = ref.split('@');
    const versions = this.byId.get(id);
    if (!versions) {
      const known = [...this.byId.keys()].sort();
      const best = known.length > 0 ? closest(id, known) : undefined;
      const suggestions = best !== undefined && distance(id, best) <= Math.max(2, id.length / 3) ? [best] : [];
      throw new UnknownEnvironmentError(ref, suggestions, known);
    }
    if (versionText === undefined) return [...versions.values()].sort((a, b) => b.version - a.version)[0]!;
    const found = versions.get(Number(versionText));
    if (!found) {
      throw new UnknownEnvironmentError(ref, [...versions.values()].map((d) => d.ref), this.list().map((d) => d.ref));
    }
    return found;
  }

  /** An instance with options validated against the environment's config schema. */
  make(ref: string, options?: unknown): Environment {
    const definition = this.resolve(ref);
    return new Environment(definition, definition.parseConfig(options));
  }
}

/**
 * Loads the environment definitions a module exports (default export, or any exported definition),
 * and records the module as each one's source, so pure tools can run in workers that import it.
 */
export async function loadEnvironmentModule(file: string): Promise<AnyEnvironmentDefinition[]> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new ConfigError(`no environment file at ${absolute}`);
  const url = pathToFileURL(absolute).href;
  const found = definitionsIn((await import(url)) as Record<string, unknown>);
  if (found.length === 0) {
    throw new ConfigError(`${file} exports no environment`, 'export default defineEnvironment({...}) from it');
  }
  for (const definition of found) recordModule(definition, url);
  return found;
}

/** The environment definitions among a module's exports. */
export function definitionsIn(module: Record<string, unknown>): AnyEnvironmentDefinition[] {
  return [...new Set(Object.values(module).flatMap((value) => (Array.isArray(value) ? value : [value])).filter(isDefinition))];
}

function isDefinition(value: unknown): value is AnyEnvironmentDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    'ref' in value &&
    'toolSpecs' in value &&
    'grade' in value &&
    typeof (value as { parseConfig?: unknown }).parseConfig === 'function'
  );
}

/** The folder of the ToolGym workspace this kit lives in. */
export function workspaceRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
}

/**
 * Finds environment packages without manual wiring: any package.json with a
 * `"toolgym": { "environment": "./src/index.ts" }` field under `<root>/environments/*` or in
 * `<root>/node_modules` (scoped or not).
 */
export function findEnvironmentPackages(roots: string[], options: { ids?: readonly string[] } = {}): string[] {
  const entries: string[] = [];
  const consider = (dir: string) => {
    const manifest = path.join(dir, 'package.json');
    if (!existsSync(manifest)) return;
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { toolgym?: { environment?: string; id?: string } };
    const declared = json.toolgym;
    if (!declared?.environment) return;
    // A package that declares its id is imported only when that id is wanted: importing an
    // environment can be costly (a SQL parser, a browser driver), and the CLI needs just one.
    if (options.ids && declared.id !== undefined && !options.ids.includes(declared.id)) return;
    entries.push(path.join(dir, declared.environment));
  };
  const subdirs = (dir: string) =>
    existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() || d.isSymbolicLink()).map((d) => path.join(dir, d.name)) : [];
  for (const root of roots) {
    subdirs(path.join(root, 'environments')).forEach(consider);
    for (const dir of subdirs(path.join(root, 'node_modules'))) {
      if (path.basename(dir).startsWith('@')) subdirs(dir).forEach(consider);
      else consider(dir);
    }
  }
  return [...new Set(entries.map((e) => path.resolve(e)))];
}

/**
 * A registry with every environment found in the workspace and the current project; with `ids`,
 * packages that declare another id in `"toolgym": {"id": …}` are not loaded.
 */
export async function discoverEnvironments(
  roots: string[] = [workspaceRoot(), process.cwd()],
  options: { ids?: readonly string[] } = {},
): Promise<EnvironmentRegistry> {
  const registry = new EnvironmentRegistry();
  for (const entry of findEnvironmentPackages([...new Set(roots.map((r) => path.resolve(r)))], options)) {
    for (const definition of await loadEnvironmentModule(entry)) registry.register(definition, entry);
  }
  return registry;
}

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Environment, type Rescored, rescoreTrajectory, summarizeRescores } from '@toolgym/env-kit';
import { type Trajectory, TrajectorySchema } from '@toolgym/protocol';
import { TrajectoryStore } from '@toolgym/replay';
import type { Command } from 'commander';
import { environmentOptions, numberIn } from '../flags.ts';
import { makeEnvironment } from '../registry.ts';
import { printTable } from './env.ts';

interface RescoreOptions {
  env?: string;
  options?: string;
  store?: string;
  show: string;
  json?: boolean;
}

/** Where stored trajectories come from, and the environment options they were played with. */
interface Source {
  trajectories: Iterable<Trajectory>;
  options?: unknown;
  envId?: string;
  close(): void;
}

export function registerRescoreCommand(program: Command): void {
  program
    .command('rescore <path>')
    .description(
      "Grade stored trajectories again with the environments' current graders (for deterministic environments): replays each episode's calls, prints every reward component's mean before and after and how many episodes changed. <path> is a trajectories JSONL (toolgym eval --out, toolgym replay export) or a toolgym train run directory.",
    )
    .option('--env <id>', 'the environment (default: each trajectory’s envId, or the run’s config)')
    .option('--options <json>', 'environment options as JSON (default: the run’s config; none for a JSONL)')
    .option('--store <file>', 'the replay store of a run directory (default: replay.sqlite beside it)')
    .option('--show <n>', 'list this many changed episodes', '10')
    .option('--json', 'print the summary and every changed episode as JSON')
    .action(async (target: string, opts: RescoreOptions) => {
      const show = numberIn(opts.show, '--show', 0);
      const source = openSource(path.resolve(target), opts);
      const environments = new Map<string, Promise<Environment>>();
      const options = opts.options !== undefined ? environmentOptions(opts.options) : source.options;
      const rescored: Rescored[] = [];
      const skipped = new Map<string, number>();
      const skip = (reason: string) => skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
      try {
        for (const trajectory of source.trajectories) {
          if (trajectory.status === 'failed') {
            skip('failed episodes (never graded)');
            continue;
          }
          const envId = opts.env ?? source.envId ?? trajectory.envId;
          let environment = environments.get(envId);
          if (!environment) {
            environment = makeEnvironment(envId, options);
            environments.set(envId, environment);
          }
          const env = await environment;
          if (!(await env.tasks()).some((t) => t.id === trajectory.taskId)) {
            skip(`tasks the environment (with these options) does not have`);
            continue;
          }
          rescored.push(await rescoreTrajectory(env, trajectory));
        }
      } finally {
        source.close();
      }
      const summary = summarizeRescores(rescored);
      const changed = rescored.filter((r) => Math.abs(r.before.total - r.after.total) > 1e-9 || r.diverged > 0);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ summary, skipped: Object.fromEntries(skipped), changed }, null, 2)}\n`);
        return;
      }
      printTable(
        ['component', 'before', 'after', 'episodes changed'],
        summary.components.map((c) => [c.name, c.before.toFixed(4), c.after.toFixed(4), String(c.changed)]),
      );
      process.stdout.write(`${summary.changed} of ${summary.episodes} episodes changed`);
      process.stdout.write(summary.diverged > 0 ? `; ${summary.diverged} did not replay as played (their tool outputs differ)\n` : '\n');
      for (const [reason, n] of skipped) process.stdout.write(`skipped ${n}: ${reason}\n`);
      if (changed.length > 0 && show > 0) {
        printTable(
          ['trajectory', 'task', 'total before', 'total after', 'diverged calls'],
          changed.slice(0, show).map((r) => [r.trajectoryId, r.taskId, r.before.total.toFixed(4), r.after.total.toFixed(4), String(r.diverged)]),
        );
      }
    });
}

function openSource(target: string, opts: RescoreOptions): Source {
  if (!existsSync(target)) throw new ConfigError(`${target} does not exist`, 'give a trajectories JSONL or a toolgym train run directory');
  if (!statSync(target).isDirectory()) return { trajectories: readJsonl(target), close() {} };
  // A toolgym train run directory: <outDir>/<name>-seed<seed>/config.json, trajectories in the store.
  const configFile = path.join(target, 'config.json');
  if (!existsSync(configFile))
    throw new ConfigError(`${target} has no config.json`, 'a run directory is what toolgym train writes: <outDir>/<name>-seed<seed>');
  const config = parseJson(readFileSync(configFile, 'utf8'), configFile) as { environment?: { id?: string; options?: unknown } };
  const storeFile = opts.store ?? path.join(path.dirname(target), 'replay.sqlite');
  if (!existsSync(storeFile)) throw new ConfigError(`no replay store at ${storeFile}`, 'pass the run’s store with --store');
  const store = TrajectoryStore.open(storeFile, { readonly: true });
  // Training and evaluation runs: `<name>-seed<seed>-<time>` and `…-eval`.
  const runs = store.listRuns().filter((r) => r.id.startsWith(`${path.basename(target)}-`));
  return {
    trajectories: (function* () {
      for (const run of runs) yield* store.iterateTrajectories({ runId: run.id });
    })(),
    ...(config.environment?.options !== undefined ? { options: config.environment.options } : {}),
    ...(config.environment?.id ? { envId: config.environment.id } : {}),
    close: () => store.close(),
  };
}

function* readJsonl(file: string): Generator<Trajectory> {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const parsed = TrajectorySchema.safeParse(parseJson(line, `${file}:${i + 1}`));
    if (!parsed.success)
      throw new ConfigError(`${file}:${i + 1} is not a trajectory: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`, 'each line must be one trajectory as toolgym eval --out writes them');
    yield parsed.data;
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${where} is not valid JSON: ${(error as Error).message}`);
  }
}

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { StoreSink, StoreWriter, serveReplay } from '@toolgym/replay';
import { loadTrainConfig, type TrainResult, train } from '@toolgym/trainer';
import type { Command } from 'commander';
import { numberIn, portNumber, positiveInt, wholeNumber } from '../flags.ts';
import { makeEnvironment } from '../registry.ts';
import { listening } from '../serving.ts';

interface TrainCliOptions {
  seed?: string;
  seeds?: string;
  store?: string;
  serve?: string;
  steps?: string;
  minutes?: string;
  resume?: boolean;
}

/** `toolgym train <config.yaml>`: the training loop of @toolgym/trainer, trajectories into a replay store. */
export function registerTrainCommand(program: Command): void {
  program
    .command('train <config>')
    .description(
      'Train a policy from one YAML config: warm-up, RL with group advantages, evaluation; metrics to JSONL and the replay store.',
    )
    .option('--seed <n>', 'override run.seed')
    .option('--seeds <list>', 'run once per seed, e.g. 0,1,2 (sequentially)')
    .option('--store <path>', 'SQLite trajectory store for the replay feed (default <outDir>/replay.sqlite)')
    .option('--serve <port>', 'also serve the replay viewer and feed on this port while training')
    .option('--steps <n>', 'override rl.steps')
    .option('--minutes <n>', 'override rl.timeBudgetMinutes')
    .option(
      '--resume',
      'continue from the newest intact checkpoint in <outDir>/<name>-seed<seed>/checkpoints (same config and overrides)',
    )
    .action(async (file: string, opts: TrainCliOptions) => {
      const config = await loadTrainConfig(file);
      if (opts.steps !== undefined) config.rl.steps = positiveInt(opts.steps, '--steps');
      if (opts.minutes !== undefined) config.rl.timeBudgetMinutes = numberIn(opts.minutes, '--minutes', 0);
      const seeds = opts.seeds
        ? opts.seeds.split(',').map((s) => wholeNumber(s, '--seeds'))
        : [opts.seed !== undefined ? wholeNumber(opts.seed, '--seed') : config.run.seed];
      const storePath = path.resolve(opts.store ?? path.join(config.run.outDir, 'replay.sqlite'));
      const address = opts.serve !== undefined && {
        host: '127.0.0.1',
        port: portNumber(opts.serve, '--serve'),
      };
      // One writer thread for every seed's run; the server follows its commits as they happen.
      const writer = await StoreWriter.open(storePath);
      const server = address
        ? await listening('--serve', address, () => serveReplay({ storePath, writer, ...address })).catch(
            async (error: unknown) => {
              await writer.close();
              throw error;
            },
          )
        : undefined;
      process.stderr.write(
        server
          ? `toolgym: watch live at ${server.url} (feed ${server.feedUrl})\n`
          : `toolgym: trajectories go to ${storePath}; watch live with \`toolgym replay serve --store ${storePath}\`\n`,
      );
      const results: TrainResult[] = [];
      try {
        for (const seed of seeds) {
          const runConfig = { ...config, run: { ...config.run, seed } };
          const environment = await makeEnvironment(config.environment.id, config.environment.options);
          const pretrainEnvironment = config.pretrain
            ? await makeEnvironment(config.environment.id, {
                ...config.environment.options,
                ...config.pretrain.options,
              })
            : undefined;
          const runId = `${config.run.name}-seed${seed}-${Date.now()}`;
          const sink = await StoreSink.through(writer, { runId, runInfo: { config: runConfig } });
          const overrides = [
            ...(opts.steps !== undefined ? ['--steps', opts.steps] : []),
            ...(opts.minutes !== undefined ? ['--minutes', opts.minutes] : []),
          ];
          const commit = codeCommit();
          try {
            const result = await train({
              config: runConfig,
              environment,
              ...(pretrainEnvironment ? { pretrainEnvironment } : {}),
              sink,
              runId,
              resume: opts.resume === true,
              provenance: {
                command: ['toolgym train', file, '--seed', String(seed), ...overrides].join(' '),
                ...(commit ? { commit } : {}),
              },
            });
            results.push(result);
            process.stdout.write(trainSummary(seed, result));
          } catch (error) {
            await sink.fail(error instanceof Error ? error.message : String(error));
            throw error;
          } finally {
            await sink.close();
          }
        }
        if (results.length > 1) {
          const gain = results.map((r) => (r.after - r.before) * 100);
          process.stdout.write(
            `gain over ${results.length} seeds: ${gain.map((g) => g.toFixed(1)).join(', ')} points (mean ${(gain.reduce((a, b) => a + b, 0) / gain.length).toFixed(1)})\n`,
          );
        }
      } finally {
        await server?.close();
        await writer.close();
      }
    });
}

/** The commit of the code that runs, ` (modified)` when tracked files differ from it; undefined outside git. */
function codeCommit(): string | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head} (modified)`;
  } catch {
    return undefined;
  }
}

/**
 * What a seed's run printed at its end: accuracy on `eval.tasks` before and after RL with its curve,
 * the other evaluated splits after RL, and where the outputs (result.json: every split, every
 * held-out unit) are.
 */
export function trainSummary(seed: number, result: TrainResult): string {
  const gain = (result.after - result.before) * 100;
  const last = result.evals.at(-1);
  const [, ...others] = Object.entries(last?.splits ?? {});
  return (
    `seed ${seed}: held-out accuracy before RL ${pct(result.before)}, after ${result.rlSteps} RL steps (${(result.rlSeconds / 60).toFixed(1)} min) ${pct(result.after)}` +
    ` (${gain >= 0 ? '+' : ''}${gain.toFixed(1)} points); curve ${result.evals.map((e) => `${e.step}:${pct(e.accuracy)}`).join(' ')}\n` +
    (others.length > 0
      ? `  after RL on ${others.map(([split, e]) => `${split} ${pct(e.accuracy)}`).join(', ')}\n`
      : '') +
    (result.best
      ? `  chosen by validation: step ${result.best.step} (validation ${pct(result.best.validation)}), held-out ${pct(result.best.accuracy)}\n`
      : '') +
    (result.stoppedBy === 'steps'
      ? ''
      : `  RL stopped early (${result.stoppedBy}) after ${result.rlSteps} of ${result.config.rl.steps} steps\n`) +
    `  outputs in ${result.outDir}\n`
  );
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

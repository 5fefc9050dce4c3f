import { type Split, SplitSchema } from '@toolgym/protocol';
import type { Command } from 'commander';
import {
  checkSplits,
  ConfigError,
  EnvironmentClient,
  formatSplitReport,
  probeEnvironment,
  serveHttp,
  serveOpenEnv,
  serveStdio,
} from '@toolgym/env-kit';
import { formatDataReport } from '../data-report.ts';
import { environmentOptions, oneOf, portNumber, positiveInt, wholeNumber } from '../flags.ts';
import { addListenFlags, type ListenFlags, listenOptionsOf } from './listen-flags.ts';
import { playEpisode } from '../play.ts';
import { scaffoldEnvironment } from '../scaffold.ts';
import { makeEnvironment, registry } from '../registry.ts';
import { closeOnSignal, listening } from '../serving.ts';

export function registerEnvCommands(program: Command): void {
  program
    .command('envs')
    .description('List the registered environments with versions and tool counts.')
    .action(async () => {
      const rows = (await registry()).list().map((d) => [d.ref, String(d.toolSpecs.length), d.description]);
      printTable(['env', 'tools', 'description'], rows);
    });

  const env = program.command('env').description('Serve, inspect and play environments.');

  addListenFlags(env
    .command('serve <env>')
    .description('Serve an environment (id or path to a module) as an MCP server.'))
    .option('--stdio', 'serve over stdio (the default)')
    .option('--http <port>', 'serve over Streamable HTTP on this port (0 = any free port)')
    .option('--openenv <port>', "serve over OpenEnv's HTTP + WebSocket protocol on this port, for Python trainers (0 = any free port)")
    .option('--host <host>', 'address to bind for --http or --openenv', '127.0.0.1')
    .option('--token <token>', 'bearer token agents must send (required off loopback)', process.env.TOOLGYM_TOKEN)
    .option('--trainer-token <token>', 'bearer token of the trainer, the only client that may read answers and oracles', process.env.TOOLGYM_TRAINER_TOKEN)
    .option('--max-sessions <n>', 'most sessions (episodes) open at once over HTTP or OpenEnv WebSockets', '1024')
    .option('--options <json>', 'environment options as JSON')
    .action(async (ref: string, opts: ListenFlags & { http?: string; openenv?: string; host: string; token?: string; trainerToken?: string; maxSessions: string; options?: string }) => {
      if (opts.http !== undefined && opts.openenv !== undefined)
        throw new ConfigError('--http and --openenv both given', 'serve one protocol per process: start a second `toolgym env serve` for the other');
      const environment = await makeEnvironment(ref, environmentOptions(opts.options));
      const openenv = opts.openenv !== undefined;
      if (!openenv && opts.http === undefined) return serveStdio(environment);
      const flag = openenv ? '--openenv' : '--http';
      const address = { host: opts.host, port: portNumber((openenv ? opts.openenv : opts.http) ?? '', flag) };
      const shared = {
        ...listenOptionsOf(opts),
        ...address,
        maxSessions: positiveInt(opts.maxSessions, '--max-sessions'),
        ...(opts.token ? { token: opts.token } : {}),
      };
      // OpenEnv has no request for answers or oracles, so it takes no trainer token.
      const server = await listening(flag, address, () =>
        openenv
          ? serveOpenEnv(environment, shared)
          : serveHttp(environment, { ...shared, ...(opts.trainerToken ? { trainerToken: opts.trainerToken } : {}) }),
      );
      const where = openenv ? `over OpenEnv at ${server.url} (sessions at ${server.url.replace(/^http/, 'ws')}/ws)` : `at ${server.url}`;
      process.stderr.write(`toolgym: serving ${environment.ref} ${where}\n`);
      closeOnSignal(() => server.close());
    });

  env
    .command('tasks <env>')
    .description('List the tasks of an environment.')
    .option('--split <split>', 'train, test or test-iid')
    .option('--limit <n>', 'how many to print', '20')
    .option('--json', 'one JSON task per line, with answers')
    .option('--stats', 'per split: task counts, the held-out units and the leakage check (exit 1 on a leak)')
    .option('--options <json>', 'environment options as JSON')
    .action(async (ref: string, opts: { split?: Split; limit: string; json?: boolean; stats?: boolean; options?: string }) => {
      const environment = await makeEnvironment(ref, environmentOptions(opts.options));
      process.stderr.write(formatDataReport(await environment.dataReport()));
      if (opts.stats) {
        const report = await checkSplits(environment);
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatSplitReport(report));
        if (!report.ok) process.exitCode = 1;
        return;
      }
      const tasks = opts.split ? await environment.tasksOf(opts.split) : await environment.tasks();
      const shown = tasks.slice(0, positiveInt(opts.limit, '--limit'));
      if (opts.json) {
        for (const t of shown) process.stdout.write(`${JSON.stringify(t)}\n`);
        return;
      }
      printTable(['id', 'split', 'prompt'], shown.map((t) => [t.id, t.split, t.prompt.replace(/\s+/g, ' ').slice(0, 100)]));
      process.stdout.write(`${shown.length} of ${tasks.length} tasks\n`);
    });

  env
    .command('play <env>')
    .description('Play an episode yourself: see the task and tools, call them, answer, see the reward.')
    .option('--task <id>', 'play this task')
    .option('--split <split>', 'draw the task from train or test', 'train')
    .option('--seed <n>', 'seed for drawing the task', String(Date.now() % 100_000))
    .option('--options <json>', 'environment options as JSON')
    .action(async (ref: string, opts: { task?: string; split: 'train' | 'test'; seed: string; options?: string }) => {
      const environment = await makeEnvironment(ref, environmentOptions(opts.options));
      const seed = wholeNumber(opts.seed, '--seed');
      const client = await EnvironmentClient.connect({ kind: 'in-process', environment });
      try {
        await playEpisode(client, { ...(opts.task ? { taskId: opts.task } : {}), split: opts.split, seed }, {
          input: process.stdin,
          output: process.stdout,
        });
      } finally {
        await client.close();
      }
    });

  env
    .command('probe <env>')
    .description(
      "Play the environment's red-team suite and the generic adversaries (empty answer, random calls, tool spam, echoed observation, longest answer, repeated prompt) as an agent; exit 1 if any attack earns more than its ceiling.",
    )
    .option('--tasks <n>', 'tasks per split each attack plays', '3')
    .option('--split <split>', 'only this split (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--seed <n>', 'seed of the task choice and the attacks', '0')
    .option('--options <json>', 'environment options as JSON')
    .action(async (ref: string, opts: { tasks: string; split: string[]; seed: string; options?: string }) => {
      const environment = await makeEnvironment(ref, environmentOptions(opts.options));
      const splits = opts.split.map((split) => oneOf(split, SplitSchema.options, '--split'));
      const report = await probeEnvironment(environment, {
        tasks: positiveInt(opts.tasks, '--tasks'),
        seed: wholeNumber(opts.seed, '--seed'),
        ...(splits.length > 0 ? { splits } : {}),
      });
      printTable(
        ['attack', 'family', 'episodes', 'mean', 'max', 'ceiling', 'verdict'],
        report.rows.map((r) => [
          r.attack,
          r.family,
          String(r.episodes),
          r.mean.toFixed(3),
          r.max.toFixed(3),
          r.ceiling.toFixed(3),
          r.verdict === 'pass' || r.verdict === 'no task' ? r.verdict : `${r.verdict.toUpperCase()}: ${r.error ?? `${r.worst?.taskId} ${JSON.stringify(r.worst?.components)}`}`,
        ]),
      );
      process.stdout.write(`${report.env}: generic adversaries held to ${report.floor.toFixed(3)} (format floor); ${report.ok ? 'every attack within its ceiling' : 'ATTACKS ABOVE THEIR CEILING'}\n`);
      if (!report.ok) process.exitCode = 1;
    });

  env
    .command('new <name>')
    .description('Scaffold a new environment package that passes the conformance check.')
    .option('--dir <dir>', 'parent folder (default: environments/ of this workspace)')
    .action(async (name: string, opts: { dir?: string }) => {
      const dir = await scaffoldEnvironment(name, opts.dir);
      process.stdout.write(`Created ${dir}
Next: pnpm install, then  toolgym env play ${name}  and  pnpm exec vitest run ${dir}
`);
    });
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
}

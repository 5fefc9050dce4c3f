/**
 * `pnpm bench sql [--concurrency 32] [--episodes-per-client 8]`
 *
 * Episodes per second of the SQL environment over stdio MCP: `concurrency` clients, each with its
 * own stdio server process (bench/serve-sql-stdio.ts: what `toolgym env serve sql` runs, without
 * the CLI's discovery of every environment, which only slows start-up), each playing a scripted policy (one
 * execute_sql of the gold query, then submit_answer with it, then end/grade). The baseline,
 * measured in the same run, is the bare cost of the same SQL executed directly with
 * better-sqlite3 in this process (the two executions an episode makes). The ratio is the
 * environment's overhead: MCP, process hops, the read-only guard, formatting and grading.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CallOptions, Environment, EnvironmentClient } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import Database from 'better-sqlite3';
import sql, { databaseFileOf, type SqlAnswer, sharedQueryPool, sqlTasks } from '../src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const serverEntry = path.join(root, 'environments/sql/bench/serve-sql-stdio.ts');
const argument = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const concurrency = argument('concurrency', 32);
const episodesPerClient = argument('episodes-per-client', 8);
const STARTUP_BATCH = 2;

const config = sql.parseConfig({ executors: 1 });
const tasks: Task[] = sqlTasks(config);
const pickTask = (i: number) => tasks[(i * 7919) % tasks.length] as Task;

// --- Baseline: the same SQL, executed directly ---------------------------------------------
function directEpisodesPerSecond(episodes: number): { perSecond: number; msPerEpisode: number } {
  const connections = new Map<string, Database.Database>();
  const connection = (task: Task) => {
    const file = databaseFileOf(task, config);
    let db = connections.get(file);
    if (!db) {
      db = new Database(file, { readonly: true, fileMustExist: true });
      connections.set(file, db);
    }
    return db;
  };
  const run = (i: number) => {
    const task = pickTask(i);
    const db = connection(task);
    const gold = (task.answer as SqlAnswer).sql;
    // execute_sql, then submit_answer: the two executions an oracle episode makes.
    db.prepare(gold).raw(true).all();
    db.prepare(gold).raw(true).all();
  };
  for (let i = 0; i < 50; i++) run(i);
  const started = performance.now();
  for (let i = 0; i < episodes; i++) run(i);
  const ms = performance.now() - started;
  for (const db of connections.values()) db.close();
  return { perSecond: (episodes / ms) * 1000, msPerEpisode: ms / episodes };
}

// --- The environment over stdio MCP --------------------------------------------------------
async function playEpisode(
  client: EnvironmentClient,
  task: Task,
  options: CallOptions = {},
): Promise<number> {
  const started = performance.now();
  const gold = (task.answer as SqlAnswer).sql;
  await client.start({ taskId: task.id }, options);
  const executed = await client.callTool('execute_sql', { sql: gold }, options);
  if (executed.isError) throw new Error(`execute_sql failed on ${task.id}: ${executed.content}`);
  await client.callTool('submit_answer', { sql: gold }, options);
  const end = await client.end(undefined, options);
  if (end.reward.total !== 1) throw new Error(`oracle episode ${task.id} scored ${end.reward.total}`);
  return performance.now() - started;
}

/** The same scripted episodes on an in-process Environment: separates the MCP/stdio cost from the environment's own. */
async function inProcessEpisodesPerSecond(episodes: number): Promise<number> {
  const env = new Environment(sql, config);
  const play = async (i: number) => {
    const task = pickTask(i);
    const gold = (task.answer as SqlAnswer).sql;
    const episode = await env.openEpisode({ taskId: task.id });
    await episode.callTool('execute_sql', { sql: gold });
    await episode.callTool('submit_answer', { sql: gold });
    const end = await episode.end();
    if (end.reward.total !== 1) throw new Error(`oracle episode ${task.id} scored ${end.reward.total}`);
  };
  await Promise.all(Array.from({ length: concurrency }, (_, c) => play(c)));
  let next = concurrency;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < episodes + concurrency) await play(next++);
    }),
  );
  const perSecond = (episodes / (performance.now() - started)) * 1000;
  sharedQueryPool(config.executors).close();
  return perSecond;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function main() {
  process.stderr.write(`starting ${concurrency} stdio servers…\n`);
  const startup = performance.now();
  // Servers start a few at a time, each with a warm-up episode (task loading, query process
  // start, first statements): starting all at once on 2 cores only makes start-up time out.
  const clients: EnvironmentClient[] = [];
  for (let batch = 0; batch < concurrency; batch += STARTUP_BATCH) {
    const started = await Promise.all(
      Array.from({ length: Math.min(STARTUP_BATCH, concurrency - batch) }, async (_, i) => {
        const client = await EnvironmentClient.connect({
          kind: 'stdio',
          command: process.execPath,
          args: ['--import', 'tsx', serverEntry, '{"executors":1}'],
          cwd: root,
        });
        await playEpisode(client, pickTask(batch + i), { timeoutMs: 600_000 });
        return client;
      }),
    );
    clients.push(...started);
    process.stderr.write(`  ${clients.length}/${concurrency} servers ready\n`);
  }
  const startupMs = performance.now() - startup;

  process.stderr.write(`measuring ${concurrency * episodesPerClient} episodes…\n`);
  const latencies: number[] = [];
  const measured = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      for (let k = 0; k < episodesPerClient; k++)
        latencies.push(await playEpisode(client, pickTask(c * episodesPerClient + k + concurrency)));
    }),
  );
  const wallMs = performance.now() - measured;
  await Promise.all(clients.map((c) => c.close()));

  const episodes = concurrency * episodesPerClient;
  const inProcess = await inProcessEpisodesPerSecond(episodes);
  const mcpPerSecond = (episodes / wallMs) * 1000;
  const direct = directEpisodesPerSecond(Math.max(episodes, 2000));
  latencies.sort((a, b) => a - b);
  const rows = [
    [
      'stdio MCP, scripted oracle policy',
      `${concurrency}`,
      mcpPerSecond.toFixed(1),
      `${quantile(latencies, 0.5).toFixed(1)} / ${quantile(latencies, 0.95).toFixed(1)}`,
    ],
    ['in-process Environment (no MCP), same policy', `${concurrency}`, inProcess.toFixed(1), '-'],
    [
      'direct better-sqlite3 (same SQL, 2 runs/episode)',
      '1',
      direct.perSecond.toFixed(1),
      direct.msPerEpisode.toFixed(3),
    ],
  ];
  const header = ['setup', 'concurrency', 'episodes/s', 'ms per episode (p50 / p95)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(
    `\nsql environment: ${episodes} episodes over ${tasks.length} tasks (server start-up + warm-up: ${(startupMs / 1000).toFixed(1)} s, not counted)\n`,
  );
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(
    `overhead ratio (direct episodes/s ÷ MCP episodes/s): ${(direct.perSecond / mcpPerSecond).toFixed(1)}×\n`,
  );
}

await main();

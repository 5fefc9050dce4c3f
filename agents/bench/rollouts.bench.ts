/**
 * `pnpm bench rollouts [--episodes N] [--group G]`: episodes/s and environment steps/s on `compose` with the
 * oracle policy at concurrency 1, 8 and 64, through the agent loop over in-process MCP, against
 * the baseline of the same episodes calling the environment's tool functions directly (Episode
 * API, no MCP, no agent loop), measured in the same run. overhead = direct rate / loop rate − 1.
 *
 * Rows:
 *  - direct: env.openEpisode → episode.callTool(oracle calls) → episode.end, no MCP.
 *  - mcp only: the same calls through EnvironmentClient over in-process MCP (start, oracle,
 *    tools/call, end), without the agent loop: separates the MCP transport's cost from the loop's.
 *  - loop (text): runRollouts + playEpisode, oracle in message mode (no tokenizer), worker sessions.
 *  - loop (exact tokens): the same in token mode with ToolGym's byte tokenizer and its chat template
 *    (every turn re-renders the conversation through Jinja and tokenizes the observation).
 *  - `MCP` rows reach the environment over the SDK's in-memory transport; `direct` rows use the
 *    kit's direct session (`{ kind: 'direct' }`): the same session semantics without JSON-RPC.
 */
import compose from '@toolgym/env-compose';
import { Environment, EnvironmentClient } from '@toolgym/env-kit';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { ConcurrencyLimit } from '../src/concurrency-limit.ts';
import { byteTokenizerConfig, byteTokenizerId, byteTokenizerJson } from '../src/model/byte-tokenizer.ts';
import { HuggingFaceTokenizer } from '../src/model/hf-tokenizer.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { runRollouts } from '../src/rollout-engine.ts';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const EPISODES = arg('--episodes', 512);
/** Episodes per task, as RL rollouts play them (GRPO groups). */
const GROUP = arg('--group', 8);
const CONCURRENCY = [1, 8, 64];

const env = new Environment(compose, compose.parseConfig({}));
const tasks = await env.tasksOf('train');
const groupTaskIds = Array.from(
  { length: Math.ceil(EPISODES / GROUP) },
  (_, i) => tasks[i % tasks.length]!.id,
);
/** The same episodes, flat, for the paths without groups. */
const taskIds = groupTaskIds.flatMap((id) => Array.from({ length: GROUP }, () => id));
const config = byteTokenizerConfig(8192);
const tokenizer = new HuggingFaceTokenizer(byteTokenizerJson(), config, [
  byteTokenizerId('<|im_end|>'),
  byteTokenizerId('<|endoftext|>'),
]);
const template = ChatTemplate.fromTokenizerConfig(config);

interface Measured {
  episodes: number;
  steps: number;
  ms: number;
}

async function direct(concurrency: number): Promise<Measured> {
  const limit = new ConcurrencyLimit(concurrency);
  let steps = 0;
  const t0 = performance.now();
  await Promise.all(
    taskIds.map((taskId, i) =>
      limit.run(async () => {
        const episode = await env.openEpisode({ taskId, seed: i });
        for (const call of env.definition.oracle!(episode.task, env.config)) {
          await episode.callTool(call.name, call.arguments);
          steps++;
        }
        const { reward } = await episode.end();
        if (reward.components.correct !== 1) throw new Error(`direct oracle failed on ${taskId}`);
      }),
    ),
  );
  return { episodes: taskIds.length, steps, ms: performance.now() - t0 };
}

async function mcpOnly(concurrency: number): Promise<Measured> {
  const limit = new ConcurrencyLimit(concurrency);
  const idle: EnvironmentClient[] = [];
  let steps = 0;
  const t0 = performance.now();
  await Promise.all(
    taskIds.map((taskId, i) =>
      limit.run(async () => {
        const client =
          idle.pop() ?? (await EnvironmentClient.connect({ kind: 'in-process', environment: env }));
        await client.start({ taskId, seed: i });
        const { calls } = await client.oracle();
        for (const call of calls) {
          await client.callTool(call.name, call.arguments);
          steps++;
        }
        const { reward } = await client.end();
        if (reward.components.correct !== 1) throw new Error(`mcp oracle failed on ${taskId}`);
        idle.push(client);
      }),
    ),
  );
  const ms = performance.now() - t0;
  await Promise.all(idle.map((c) => c.close()));
  return { episodes: taskIds.length, steps, ms };
}

async function loop(concurrency: number, exact: boolean, kind: 'in-process' | 'direct'): Promise<Measured> {
  const t0 = performance.now();
  const result = await runRollouts({
    connect: () => EnvironmentClient.connect({ kind, environment: env }),
    sessions: 'worker',
    policy: createOraclePolicy(exact ? { tokenizer } : {}),
    taskIds: groupTaskIds,
    groupSize: GROUP,
    concurrency,
    sampling: { maxTokens: 512 },
    episode: { template },
    progress: false,
  });
  const ms = performance.now() - t0;
  const all = result.groups.flatMap((g) => g.trajectories);
  const bad = all.filter((t) => t.reward.components.correct !== 1);
  if (bad.length > 0)
    throw new Error(
      `${bad.length} loop episodes did not solve their task: ${JSON.stringify(bad[0]?.failure)}`,
    );
  return {
    episodes: all.length,
    steps: all.reduce((s, t) => s + t.turns.reduce((u, turn) => u + turn.toolCalls.length, 0), 0),
    ms,
  };
}

const rate = (m: Measured) => ({ eps: m.episodes / (m.ms / 1000), sps: m.steps / (m.ms / 1000) });
// Warm up JIT and module caches so the first measured row is not penalised.
await direct(8);
await loop(8, true, 'in-process');
await loop(8, true, 'direct');

const rows: string[][] = [];
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
for (const c of CONCURRENCY) {
  const base = rate(await direct(c));
  const mcp = rate(await mcpOnly(c));
  rows.push([String(c), 'direct (baseline)', base.eps.toFixed(1), base.sps.toFixed(1), '', '']);
  rows.push([String(c), 'mcp only', mcp.eps.toFixed(1), mcp.sps.toFixed(1), pct(base.eps / mcp.eps - 1), '']);
  for (const [label, exact, kind] of [
    ['loop (text), MCP', false, 'in-process'],
    ['loop (exact tokens), MCP', true, 'in-process'],
    ['loop (text), direct', false, 'direct'],
    ['loop (exact tokens), direct', true, 'direct'],
  ] as const) {
    const measured = rate(await loop(c, exact, kind));
    rows.push([
      String(c),
      label,
      measured.eps.toFixed(1),
      measured.sps.toFixed(1),
      pct(base.eps / measured.eps - 1),
      pct(mcp.eps / measured.eps - 1),
    ]);
  }
}

const header = ['concurrency', 'path', 'episodes/s', 'steps/s', 'overhead vs direct', 'overhead vs mcp only'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
process.stdout.write(
  `compose, oracle policy, ${taskIds.length} episodes per row (${groupTaskIds.length} tasks × ${GROUP}; the loop over in-process MCP and over the direct session)\n${line(header)}\n${rows.map(line).join('\n')}\n`,
);
process.stdout.write(
  'target: overhead vs direct under 25% at concurrency 64 (overhead = baseline rate / rate − 1)\n',
);

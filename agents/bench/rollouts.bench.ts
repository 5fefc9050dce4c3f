/**
 * `pnpm bench rollouts [--episodes N] [--group G] [--rounds R] [--sweep-episodes K] [--concurrency
 * C]`: episodes/s and environment steps/s on `compose` with the oracle policy at concurrency 1, 8 and
 * 64 (or C alone), through the agent loop over in-process MCP, against the baseline of the same
 * episodes calling the environment's tool functions directly (Episode API, no MCP, no agent loop),
 * measured in the same run. overhead = direct rate / loop rate − 1; `exact ÷ text` = the text loop's
 * rate over the exact-token loop's on the same path. CPU ms/episode is this process's CPU time per
 * episode (steadier than wall time on a shared machine). The two loop modes play `--rounds` rounds
 * each, alternately (each first in every other round), and each figure is the median round's, so a
 * burst of other work on a shared machine moves one round, not the ratio; a second table gives exact ÷
 * text of each round pair (median and interquartile range), which a burst moves less than it moves
 * either mode's median taken apart. GC ms/episode is the time garbage collection paused this process's
 * main thread (`PerformanceObserver` 'gc' entries), per episode: part of the CPU time, not in addition
 * to it.
 *
 * Then a turn-length sweep: synthetic episodes of 2, 10 and 50 turns (each turn one tool call
 * with fresh arguments, so nothing but the template's layouts repeats between episodes) at
 * concurrency 1, timing what the loop spends between one generate call and the next (parse, tool
 * call, render, tokenize), by turn.
 *
 * Rows:
 *  - direct: env.openEpisode → episode.callTool(oracle calls) → episode.end, no MCP.
 *  - mcp only: the same calls through EnvironmentClient over in-process MCP (start, oracle,
 *    tools/call, end), without the agent loop: separates the MCP transport's cost from the loop's.
 *  - loop (text): runRollouts + playEpisode, oracle in message mode (no tokenizer), worker sessions.
 *  - loop (exact tokens): the same in token mode with ToolGym's byte tokenizer and its chat template
 *    (each turn renders and tokenizes only what it appends; the members of a group play the same
 *    oracle turns, so they share renders through the run's render cache, which a path keeps across
 *    its rounds as training keeps one across its steps). The token oracle tokenizes each distinct
 *    text it writes once per round and returns those ids after, as an engine that samples ids pays
 *    no tokenizer; the text oracle's strings are as free.
 *  - `MCP` rows reach the environment over the SDK's in-memory transport; `direct` rows use the
 *    kit's direct session (`{ kind: 'direct' }`): the same session semantics without JSON-RPC.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import compose from '@toolgym/env-compose';
import { Environment, EnvironmentClient } from '@toolgym/env-kit';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { ConcurrencyLimit } from '../src/concurrency-limit.ts';
import { byteTokenizerConfig, byteTokenizerId, byteTokenizerJson } from '../src/model/byte-tokenizer.ts';
import { HuggingFaceTokenizer } from '../src/model/hf-tokenizer.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import type { GenerateResult, Policy } from '../src/policy.ts';
import { runRollouts } from '../src/rollout-engine.ts';
import { RenderCache } from '../src/turn-renderer.ts';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const EPISODES = arg('--episodes', 512);
const SWEEP_EPISODES = arg('--sweep-episodes', 20);
/** Rounds of each loop mode per row, alternating text and exact; the median round is reported. */
const ROUNDS = arg('--rounds', 5);
/** Episodes per task, as RL rollouts play them (GRPO groups). */
const GROUP = arg('--group', 8);
/** One concurrency alone (`--concurrency 64`: more rounds of the row the target is about in the same time). */
const CONCURRENCY = process.argv.includes('--concurrency') ? [arg('--concurrency', 64)] : [1, 8, 64];

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
  cpuMs: number;
  gcMs: number;
}

/** Garbage collection pauses of the main thread so far, in ms. */
let gcPausedMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPausedMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

/** Wall, CPU and GC time of `run`. */
async function timed(run: () => Promise<{ episodes: number; steps: number }>): Promise<Measured> {
  const cpu = process.cpuUsage();
  const gc = gcPausedMs;
  const t0 = performance.now();
  const counted = await run();
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  // GC entries are delivered after the pause: let the observer catch up before reading.
  await new Promise((resolve) => setImmediate(resolve));
  return { ...counted, ms, cpuMs: (used.user + used.system) / 1000, gcMs: gcPausedMs - gc };
}

function direct(concurrency: number): Promise<Measured> {
  return timed(async () => {
    const limit = new ConcurrencyLimit(concurrency);
    let steps = 0;
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
    return { episodes: taskIds.length, steps };
  });
}

function mcpOnly(concurrency: number): Promise<Measured> {
  return timed(async () => {
    const limit = new ConcurrencyLimit(concurrency);
    const idle: EnvironmentClient[] = [];
    let steps = 0;
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
    await Promise.all(idle.map((c) => c.close()));
    return { episodes: taskIds.length, steps };
  });
}

/**
 * One render cache per path and concurrency across its rounds, as `toolgym train` keeps one across
 * its steps: each round plays like a step of a long run, not like a run's first 512 episodes.
 */
const renderCaches = new Map<string, RenderCache>();

function loop(concurrency: number, exact: boolean, kind: 'in-process' | 'direct'): Promise<Measured> {
  const key = `${kind} ${concurrency}`;
  const renderCache = renderCaches.get(key) ?? new RenderCache();
  renderCaches.set(key, renderCache);
  return timed(async () => {
    const result = await runRollouts({
      connect: () => EnvironmentClient.connect({ kind, environment: env }),
      sessions: 'worker',
      policy: createOraclePolicy(exact ? { tokenizer } : {}),
      taskIds: groupTaskIds,
      groupSize: GROUP,
      concurrency,
      sampling: { maxTokens: 512 },
      episode: { template },
      renderCache,
      progress: false,
    });
    const all = result.groups.flatMap((g) => g.trajectories);
    const bad = all.filter((t) => t.reward.components.correct !== 1);
    if (bad.length > 0)
      throw new Error(
        `${bad.length} loop episodes did not solve their task: ${JSON.stringify(bad[0]?.failure)}`,
      );
    return {
      episodes: all.length,
      steps: all.reduce((s, t) => s + t.turns.reduce((u, turn) => u + turn.toolCalls.length, 0), 0),
    };
  });
}

/** The median round's wall, CPU and GC time (each its own median). */
function medianRound(rounds: Measured[]): Measured {
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    ...rounds[0]!,
    ms: mid(rounds.map((m) => m.ms)),
    cpuMs: mid(rounds.map((m) => m.cpuMs)),
    gcMs: mid(rounds.map((m) => m.gcMs)),
  };
}

const rate = (m: Measured) => ({
  eps: m.episodes / (m.ms / 1000),
  sps: m.steps / (m.ms / 1000),
  cpu: m.cpuMs / m.episodes,
  gc: m.gcMs / m.episodes,
});
// Warm up JIT and module caches so the first measured row is not penalised.
await direct(8);
await loop(8, true, 'in-process');
await loop(8, true, 'direct');

const rows: string[][] = [];
/** exact ÷ text of each round pair (the two modes played one after the other), by row. */
const roundRows: string[][] = [];
/** Median and interquartile range of `xs`, as `1.23× (1.10–1.40)`. */
function quartiles(xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.round(q * (sorted.length - 1))]!.toFixed(2);
  return `${at(0.5)}× (${at(0.25)}–${at(0.75)})`;
}
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
for (const c of CONCURRENCY) {
  const base = rate(await direct(c));
  const mcp = rate(await mcpOnly(c));
  type Rate = ReturnType<typeof rate>;
  /** One row: `vs` the rates it is compared with, `ratio` the exact ÷ text cell. */
  const row = (label: string, m: Rate, vs: { base?: Rate; mcp?: Rate }, ratio = '') =>
    rows.push([
      String(c),
      label,
      m.eps.toFixed(1),
      m.sps.toFixed(1),
      m.cpu.toFixed(3),
      m.gc.toFixed(3),
      vs.base ? pct(vs.base.eps / m.eps - 1) : '',
      vs.mcp ? pct(vs.mcp.eps / m.eps - 1) : '',
      ratio,
    ]);
  row('direct (baseline)', base, {});
  row('mcp only', mcp, { base });
  for (const kind of ['in-process', 'direct'] as const) {
    const rounds: Record<'text' | 'exact', Measured[]> = { text: [], exact: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Each mode goes first in every other round, so neither always follows the other.
      if (r % 2 === 0) rounds.text.push(await loop(c, false, kind));
      rounds.exact.push(await loop(c, true, kind));
      if (r % 2 === 1) rounds.text.push(await loop(c, false, kind));
    }
    const text = rate(medianRound(rounds.text));
    const exact = rate(medianRound(rounds.exact));
    const where = kind === 'direct' ? 'direct' : 'MCP';
    row(`loop (text), ${where}`, text, { base, mcp });
    row(
      `loop (exact tokens), ${where}`,
      exact,
      { base, mcp },
      `${(text.eps / exact.eps).toFixed(2)}× (cpu ${(exact.cpu / text.cpu).toFixed(2)}×)`,
    );
    const byRound = (of: (m: Measured) => number) =>
      quartiles(rounds.exact.map((m, r) => of(m) / of(rounds.text[r]!)));
    roundRows.push([String(c), where, byRound((m) => m.ms), byRound((m) => m.cpuMs)]);
  }
}

const header = [
  'concurrency',
  'path',
  'episodes/s',
  'steps/s',
  'CPU ms/episode',
  'GC ms/episode',
  'overhead vs direct',
  'overhead vs mcp only',
  'exact ÷ text',
];
/** A titled table, columns right-aligned. */
function printTable(title: string, head: string[], body: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  process.stdout.write(`${title}\n${line(head)}\n${body.map(line).join('\n')}\n`);
}
printTable(
  `compose, oracle policy, ${taskIds.length} episodes per row (${groupTaskIds.length} tasks × ${GROUP}; the loop over in-process MCP and over the direct session)`,
  header,
  rows,
);
printTable(
  `\nexact ÷ text round by round (each round's exact-token loop over the text loop's just before or after it): median (interquartile range) of ${ROUNDS} rounds`,
  ['concurrency', 'path', 'wall', 'CPU'],
  roundRows,
);
process.stdout.write(
  'targets at concurrency 64: overhead vs direct under 25% (overhead = baseline rate / rate − 1); exact ÷ text at most 1.25×\n' +
    "the text loop's baseline leaves out what an engine serving text does every turn (render the chat template over the whole\n" +
    'conversation and tokenize it); the exact loop renders and tokenizes what each turn appends; its oracle tokenizes each\n' +
    'distinct text it writes once per round (an engine samples ids), and each path keeps its render cache across rounds\n',
);

// Turn-length sweep: what the loop costs per turn as the history grows.
const sweepEnv = new Environment(compose, compose.parseConfig({ maxTurns: 60 }));
const sweepTask = (await sweepEnv.tasksOf('train'))[0]!.id;

/**
 * A synthetic policy: `turns − 1` calls of `upper` on fresh text, then a (wrong) answer. It notes
 * when each generate call starts and returns, so the loop's time between turns can be read off.
 */
function sweepPolicy(turns: number, exact: boolean, episode: number, gaps: number[][]): Policy {
  const endOfTurn = tokenizer.specialTokens.get('<|im_end|>')!;
  let turn = 0;
  let returned = 0;
  return {
    id: 'sweep',
    version: 0,
    ...(exact ? { tokenizer } : {}),
    async generate(request): Promise<GenerateResult> {
      const now = performance.now();
      if (turn > 0) {
        gaps[turn] ??= [];
        gaps[turn]!.push(now - returned);
      }
      const text =
        turn < turns - 1
          ? `<tool_call>\n{"name": "upper", "arguments": {"text": "e${episode}t${turn}x${'ab'.repeat(8)}"}}\n</tool_call>`
          : '<tool_call>\n{"name": "answer", "arguments": {"answer": "no"}}\n</tool_call>';
      turn++;
      const tokens = 'tokens' in request ? [...tokenizer.encode(text), endOfTurn] : undefined;
      returned = performance.now();
      return {
        text,
        ...(tokens ? { tokens, logprobs: tokens.map(() => 0) } : {}),
        finishReason: 'stop',
        policyVersion: 0,
      };
    },
  };
}

/** Median loop time (µs) before each turn 1 … turns − 1, over `SWEEP_EPISODES` episodes. */
async function sweep(turns: number, exact: boolean): Promise<{ gaps: number[]; tokens: number }> {
  const gaps: number[][] = [];
  let tokens = 0;
  // One per sweep, as a run keeps one: layouts are learned once, and nothing else repeats.
  const renderCache = new RenderCache();
  for (let e = 0; e < SWEEP_EPISODES; e++) {
    const client = await EnvironmentClient.connect({ kind: 'direct', environment: sweepEnv });
    const t = await playEpisode({
      client,
      policy: sweepPolicy(turns, exact, e, gaps),
      start: { taskId: sweepTask, seed: e },
      sampling: { maxTokens: 512 },
      template,
      renderCache,
      maxContextTokens: 1 << 20,
    });
    await client.close();
    if (t.status === 'failed' || t.turns.length !== turns)
      throw new Error(
        `sweep episode ended early: ${t.status} ${JSON.stringify(t.failure)} after ${t.turns.length} turns`,
      );
    tokens = t.tokens.length;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! * 1000;
  return { gaps: gaps.slice(1).map(median), tokens };
}

await sweep(10, true);
const sweepRows: string[][] = [];
const us = (x: number | undefined) => (x === undefined ? '' : x.toFixed(0));
for (const turns of [2, 10, 50]) {
  const text = await sweep(turns, false);
  const exact = await sweep(turns, true);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // gaps[i] is the time before turn i + 1 (0-based turn index i + 1); turn 2 is index 0.
  const last = exact.gaps.at(-1)!;
  sweepRows.push([
    String(turns),
    String(exact.tokens),
    us(mean(text.gaps)),
    us(mean(exact.gaps)),
    us(exact.gaps[0]),
    us(exact.gaps[9 - 1]),
    us(turns >= 50 ? exact.gaps[49 - 1] : undefined),
    `${(last / exact.gaps[0]!).toFixed(2)}×`,
  ]);
}
const sweepHeader = [
  'turns',
  'tokens at end',
  'text µs/turn',
  'exact µs/turn',
  'exact turn 2',
  'turn 10',
  'turn 50',
  'last ÷ turn 2',
];
printTable(
  `\nturn-length sweep: loop time between one generate call and the next (median over ${SWEEP_EPISODES} episodes, concurrency 1, direct session)`,
  sweepHeader,
  sweepRows,
);
process.stdout.write('target: the 50th turn costs at most 1.2× the 2nd\n');

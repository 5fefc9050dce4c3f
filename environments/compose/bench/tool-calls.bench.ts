/**
 * `pnpm bench tool-calls`: what one cheap tool call costs in each place a tool can run, measured in
 * one run on compose's `reverse` ("hello"), wall time and process CPU (every thread, so a tool
 * worker's share counts; CPU moves less than wall time on a shared machine):
 *  - the function itself, without the kit: the floor;
 *  - pure, in a tool worker (compose's tools): a shared-memory round trip to a thread that can be
 *    stopped;
 *  - on the event loop under the sync budget (a tool not declared pure): V8's termination
 *    watchdog armed for the call.
 * Each kit row runs Episode.callTool (validation, the call log) on fresh episodes (20 calls each,
 * under maxToolCalls), so it includes what the kit adds to every call wherever the tool runs.
 */
import { defineEnvironment, Environment, type Episode } from '@toolgym/env-kit';
import compose, { STRING_FUNCTIONS } from '../src/index.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const ROUNDS = 5;

/** compose with its tools not declared pure: they run on the event loop under the sync budget. */
const onEventLoop = defineEnvironment({
  ...compose,
  id: 'compose-unisolated',
  module: undefined,
  tools: Object.fromEntries(Object.entries(compose.tools).map(([name, tool]) => [name, { ...tool, pure: false }])),
});

async function kitCalls(env: Environment, n: number): Promise<void> {
  let episode: Episode | undefined;
  for (let i = 0; i < n; i++) {
    if (i % 20 === 0) {
      await episode?.close();
      episode = await env.openEpisode({ split: 'train', seed: i });
    }
    const result = await episode!.callTool('reverse', { text: 'hello' });
    if (result.isError) throw new Error(result.content);
  }
  await episode?.close();
}

async function plainCalls(n: number): Promise<void> {
  let sink = 0;
  for (let i = 0; i < n; i++) sink += (await Promise.resolve(STRING_FUNCTIONS.reverse.apply('hello'))).length;
  if (sink !== 5 * n) throw new Error('unexpected output');
}

const rows: Array<[string, () => Promise<void>]> = [
  ['the function itself, without the kit', () => plainCalls(CALLS)],
  ['pure, in a tool worker', () => kitCalls(new Environment(compose, compose.parseConfig({})), CALLS)],
  ['on the event loop, sync budget', () => kitCalls(new Environment(onEventLoop, onEventLoop.parseConfig({})), CALLS)],
];
const measured = new Map<string, { wall: number[]; cpu: number[] }>(rows.map(([label]) => [label, { wall: [], cpu: [] }]));
for (const [, work] of rows) await work(); // warm-up: JIT, worker start
for (let round = 0; round < ROUNDS; round++) {
  for (const [label, work] of rows) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await work();
    const cpu = process.cpuUsage(c0);
    measured.get(label)!.wall.push(((performance.now() - t0) * 1000) / CALLS);
    measured.get(label)!.cpu.push((cpu.user + cpu.system) / CALLS);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`one call of reverse("hello"), ${CALLS} calls per row, median of ${ROUNDS} interleaved rounds`);
console.log(`${'placement'.padEnd(40)}  wall µs/call  cpu µs/call`);
for (const [label, { wall, cpu }] of measured)
  console.log(`${label.padEnd(40)}  ${median(wall).toFixed(1).padStart(12)}  ${median(cpu).toFixed(1).padStart(11)}`);
process.exit(0);

/**
 * `pnpm bench replay`: trajectories/s ingested into the store, and feed messages/s to 1 and to 50
 * clients against a bare `ws` broadcast of the same messages, measured in the same run: replaying
 * from the store, and live while a writer thread (`StoreWriter`, as `toolgym train` uses) commits
 * whole groups, or each turn of running episodes as it happens and then the groups.
 *
 *   pnpm bench replay [--groups 150] [--clients 1,50]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import WebSocket, { WebSocketServer } from 'ws';
import { serveReplay } from '../src/replay-server.ts';
import { eventJson } from '../src/feed-events.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreWriter } from '../src/store-writer.ts';
import { makeGroup, turnsOf } from '../test/generate.ts';

const { values } = parseArgs({
  options: { groups: { type: 'string', default: '150' }, clients: { type: 'string', default: '1,50' } },
});
const GROUPS = Number(values.groups);
const GROUP_SIZE = 8;
const CLIENT_COUNTS = values.clients!.split(',').map(Number);
const dir = mkdtempSync(path.join(tmpdir(), 'replay-bench-'));

// Realistic trajectories: 8 per group, 1–4 turns of ~200 sampled tokens, tool observations.
const groups = Array.from({ length: GROUPS }, (_, i) =>
  makeGroup({
    runId: 'bench',
    step: Math.floor(i / 8),
    taskIndex: i % 8,
    groupSize: GROUP_SIZE,
    tokensPerTurn: 200,
  }),
);
const trajectories = GROUPS * GROUP_SIZE;
const meanTokens =
  groups.flatMap((g) => g.trajectories).reduce((a, t) => a + t.tokens.length, 0) / trajectories;

const loadAtStart = loadavg();
const rows: string[][] = [];
const row = (...cells: Array<string | number>) => rows.push(cells.map(String));

// 1. Ingest.
function ingest(durability: 'full' | 'normal'): { perSecond: number; bytes: number } {
  const file = path.join(dir, `ingest-${durability}.db`);
  const store = TrajectoryStore.open(file, { durability });
  const t0 = performance.now();
  for (const g of groups) store.appendGroup(g);
  const seconds = (performance.now() - t0) / 1000;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  return { perSecond: trajectories / seconds, bytes: statSync(file).size };
}

/** Baseline: each trajectory as one JSON text row, one transaction per group, no validation, index or events. */
function ingestJsonBaseline(): { perSecond: number; bytes: number } {
  const file = path.join(dir, 'ingest-json.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, json TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
  const t0 = performance.now();
  for (const g of groups) {
    db.transaction(() => {
      for (const t of g.trajectories) insert.run(t.id, JSON.stringify(t));
    })();
  }
  const seconds = (performance.now() - t0) / 1000;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { perSecond: trajectories / seconds, bytes: statSync(file).size };
}

const full = ingest('full');
const normal = ingest('normal');
const json = ingestJsonBaseline();
const kb = (bytes: number) => (bytes / trajectories / 1024).toFixed(1);
row(
  'ingest, durability full (fsync per group)',
  `${full.perSecond.toFixed(0)} traj/s`,
  `${kb(full.bytes)} KiB/traj`,
  `${(full.perSecond / json.perSecond).toFixed(2)}× JSON-row baseline`,
);
row(
  'ingest, durability normal',
  `${normal.perSecond.toFixed(0)} traj/s`,
  `${kb(normal.bytes)} KiB/traj`,
  `${(normal.perSecond / json.perSecond).toFixed(2)}× JSON-row baseline`,
);
row(
  'baseline: JSON text row per trajectory',
  `${json.perSecond.toFixed(0)} traj/s`,
  `${kb(json.bytes)} KiB/traj`,
  '1.00×',
);

// 2. Feed throughput. Messages are the store's events (turns, trajectories, run status).
const store = TrajectoryStore.open(path.join(dir, 'ingest-normal.db'));
const events = store.eventsAfter(0, { limit: 1_000_000 });
const messages = events.map(eventJson);
const bytes = messages.reduce((a, m) => a + m.length, 0);

/**
 * CPU milliseconds each thread of this process has used, by thread id (Linux). On a shared machine
 * wall time measures the scheduler as much as the code; CPU time per thread says which thread a
 * row's work ran on and how much of it there was.
 */
function threadCpu(): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const [ranNs] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ');
    cpu.set(tid, Number(ranNs) / 1e6);
  }
  return cpu;
}
const mainThread = String(process.pid);
/** CPU ms used since `before`: by this (the main) thread, and by the threads started after `before`. */
function cpuSince(before: Map<string, number>): { main: number; newThreads: number } {
  let newThreads = 0;
  let main = 0;
  for (const [tid, ms] of threadCpu()) {
    if (tid === mainThread) main = ms - before.get(tid)!;
    else if (!before.has(tid)) newThreads += ms;
  }
  return { main, newThreads };
}

/** What follows `{"type":"` in an event frame. */
const EVENT_TYPES = new Set(['run', 'turn', 'trajectory', 'step-metrics', 'episode']);

/** Connect `n` clients, each counting frames; resolves when every client has `expected` frames. */
async function clients(url: string, n: number, subscribe: object | undefined, expected: number) {
  let remaining = n;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((resolve) => {
          const ws = new WebSocket(url);
          let count = 0;
          ws.on('message', (data: Buffer) => {
            // Count event frames only (the feed also sends hello / caught-up / end). Bare and feed
            // clients do the same work per frame: the baseline's frames are the same events.
            if (!EVENT_TYPES.has(data.toString('latin1', 9, data.indexOf(34, 9)))) return;
            if (++count === expected && --remaining === 0) resolveAll();
          });
          ws.on('open', () => {
            if (subscribe) ws.send(JSON.stringify(subscribe));
            resolve(ws);
          });
        }),
    ),
  );
  return { sockets, allDone };
}

async function bareBroadcast(n: number): Promise<{ perSecond: number; mainCpuMs: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const { sockets, allDone } = await clients(url, n, undefined, messages.length);
  while (wss.clients.size < n) await new Promise((resolve) => setTimeout(resolve, 5));
  const cpu0 = threadCpu();
  const t0 = performance.now();
  for (const m of messages) for (const ws of wss.clients) ws.send(m);
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  const { main } = cpuSince(cpu0);
  for (const ws of sockets) ws.terminate();
  wss.close();
  return { perSecond: (messages.length * n) / seconds, mainCpuMs: main };
}

async function feedReplay(n: number): Promise<{ perSecond: number; mainCpuMs: number }> {
  const server = await serveReplay({ store, viewer: false });
  const cpu0 = threadCpu();
  const t0 = performance.now();
  const { sockets, allDone } = await clients(
    server.feedUrl,
    n,
    { type: 'subscribe', mode: 'replay', speed: 0 },
    messages.length,
  );
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  const { main } = cpuSince(cpu0);
  for (const ws of sockets) ws.terminate();
  await server.close();
  return { perSecond: (messages.length * n) / seconds, mainCpuMs: main };
}

/**
 * Live: clients follow; a writer thread commits the run while they do. `turns`: each turn of every
 * episode is handed over as it happens (then the groups), as the rollout engine's sink does;
 * otherwise whole groups. Until every client has every event; with the time from handing a turn
 * over to a client receiving it.
 */
async function feedLive(
  n: number,
  turns: boolean,
): Promise<{
  perSecond: number;
  events: number;
  writerSeconds: number;
  seconds: number;
  latencyMs: number[];
  mainCpuMs: number;
  writerCpuMs: number;
}> {
  const file = path.join(dir, `live-${n}-${turns ? 'turns' : 'groups'}.db`);
  const reader = TrajectoryStore.open(file, { durability: 'normal' });
  reader.startRun('bench');
  const beforeWriter = threadCpu();
  const writer = await StoreWriter.open(file, { durability: 'normal' });
  const server = await serveReplay({ store: reader, writer, viewer: false });
  const streamed = turns ? groups.map((g) => g.trajectories.flatMap(turnsOf)) : [];
  // Every event but the run start, which is already there.
  const expected = events.length - 1;
  const handedOver = new Map<string, number>();
  const latencyMs: number[] = [];
  const { sockets, allDone } = await clients(
    server.feedUrl,
    n,
    { type: 'subscribe', after: reader.head() },
    expected,
  );
  // One client also times each turn from its handover to its arrival (read from the frame's text
  // without parsing it: the clients' work should stay what the bare baseline's is).
  sockets[0]!.on('message', (data: Buffer) => {
    if (data.toString('latin1', 9, 13) !== 'turn') return;
    const text = data.toString();
    const id = text.indexOf('"trajectoryId":"') + 16;
    const index = text.indexOf('"turn":{"index":') + 16;
    const key = `${text.slice(id, text.indexOf('"', id))} ${text.slice(index, text.indexOf(',', index))}`;
    const t0 = handedOver.get(key);
    if (t0 !== undefined) latencyMs.push(performance.now() - t0);
  });
  while (server.clientCount() < n) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const cpu0 = cpuSince(beforeWriter);
  const t0 = performance.now();
  const writes: Array<Promise<unknown>> = [];
  for (const [i, g] of groups.entries()) {
    for (const turn of streamed[i] ?? []) {
      handedOver.set(`${turn.trajectoryId} ${turn.turn.index}`, performance.now());
      writes.push(writer.appendTurn(turn));
    }
    writes.push(writer.appendGroup(g));
    // Episodes play between handovers: the trainer's thread yields to the server.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Delivery and durability finish apart: clients are sent each event as it is emitted, the
  // writer thread commits behind them.
  let seconds = 0;
  let writerSeconds = 0;
  await Promise.all([
    allDone.then(() => {
      seconds = (performance.now() - t0) / 1000;
    }),
    Promise.all(writes).then(() => {
      writerSeconds = (performance.now() - t0) / 1000;
    }),
  ]);
  const cpu1 = cpuSince(beforeWriter);
  for (const ws of sockets) ws.terminate();
  await server.close();
  await writer.close();
  reader.close();
  return {
    mainCpuMs: cpu1.main - cpu0.main,
    writerCpuMs: cpu1.newThreads - cpu0.newThreads,
    perSecond: (expected * n) / seconds,
    events: expected,
    writerSeconds,
    seconds,
    latencyMs: latencyMs.sort((a, b) => a - b),
  };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
// One untimed pass of each path first, so no row pays the first compilation of its code.
await bareBroadcast(1);
await feedReplay(1);
for (const n of CLIENT_COUNTS) {
  const bare = await bareBroadcast(n);
  const replayed = await feedReplay(n);
  const liveGroups = await feedLive(n, false);
  const liveTurns = await feedLive(n, true);
  const fmt = (v: number) => `${Math.round(v).toLocaleString('en')} msg/s`;
  /**
   * Two figures per row. Wall: messages/s against bare ws in this run (the scheduler of a shared
   * machine included). CPU: bare's main-thread CPU over the row's main-thread CPU, the thread that
   * delivers (the server, the clients and the handover): what the ratio is when the writer thread,
   * which commits beside it and no longer holds delivery up, has a core of its own. The writer's
   * CPU is shown beside it, with the time until all was committed.
   */
  const ratios = (r: { perSecond: number; mainCpuMs: number }) =>
    `${(r.perSecond / bare.perSecond).toFixed(2)}× wall, ${(bare.mainCpuMs / r.mainCpuMs).toFixed(2)}× cpu`;
  const cpu = (r: { mainCpuMs: number; writerCpuMs?: number }) =>
    `cpu: main thread ${r.mainCpuMs.toFixed(0)} ms${r.writerCpuMs === undefined ? '' : `, writer thread ${r.writerCpuMs.toFixed(0)} ms`}`;
  row(`baseline: bare ws broadcast, ${n} client(s)`, fmt(bare.perSecond), cpu(bare), '1.00×');
  row(
    `feed replay (speed 0, from store), ${n} client(s)`,
    fmt(replayed.perSecond),
    cpu(replayed),
    ratios(replayed),
  );
  // Live delivery does not wait for the writer: all delivered, and all committed, each timed.
  row(
    `feed live, writer thread commits groups, ${n} client(s)`,
    fmt(liveGroups.perSecond),
    `${cpu(liveGroups)}; all delivered ${liveGroups.seconds.toFixed(2)} s, all committed ${liveGroups.writerSeconds.toFixed(2)} s`,
    ratios(liveGroups),
  );
  row(
    `feed live, per turn as episodes run, ${n} client(s)`,
    fmt(liveTurns.perSecond),
    `${cpu(liveTurns)}; all delivered ${liveTurns.seconds.toFixed(2)} s, all committed ${liveTurns.writerSeconds.toFixed(2)} s; turn handed over → at a client p50 ${quantile(liveTurns.latencyMs, 0.5).toFixed(1)} ms, p99 ${quantile(liveTurns.latencyMs, 0.99).toFixed(1)} ms`,
    ratios(liveTurns),
  );
}
store.close();
rmSync(dir, { recursive: true, force: true });

const header = ['measure', 'rate', 'detail', 'ratio'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
process.stdout.write(
  `load average (1, 5, 15 min) at start ${load(loadAtStart)}, at end ${load(loadavg())}, on ${availableParallelism()} cores\n`,
);
process.stdout.write(
  `replay bench: ${GROUPS} groups × ${GROUP_SIZE} = ${trajectories} trajectories, ${meanTokens.toFixed(0)} tokens each on average; ` +
    `${messages.length} feed messages, ${(bytes / messages.length / 1024).toFixed(2)} KiB each on average\n\n`,
);
process.stdout.write(
  `${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`,
);

/**
 * `pnpm bench replay`: trajectories/s ingested into the store, and feed messages/s to 1 and to 50
 * clients against a bare `ws` broadcast of the same messages, measured in the same run: replaying
 * from the store, and live while a writer thread (`StoreWriter`, as `toolgym train` uses) commits
 * whole groups, or each turn of running episodes as it happens and then the groups. The live rows
 * are also given against a bare broadcast that hands the same writes to a `StoreWriter` (the store
 * a trainer pays whether a feed serves it or not): what the feed itself costs.
 *
 * The replay rows (replay and its bare baseline) are repeated within a round until each round has
 * sent `--replay-window` messages in all (a one-client replay of 150 groups alone is about 20 ms of
 * CPU, counted in 4 ms ticks); every repetition is a fresh server, so none reads another's pages.
 * `--rows replay` or `--rows live` runs only those rows.
 *
 *   pnpm bench replay [--groups 150] [--clients 1,50] [--rounds 3] [--replay-window 16000] [--rows replay,live]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { trajectoryJson } from '@toolgym/protocol';
import Database from 'better-sqlite3';
import WebSocket, { WebSocketServer } from 'ws';
import { serveReplay } from '../src/replay-server.ts';
import { eventJson, summarise } from '../src/feed-events.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreWriter } from '../src/store-writer.ts';
import { makeGroup, turnsOf } from '../test/generate.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '150' },
    clients: { type: 'string', default: '1,50' },
    rounds: { type: 'string', default: '3' },
    'replay-window': { type: 'string', default: '16000' },
    rows: { type: 'string', default: 'replay,live' },
  },
});
const ROUNDS = Number(values.rounds);
const GROUPS = Number(values.groups);
const GROUP_SIZE = 8;
const CLIENT_COUNTS = values.clients!.split(',').map(Number);
const REPLAY_WINDOW = Number(values['replay-window']);
const ROWS = new Set(values.rows!.split(','));
for (const name of ROWS)
  if (name !== 'replay' && name !== 'live')
    throw new Error(`--rows takes replay and/or live, got '${name}'.`);
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
/** Each group's turns as a rollout engine streams them while its episodes run. */
const streamedTurns = groups.map((g) => g.trajectories.flatMap(turnsOf));
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
      for (const t of g.trajectories) insert.run(t.id, JSON.stringify(trajectoryJson(t)));
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

/** When the first client received each turn frame, by its seq (read from the frame's head). */
type Arrivals = Map<number, number>;

/**
 * Connect `n` clients, each counting event frames; resolves when every client has `expected` of
 * them. Every row's clients do the same work per frame (the first also notes when each turn frame
 * arrived, by its seq, read from the frame's head without decoding the rest).
 */
async function clients(url: string, n: number, subscribe: object | undefined, expected: number) {
  let remaining = n;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const arrivals: Arrivals = new Map();
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<WebSocket>((resolve) => {
          const ws = new WebSocket(url);
          let count = 0;
          ws.on('message', (data: Buffer) => {
            // Count event frames only (the feed also sends hello / caught-up / committed / end).
            const type = data.toString('latin1', 9, data.indexOf(34, 9));
            if (!EVENT_TYPES.has(type)) return;
            if (i === 0 && type === 'turn') arrivals.set(seqOf(data), performance.now());
            if (++count === expected && --remaining === 0) resolveAll();
          });
          ws.on('open', () => {
            if (subscribe) ws.send(JSON.stringify(subscribe));
            resolve(ws);
          });
        }),
    ),
  );
  return { sockets, allDone, arrivals };
}

/** The `"seq":` of a frame, parsed from its bytes. */
function seqOf(frame: Buffer): number {
  let i = frame.indexOf('"seq":', 9) + 6;
  let seq = 0;
  for (let c = frame[i]!; c >= 48 && c <= 57; c = frame[++i]!) seq = seq * 10 + c - 48;
  return seq;
}

interface Result {
  perSecond: number;
  mainCpuMs: number;
  writerCpuMs?: number;
  /** Until every client had every event. */
  seconds?: number;
  /** Until the writer had committed everything. */
  writerSeconds?: number;
  /** From a turn's handover to the first client, sorted. */
  latencyMs?: number[];
}

/**
 * Serve `n` bare `ws` clients; `send` broadcasts in the timed window. With a `writer`, `send` also
 * hands every write to it, and the main thread's CPU is counted until it has committed them all
 * (`committed`), as in the live feed rows; the wall time is until the clients had every message.
 */
async function bare(
  n: number,
  expected: number,
  send: (broadcast: (message: string) => void) => Promise<Map<number, number> | undefined>,
  writer?: { beforeWriter: Map<string, number>; committed: () => Promise<unknown> },
): Promise<Result> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const { sockets, allDone, arrivals } = await clients(url, n, undefined, expected);
  while (wss.clients.size < n) await new Promise((resolve) => setTimeout(resolve, 5));
  // CPU of the main thread, and of the writer's thread (started after `beforeWriter`).
  const before = writer?.beforeWriter ?? threadCpu();
  const cpu0 = cpuSince(before);
  const t0 = performance.now();
  const handedOver = await send((m) => {
    for (const ws of wss.clients) ws.send(m);
  });
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  let writerSeconds: number | undefined;
  if (writer) {
    await writer.committed();
    writerSeconds = (performance.now() - t0) / 1000;
  }
  const cpu1 = cpuSince(before);
  for (const ws of sockets) ws.terminate();
  wss.close();
  return {
    perSecond: (expected * n) / seconds,
    mainCpuMs: cpu1.main - cpu0.main,
    seconds,
    ...(writer ? { writerCpuMs: cpu1.newThreads - cpu0.newThreads, writerSeconds } : {}),
    ...(handedOver ? { latencyMs: latencies(arrivals, handedOver) } : {}),
  };
}

/**
 * How many times a replay row runs within a round: until its clients were sent `REPLAY_WINDOW`
 * messages in all.
 */
const replayRepeats = (n: number) => Math.max(1, Math.ceil(REPLAY_WINDOW / (messages.length * n)));

/**
 * `run` done `replayRepeats(n)` times, as one window: its rate over all of them, its CPU and wall
 * time the mean of one (what the live rows, which send the run once, are given against).
 */
async function repeated(n: number, run: () => Promise<Result>): Promise<Result> {
  const repeats = replayRepeats(n);
  let seconds = 0;
  let mainCpuMs = 0;
  for (let i = 0; i < repeats; i++) {
    const result = await run();
    seconds += result.seconds!;
    mainCpuMs += result.mainCpuMs;
  }
  return {
    perSecond: (messages.length * n * repeats) / seconds,
    mainCpuMs: mainCpuMs / repeats,
    seconds: seconds / repeats,
  };
}

/** Bare `ws`, the stored messages as strings already serialised (the replay baseline). */
const bareBroadcast = (n: number) =>
  repeated(n, () =>
    bare(n, messages.length, async (broadcast) => {
      for (const m of messages) broadcast(m);
      return undefined;
    }),
  );

/**
 * Bare `ws` broadcasting live: the same events handed over at the same moments as the live rows
 * (each turn as it happens when `turns`, then each group), each message serialised from the objects
 * when it happens (`JSON.stringify`, as an app without the feed would) and sent to every client.
 * The same messages, byte for byte, as the feed sends live; no store. `withStore`: the same writes
 * also handed to a `StoreWriter` thread at the same moments, as a trainer that stores its run pays
 * whether a feed serves it or not (what the feed itself costs is the live row against this one).
 */
async function bareLive(n: number, turns: boolean, withStore = false): Promise<Result> {
  const writes: Array<Promise<unknown>> = [];
  const beforeWriter = threadCpu();
  const writer = withStore
    ? await StoreWriter.open(path.join(dir, `bare-${n}-${turns ? 'turns' : 'groups'}-${++liveRuns}.db`), {
        durability: 'normal',
      })
    : undefined;
  // As in the live feed rows, the writer learns its run before the timed window.
  await writer?.startRun('bench');
  const result = await bare(
    n,
    messages.length - 1,
    async (broadcast) => {
      const handedOver = new Map<number, number>();
      let seq = 1;
      const runId = 'bench';
      for (const [i, g] of groups.entries()) {
        for (const turn of turns ? streamedTurns[i]! : []) {
          handedOver.set(++seq, performance.now());
          if (writer) writes.push(writer.appendTurn(turn));
          const { step, trajectoryId, groupId, envId, taskId } = turn;
          broadcast(
            JSON.stringify({
              type: 'turn',
              pending: true,
              seq,
              runId,
              at: Date.now(),
              step,
              trajectoryId,
              groupId,
              envId,
              taskId,
              turn: turn.turn,
            }),
          );
        }
        for (const t of g.trajectories) {
          const summary = summarise(t, runId, g);
          if (!turns)
            for (const turn of t.turns) {
              const { step, groupId, envId, taskId } = summary;
              broadcast(
                JSON.stringify({
                  type: 'turn',
                  pending: true,
                  seq: ++seq,
                  runId,
                  at: Date.now(),
                  step,
                  trajectoryId: t.id,
                  groupId,
                  envId,
                  taskId,
                  turn,
                }),
              );
            }
          broadcast(
            JSON.stringify({ type: 'trajectory', pending: true, seq: ++seq, runId, at: Date.now(), summary }),
          );
        }
        if (writer) writes.push(writer.appendGroup(g));
        await new Promise((resolve) => setImmediate(resolve));
      }
      return turns ? handedOver : undefined;
    },
    writer ? { beforeWriter, committed: () => Promise.all(writes) } : undefined,
  );
  await writer?.close();
  return result;
}

/** Per turn, from its handover to its arrival at the first client, sorted. */
function latencies(arrivals: Arrivals, handedOver: Map<number, number>): number[] {
  const out: number[] = [];
  for (const [seq, at] of arrivals) {
    const t0 = handedOver.get(seq);
    if (t0 !== undefined) out.push(at - t0);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Replay from the store: the clients are connected before the timed window, as the bare baseline's
 * are, and the window starts with their subscriptions (which start the replays). A fresh server
 * each time: none reads pages another replay left in the server's cache.
 */
const feedReplay = (n: number) => repeated(n, () => feedReplayOnce(n));

async function feedReplayOnce(n: number): Promise<Result> {
  const server = await serveReplay({ store, viewer: false });
  const { sockets, allDone } = await clients(server.feedUrl, n, undefined, messages.length);
  const subscribe = JSON.stringify({ type: 'subscribe', mode: 'replay', speed: 0 });
  const cpu0 = threadCpu();
  const t0 = performance.now();
  for (const ws of sockets) ws.send(subscribe);
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  const { main } = cpuSince(cpu0);
  for (const ws of sockets) ws.terminate();
  await server.close();
  return { perSecond: (messages.length * n) / seconds, mainCpuMs: main, seconds };
}

/**
 * Live: clients follow; a writer thread commits the run while they do. `turns`: each turn of every
 * episode is handed over as it happens (then the groups), as the rollout engine's sink does;
 * otherwise whole groups. Until every client has every event; with the time from handing a turn
 * over to a client receiving it.
 */
async function feedLive(n: number, turns: boolean): Promise<Result> {
  const file = path.join(dir, `live-${n}-${turns ? 'turns' : 'groups'}-${++liveRuns}.db`);
  const reader = TrajectoryStore.open(file, { durability: 'normal' });
  reader.startRun('bench');
  const beforeWriter = threadCpu();
  const writer = await StoreWriter.open(file, { durability: 'normal' });
  // As a training run's sink does when it opens: the writer learns the run's seqs before its first
  // event (else the timed window would hold that round trip to the thread).
  await writer.startRun('bench');
  const server = await serveReplay({ store: reader, writer, viewer: false });
  // Every event but the run start, which is already there.
  const expected = events.length - 1;
  const handedOver = new Map<string, number>();
  const { sockets, allDone, arrivals } = await clients(
    server.feedUrl,
    n,
    { type: 'subscribe', after: reader.head() },
    expected,
  );
  while (server.clientCount() < n) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const cpu0 = cpuSince(beforeWriter);
  const t0 = performance.now();
  const writes: Array<Promise<unknown>> = [];
  for (const [i, g] of groups.entries()) {
    for (const turn of turns ? streamedTurns[i]! : []) {
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
  // Which turn each seq was (read after the timed window, so the clients only parse the seq).
  const bySeq = new Map<number, number>();
  for (const e of reader.eventsAfter(0, { limit: 1_000_000 })) {
    if (e.type !== 'turn' || e.seq === null) continue;
    const { trajectoryId, turn } = JSON.parse(e.payload) as { trajectoryId: string; turn: { index: number } };
    const t = handedOver.get(`${trajectoryId} ${turn.index}`);
    if (t !== undefined) bySeq.set(e.seq, t);
  }
  reader.close();
  return {
    mainCpuMs: cpu1.main - cpu0.main,
    writerCpuMs: cpu1.newThreads - cpu0.newThreads,
    perSecond: (expected * n) / seconds,
    writerSeconds,
    seconds,
    latencyMs: latencies(arrivals, bySeq),
  };
}
let liveRuns = 0;

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
};
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

// One untimed pass of each path first, so no row pays the first compilation of its code.
await bareBroadcast(1);
if (ROWS.has('replay')) await feedReplay(1);
if (ROWS.has('live')) {
  await bareLive(1, true);
  await bareLive(1, true, true);
  await feedLive(1, true);
}
type Row =
  | 'bare'
  | 'bareLiveGroups'
  | 'bareLiveTurns'
  | 'bareStoreGroups'
  | 'bareStoreTurns'
  | 'replay'
  | 'liveGroups'
  | 'liveTurns';
for (const n of CLIENT_COUNTS) {
  // Candidates and baselines alternate in rounds; each ratio is taken within its round.
  const runs: Record<Row, Result[]> = {
    bare: [],
    bareLiveGroups: [],
    bareLiveTurns: [],
    bareStoreGroups: [],
    bareStoreTurns: [],
    replay: [],
    liveGroups: [],
    liveTurns: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    // The stored-message broadcast is also what the live rows are given against.
    runs.bare.push(await bareBroadcast(n));
    if (ROWS.has('replay')) runs.replay.push(await feedReplay(n));
    if (!ROWS.has('live')) continue;
    runs.bareLiveGroups.push(await bareLive(n, false));
    runs.bareStoreGroups.push(await bareLive(n, false, true));
    runs.liveGroups.push(await feedLive(n, false));
    runs.bareLiveTurns.push(await bareLive(n, true));
    runs.bareStoreTurns.push(await bareLive(n, true, true));
    runs.liveTurns.push(await feedLive(n, true));
  }
  const med = (row: Row, f: (r: Result) => number) => median(runs[row].map(f));
  const fmt = (row: Row) => `${Math.round(med(row, (r) => r.perSecond)).toLocaleString('en')} msg/s`;
  const cpu = (row: Row) => {
    const writer = med(row, (r) => r.writerCpuMs ?? Number.NaN);
    return `cpu: main thread ${med(row, (r) => r.mainCpuMs).toFixed(0)} ms${Number.isNaN(writer) ? '' : `, writer thread ${writer.toFixed(0)} ms`}`;
  };
  /**
   * Two figures against a baseline, each the median over rounds of the ratio within a round (and
   * its range). Wall: messages/s (the scheduler of a shared machine included). CPU: the baseline's
   * main-thread CPU over the row's, the thread that delivers (server, clients, handover); the
   * writer thread commits beside it and no longer holds delivery up.
   */
  const ratios = (row: Row, base: Row) => {
    const wall = runs[row].map((r, i) => r.perSecond / runs[base][i]!.perSecond);
    const cpuRatio = runs[row].map((r, i) => runs[base][i]!.mainCpuMs / r.mainCpuMs);
    return `${median(wall).toFixed(2)}× wall (${spread(wall)}), ${median(cpuRatio).toFixed(2)}× cpu (${spread(cpuRatio)})`;
  };
  const timing = (row: Row) =>
    `all delivered ${med(row, (r) => r.seconds!).toFixed(2)} s` +
    (runs[row][0]!.writerSeconds === undefined
      ? ''
      : `, all committed ${med(row, (r) => r.writerSeconds!).toFixed(2)} s`);
  const latency = (row: Row) =>
    `; turn handed over → first client p50 ${med(row, (r) => quantile(r.latencyMs!, 0.5)).toFixed(1)} ms, p99 ${med(row, (r) => quantile(r.latencyMs!, 0.99)).toFixed(1)} ms`;
  row(
    `baseline: bare ws broadcast of the stored messages, ${n} client(s) (${replayRepeats(n)}× a round, cpu of one)`,
    fmt('bare'),
    cpu('bare'),
    '1.00×',
  );
  if (ROWS.has('replay'))
    row(
      `feed replay (speed 0, from store), ${n} client(s) (${replayRepeats(n)}× a round, cpu of one)`,
      fmt('replay'),
      cpu('replay'),
      ratios('replay', 'bare'),
    );
  if (!ROWS.has('live')) continue;
  row(
    `baseline: bare ws broadcast live, serialising each group's events, ${n} client(s)`,
    fmt('bareLiveGroups'),
    `${cpu('bareLiveGroups')}; ${timing('bareLiveGroups')}`,
    `${ratios('bareLiveGroups', 'bare')} of the stored-message broadcast`,
  );
  row(
    `feed live, writer thread commits groups, ${n} client(s)`,
    fmt('liveGroups'),
    `${cpu('liveGroups')}; ${timing('liveGroups')}`,
    `${ratios('liveGroups', 'bareLiveGroups')}; against stored messages ${ratios('liveGroups', 'bare')}`,
  );
  row(
    `baseline: bare ws broadcast live + the same writes to a StoreWriter thread (groups), ${n} client(s)`,
    fmt('bareStoreGroups'),
    `${cpu('bareStoreGroups')}; ${timing('bareStoreGroups')}`,
    `${ratios('bareStoreGroups', 'bareLiveGroups')} of the bare live broadcast`,
  );
  row(
    `feed live, groups, against bare ws + the same StoreWriter (the feed's own cost), ${n} client(s)`,
    fmt('liveGroups'),
    cpu('liveGroups'),
    ratios('liveGroups', 'bareStoreGroups'),
  );
  row(
    `baseline: bare ws broadcast live, serialising each turn as it happens, ${n} client(s)`,
    fmt('bareLiveTurns'),
    `${cpu('bareLiveTurns')}; ${timing('bareLiveTurns')}${latency('bareLiveTurns')}`,
    `${ratios('bareLiveTurns', 'bare')} of the stored-message broadcast`,
  );
  row(
    `feed live, per turn as episodes run, ${n} client(s)`,
    fmt('liveTurns'),
    `${cpu('liveTurns')}; ${timing('liveTurns')}${latency('liveTurns')}`,
    `${ratios('liveTurns', 'bareLiveTurns')}; against stored messages ${ratios('liveTurns', 'bare')}`,
  );
  row(
    `baseline: bare ws broadcast live + the same writes to a StoreWriter thread (per turn), ${n} client(s)`,
    fmt('bareStoreTurns'),
    `${cpu('bareStoreTurns')}; ${timing('bareStoreTurns')}${latency('bareStoreTurns')}`,
    `${ratios('bareStoreTurns', 'bareLiveTurns')} of the bare live broadcast`,
  );
  row(
    `feed live, per turn, against bare ws + the same StoreWriter (the feed's own cost), ${n} client(s)`,
    fmt('liveTurns'),
    cpu('liveTurns'),
    ratios('liveTurns', 'bareStoreTurns'),
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
  `replay bench: ${ROUNDS} rounds, figures the median of the rounds (ratios within each round, their range in brackets); ${GROUPS} groups × ${GROUP_SIZE} = ${trajectories} trajectories, ${meanTokens.toFixed(0)} tokens each on average; ` +
    `${messages.length} feed messages, ${(bytes / messages.length / 1024).toFixed(2)} KiB each on average\n\n`,
);
process.stdout.write(
  `${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`,
);

/**
 * `pnpm bench feed-stages`: what one feed event costs, stage by stage, in CPU time of the thread
 * that does it (per event, over the replay bench's run). Live: build the events of a group in
 * memory, copy the group to the writer thread, encode a frame, send it; the writer thread then
 * validates and commits. Replay: read a page of the log (whole rows, or frames only), encode, send. CPU time, not wall time:
 * on a shared machine the scheduler would be measured too.
 *
 *   pnpm bench feed-stages [--groups 150]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { TrajectoryGroupSchema } from '@toolgym/protocol';
import WebSocket, { WebSocketServer } from 'ws';
import { eventJson, groupEvents, turnEvent } from '../src/feed-events.ts';
import { packGroup, packTurn, SentPieces, type Spans } from '../src/handover.ts';
import { NumberRing } from '../src/number-ring.ts';
import { TrajectoryStore } from '../src/store.ts';
import { makeGroup, turnsOf } from '../test/generate.ts';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '150' } } });
const groups = Array.from({ length: Number(values.groups) }, (_, i) =>
  makeGroup({ runId: 'bench', step: Math.floor(i / 8), taskIndex: i % 8, groupSize: 8, tokensPerTurn: 200 }),
);
const dir = mkdtempSync(path.join(tmpdir(), 'feed-stages-'));

/** CPU ms this thread has used (Linux: the main thread's schedstat). */
const threadCpuMs = () =>
  Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
async function cpu(fn: () => unknown): Promise<number> {
  const t0 = threadCpuMs();
  await fn();
  return threadCpuMs() - t0;
}

const groupsBuilt = groups.map((g) => groupEvents(g, 'bench', () => new Set()));
const built = groupsBuilt.map((b) => b.events);
/** Each group's trajectories' turns as JSON, made with its events: they cross as that text. */
const turnsJsonOf = groupsBuilt.map((b) => b.records.map((r) => r.turnsJson));
const events = built.flat().map((e, i) => ({ ...e, runId: 'bench', seq: i + 1 }));
const n = events.length;
const rows: Array<[string, string, number]> = [];
const turns = groups.flatMap((g) => g.trajectories.flatMap(turnsOf));
/** A stage's CPU per event: per group event, or per turn for the turn stages. */
const stage = (thread: string, name: string, ms: number, per = n) =>
  rows.push([thread, name, (ms * 1000) / per]);

// Live, on the thread that hands events over.
stage(
  'main',
  'build the events of each group (JSON of turns and summaries)',
  await cpu(() => {
    for (const g of groups) groupEvents(g, 'bench', () => new Set());
  }),
);
const { port1, port2 } = new MessageChannel();
port2.on('message', () => {});
stage(
  'main',
  'copy each group to the writer thread as JS arrays (postMessage)',
  await cpu(() => {
    for (const g of groups) port1.postMessage([{ id: 0, op: 'appendGroup', args: [g, {}] }]);
  }),
);
/** A ring with no room: every array crosses packed in the message, as when the ring is full. */
const full = () => NumberRing.create(0);
const ring = () => NumberRing.create(64 * 1024 * 1024);
for (const [how, make] of [
  ['token arrays packed as Float64Arrays (the ring full)', full],
  ['token arrays into the shared ring (what StoreWriter sends)', ring],
] as const) {
  const r = make();
  stage(
    'main',
    `the same, turns as the JSON made with the events, ${how}`,
    await cpu(() => {
      for (const [i, g] of groups.entries()) {
        const spans: Spans = [];
        const turnsJson = turnsJsonOf[i]!;
        port1.postMessage({
          requests: [
            { id: 0, op: 'appendGroup', args: [packGroup(g, r, spans, turnsJson), {}], spans, turnsJson },
          ],
        });
      }
    }),
  );
}
stage(
  'main',
  'per turn: build its event (JSON of the turn)',
  await cpu(() => {
    for (const t of turns) turnEvent(t, JSON.stringify(t.turn), 0);
  }),
  turns.length,
);
/** Each turn's JSON, made with its event: its `turn` crosses as that text. */
const turnJsons = turns.map((t) => JSON.stringify(t.turn));
for (const [how, make] of [
  ['token arrays packed (the ring full)', full],
  ['token arrays into the ring (what StoreWriter sends)', ring],
] as const) {
  const r = make();
  const sent = new SentPieces();
  stage(
    'main',
    `per turn: copy it to the writer thread, its turn as the JSON made with its event, ${how}; messages, pieces not sent before`,
    await cpu(() => {
      for (const [i, t] of turns.entries()) {
        const spans: Spans = [];
        const turnJson = turnJsons[i]!;
        const packed = packTurn(t, 'bench', sent, r, spans, turnJson);
        port1.postMessage({
          requests: [{ id: 0, op: 'appendTurns', args: [[packed], {}], spans, turnJson: [turnJson] }],
        });
      }
    }),
    turns.length,
  );
}
port1.close();
const frames = await (async () => {
  let out: Buffer[] = [];
  stage(
    'main',
    'encode each frame once (eventJson, UTF-8)',
    await cpu(() => {
      out = events.map((e) => Buffer.from(eventJson(e)));
    }),
  );
  return out;
})();

// One client, sockets on this thread as in the replay bench: server send and client receive.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise((resolve) => wss.once('listening', resolve));
const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
const server = await new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
await new Promise((resolve) => client.once('open', resolve));
/**
 * CPU of `send` until the client has every message, after three untimed passes: the code of `ws`'s
 * send and receive is compiled in tiers, and a first pass cost about three times a warm one (what
 * made the bare send, the first row to run it, look two and a half times the corked send).
 */
async function sendAll(send: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) await sendAllOnce(send);
  return sendAllOnce(send);
}
async function sendAllOnce(send: () => void): Promise<number> {
  let received = 0;
  const done = new Promise<void>((resolve) => {
    client.on('message', () => {
      if (++received === n) resolve();
    });
  });
  const ms = await cpu(async () => {
    send();
    await done;
  });
  client.removeAllListeners('message');
  return ms;
}
const strings = frames.map((f) => f.toString());
stage(
  'main',
  'bare ws: send each message string, one client receives it',
  await sendAll(() => {
    for (const s of strings) server.send(s);
  }),
);
stage(
  'main',
  'feed: send each encoded frame, one client receives it',
  await sendAll(() => {
    for (const f of frames) server.send(f, { binary: false });
  }),
);
const socket = (server as unknown as { _socket: import('node:net').Socket })._socket;
stage(
  'main',
  'feed: the same, frames of a batch in one write (corked)',
  await sendAll(() => {
    socket.cork();
    for (const f of frames) server.send(f, { binary: false });
    socket.uncork();
  }),
);
// Not the feed's design: the delivering thread copies each group to a thread that builds and
// encodes its frames and hands them back as one buffer, which this thread writes to the socket.
const framer = new Worker(new URL('./frames-thread.worker.js', import.meta.url));
const framerCpu = () =>
  new Promise<number>((resolve) => {
    framer.once('message', ({ cpuMs }: { cpuMs: number }) => resolve(cpuMs));
    framer.postMessage('cpu');
  });
// Once untimed, so neither thread pays the first compilation of its code.
for (const timed of [false, true]) {
  const framerCpu0 = await framerCpu();
  framer.on('message', (bytes: ArrayBuffer) => socket.write(Buffer.from(bytes)));
  const ms = await sendAllOnce(() => {
    for (const g of groups) framer.postMessage([g]);
  });
  framer.removeAllListeners('message');
  if (!timed) continue;
  stage(
    'main',
    'a thread builds and encodes the frames: copy each group to it (structured clone), write the bytes it hands back, one client receives them',
    ms,
  );
  stage('framer', 'the same: build the events and frames of each group', (await framerCpu()) - framerCpu0);
}
await framer.terminate();
client.terminate();
wss.close();

// The writer thread's share (run here on this thread to time it alone).
stage(
  'writer',
  'validate each group (TrajectoryGroupSchema)',
  await cpu(() => {
    for (const g of groups) TrajectoryGroupSchema.parse(g);
  }),
);
const store = TrajectoryStore.open(path.join(dir, 'store.db'), { durability: 'normal' });
stage(
  'writer',
  'commit each group (validate, rows, text index, events; durability normal)',
  await cpu(() => {
    store.batch(() => {
      for (const g of groups) store.appendGroup(g);
    });
  }),
);
const streaming = TrajectoryStore.open(path.join(dir, 'turns.db'), { durability: 'normal' });
stage(
  'writer',
  'per turn: record it (validate, live rows, pieces, event; durability normal)',
  await cpu(() => {
    streaming.batch(() => {
      for (const t of turns) streaming.appendTurns([t]);
    });
  }),
  turns.length,
);
streaming.close();

// Replay, on the server's thread.
stage(
  'main',
  'replay: read the log a page (256 events) at a time',
  await cpu(() => {
    for (let after = 0; ; ) {
      const page = store.eventsAfter(after, { limit: 256 });
      if (page.length === 0) break;
      after = page.at(-1)!.cursor;
    }
  }),
);
stage(
  'main',
  "replay: read the log's frames a page (256 events) at a time, end to end (a replay that filters nothing)",
  await cpu(() => {
    for (let after = 0; ; ) {
      const page = store.framesAfter(after, { limit: 256 })!;
      if (page.count === 0) break;
      after = page.lastCursor;
    }
  }),
);
store.close();
rmSync(dir, { recursive: true, force: true });

process.stdout.write(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${groups.length} groups, ${n} events; CPU µs per event\n\n`,
);
for (const [thread, name, us] of rows)
  process.stdout.write(`${thread.padEnd(7)} ${us.toFixed(1).padStart(7)} µs  ${name}\n`);

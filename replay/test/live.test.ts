import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type EpisodeTurn,
  FEED_CLOSE_CODES,
  type FeedEventMessage,
  type FeedServerMessage,
  FeedServerMessageSchema,
  type Trajectory,
  type TrajectoryGroup,
} from '@toolgym/protocol';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FeedClient } from '../src/feed-client.ts';
import { eventJson, eventToMessage, type StoredEvent } from '../src/feed-events.ts';
import { serveReplay } from '../src/replay-server.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreWriter } from '../src/store-writer.ts';
import { makeGroup, pieceOf, turnsOf } from './generate.ts';

let dir: string;
let store: TrajectoryStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'replay-live-'));
  store = TrajectoryStore.open(path.join(dir, 'store.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The partial record of `t` after its first `n` turns were streamed. */
function expectPartialOf(t: Trajectory, n: number) {
  const partial = store.getPartialTrajectory(t.id);
  const end = n === t.turns.length ? t.tokens.length : t.turns[n - 1]!.observation.end;
  expect(partial.turnList).toEqual(t.turns.slice(0, n));
  expect(partial.tokens).toEqual(Array.from(t.tokens.subarray(0, end)));
  expect(partial.lossMask).toEqual(Array.from(t.lossMask.subarray(0, end)));
  expect(partial.logprobs).toEqual(Array.from(t.logprobs.subarray(0, end)));
  expect(partial.policyLogprobs).toEqual(Array.from(t.policyLogprobs!.subarray(0, end)));
  expect(partial.pieces).toEqual(partial.tokens.map(pieceOf));
  return partial;
}

describe('turns of running episodes', () => {
  it('are logged as each arrives, shown as a partial trajectory, and logged once when the group commits', () => {
    const group = makeGroup({ runId: 'r', step: 0, taskIndex: 0, groupSize: 3 });
    const [a, b] = group.trajectories as [Trajectory, Trajectory];
    const turnsA = turnsOf(a);
    const turnsB = turnsOf(b);
    expect(turnsA.length).toBeGreaterThan(1);
    store.appendTurns([turnsA[0]!]);
    expect(store.liveEpisodes({ runId: 'r' })).toMatchObject([
      { trajectoryId: a.id, status: 'running', turns: 1 },
    ]);
    expectPartialOf(a, 1);
    const head = store.head();
    expect(store.eventsAfter(head - 1).map(eventToMessage)).toMatchObject([
      { type: 'turn', trajectoryId: a.id, turn: { index: 0 } },
    ]);
    store.appendTurns([...turnsA.slice(1), ...turnsB]);
    expectPartialOf(a, a.turns.length);
    // Sent again (a writer retrying): recorded once.
    store.appendTurns(turnsA);
    const streamed = store.eventsAfter(0).filter((e) => e.type === 'turn');
    expect(streamed).toHaveLength(a.turns.length + b.turns.length);

    store.appendGroup(group);
    expect(store.liveEpisodes()).toEqual([]);
    expect(() => store.getPartialTrajectory(a.id)).toThrow(/No running or unfinished episode/);
    const events = store.eventsAfter(0).map(eventToMessage);
    // Every turn of the group once: a and b as streamed, the third from the commit.
    for (const t of group.trajectories) {
      const turns = events.filter((e) => e.type === 'turn' && e.trajectoryId === t.id);
      expect(turns.map((e) => (e.type === 'turn' ? e.turn.index : -1))).toEqual(t.turns.map((x) => x.index));
      const end = events.findIndex((e) => e.type === 'trajectory' && e.summary.id === t.id);
      expect(end).toBeGreaterThan(events.findLastIndex((e) => e.type === 'turn' && e.trajectoryId === t.id));
    }
    // A turn arriving after its group committed is passed over.
    const before = store.head();
    store.appendTurns([turnsA.at(-1)!]);
    expect(store.head()).toBe(before);
    // The committed trajectory keeps both logprobs, and its pieces are those the turns carried.
    expect(store.getTrajectory(a.id).policyLogprobs).toEqual(a.policyLogprobs);
    expect(store.tokenPieces('r', a.tokens)).toEqual(Array.from(a.tokens, pieceOf));
  });

  it('refuses a malformed turn with the field to fix, and writes none of its batch', () => {
    const group = makeGroup({ runId: 'r', step: 0, taskIndex: 0, groupSize: 1 });
    const [good, ...rest] = turnsOf(group.trajectories[0]!);
    const bad = structuredClone(rest[0] ?? good!);
    (bad.tokens as { ids: unknown }).ids = ['seven'];
    const head = store.head();
    expect(() => store.appendTurns([good!, bad])).toThrow(/invalid at tokens\.ids\.0/);
    expect(store.head()).toBe(head);
    const noRun = structuredClone(good!);
    delete noRun.runId;
    expect(() => store.appendTurns([noRun])).toThrow(/has no runId/);
  });

  it('an episode whose writer is gone is unfinished: marked, logged as an episode event, still readable', () => {
    const group = makeGroup({ runId: 'r', step: 0, taskIndex: 0, groupSize: 1 });
    const t = group.trajectories[0]!;
    store.appendTurns(turnsOf(t).slice(0, 1));
    // This process still runs: nothing to mark.
    expect(store.markUnfinished()).toBe(0);
    // As written by a process that has exited.
    store.db
      .prepare("UPDATE live_episodes SET writer = ? || ':2147483646'")
      .run(
        (store.db.prepare('SELECT writer FROM live_episodes').get() as { writer: string }).writer.split(
          ':',
        )[0],
      );
    expect(store.liveEpisodes()[0]!.status).toBe('unfinished');
    expect(store.markUnfinished()).toBe(1);
    expect(store.markUnfinished()).toBe(0);
    const last = eventToMessage(store.eventsAfter(store.head() - 1)[0]!);
    expect(last).toMatchObject({ type: 'episode', trajectoryId: t.id, status: 'unfinished', turns: 1 });
    expect(last.type === 'episode' && last.reason).toMatch(
      /stopped before the episode's group was committed/,
    );
    expectPartialOf(t, 1);
  });

  it('eventJson is eventToMessage serialised, for every event type', () => {
    const group = makeGroup({ runId: 'r "quoted"', step: 0, taskIndex: 0, groupSize: 2 });
    store.appendTurns(turnsOf(group.trajectories[0]!).slice(0, 1));
    store.appendGroup(group);
    store.appendStepMetrics('r "quoted"', 0, { loss: 0.5 });
    store.setRunStatus('r "quoted"', 'finished');
    store.appendTurns(
      turnsOf(makeGroup({ runId: 'r', step: 1, taskIndex: 0, groupSize: 1 }).trajectories[0]!).slice(0, 1),
    );
    store.db.prepare("UPDATE live_episodes SET writer = 'gone:1'").run();
    store.db
      .prepare("UPDATE live_episodes SET writer = ? || ':2147483646'")
      .run((store.db.prepare("SELECT 'x' AS h").get() as { h: string }).h);
    store.markUnfinished({ runId: 'r', reason: 'stopped' });
    const events = store.eventsAfter(0);
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['run', 'turn', 'trajectory', 'step-metrics', 'episode']),
    );
    for (const e of events) {
      const json = JSON.parse(eventJson(e));
      // The frame stored with the event is that JSON, byte for byte: a replay sends it as read.
      expect(e.frame?.toString()).toBe(eventJson(e));
      expect(json).toEqual(JSON.parse(JSON.stringify(eventToMessage(e))));
      expect(FeedServerMessageSchema.safeParse(json).success).toBe(true);
    }
  });
});

describe('policy logprobs', () => {
  it('a store written before the column existed gains it on open; its old rows read without it', () => {
    const file = path.join(dir, 'old.db');
    const old = makeGroup({ runId: 'r', step: 0, taskIndex: 0, groupSize: 2 });
    const writer = TrajectoryStore.open(file);
    writer.appendGroup(old);
    writer.close();
    // The file as an older version left it: no policy_logprobs column, no live tables.
    const raw = new Database(file);
    raw.exec(
      'ALTER TABLE trajectories DROP COLUMN policy_logprobs; ALTER TABLE trajectories DROP COLUMN branches_json; ' +
        'ALTER TABLE trajectories DROP COLUMN branched_from_json; DROP TABLE live_turns; DROP TABLE live_episodes;',
    );
    raw.close();
    const reader = TrajectoryStore.open(file, { readonly: true });
    expect(reader.getTrajectory(old.trajectories[0]!.id).policyLogprobs).toBeUndefined();
    reader.close();
    const reopened = TrajectoryStore.open(file);
    try {
      expect(reopened.getTrajectory(old.trajectories[0]!.id).policyLogprobs).toBeUndefined();
      const fresh = makeGroup({ runId: 'r', step: 1, taskIndex: 0, groupSize: 2 });
      reopened.appendGroup(fresh);
      const back = reopened.getTrajectory(fresh.trajectories[1]!.id);
      expect(back.policyLogprobs).toEqual(fresh.trajectories[1]!.policyLogprobs);
      expect(back.logprobs).toEqual(fresh.trajectories[1]!.logprobs);
      expect(back.policyLogprobs).not.toEqual(back.logprobs);
    } finally {
      reopened.close();
    }
  });
});

describe('branched trajectories', () => {
  it('keep their earlier sequences and where they branched from', () => {
    const group = makeGroup({ runId: 'r', step: 0, taskIndex: 0, groupSize: 2 });
    const [t, child] = group.trajectories as [Trajectory, Trajectory];
    t.branches = [
      {
        tokens: t.tokens.slice(0, 10),
        lossMask: t.lossMask.slice(0, 10),
        logprobs: t.logprobs.slice(0, 10),
        policyLogprobs: t.policyLogprobs!.slice(0, 10),
        promptLength: 5,
      },
    ];
    t.turns[0]!.branch = 0;
    child.branchedFrom = { trajectoryId: t.id, turn: 1 };
    store.appendGroup(group);
    expect(store.getGroup(group.id)).toEqual(group);
  });
});

describe('StoreWriter (a worker thread)', () => {
  it('acknowledges a write once it is committed, commits what arrives together, and refuses one write without losing the others', async () => {
    const writer = await StoreWriter.open(store.path);
    const seen: StoredEvent[] = [];
    writer.onCommit((events) => seen.push(...events));
    try {
      const groups = Array.from({ length: 6 }, (_, i) => makeGroup({ runId: 'w', step: i, taskIndex: 0 }));
      await writer.appendGroup(groups[0]!);
      // Acknowledged = committed: another connection reads it at once.
      expect(store.getGroup(groups[0]!.id)).toEqual(groups[0]);
      const turns = turnsOf(groups[5]!.trajectories[0]!);
      const bad = structuredClone(turns[0]!);
      bad.trajectoryId = 'bad';
      bad.turn.index = -1;
      const results = await Promise.allSettled([
        ...groups.slice(1, 5).map((g) => writer.appendGroup(g)),
        writer.appendGroup(groups[0]!),
        // A refused turn in a streak of turns: the others still commit.
        writer.appendTurn(turns[0]!),
        writer.appendTurn(bad),
        ...turns.slice(1).map((turn) => writer.appendTurn(turn)),
      ]);
      expect(results.slice(0, 4).every((r) => r.status === 'fulfilled')).toBe(true);
      expect(results[4]).toMatchObject({ status: 'rejected', reason: { code: 'duplicate_id' } });
      expect(results[6]).toMatchObject({ status: 'rejected', reason: { code: 'invalid_trajectory' } });
      expect([results[5], ...results.slice(7)].every((r) => r!.status === 'fulfilled')).toBe(true);
      expect(() => store.getPartialTrajectory('bad')).toThrow(/No running or unfinished episode/);
      for (const g of groups.slice(1, 5)) expect(store.getGroup(g.id).trajectories).toHaveLength(4);
      expect(store.getPartialTrajectory(groups[5]!.trajectories[0]!.id).turns).toBe(turns.length);
      // Listeners heard every committed event, once, in order, from memory exactly as stored (a
      // trajectory event with its whole trajectory too); the refused writes' events were dropped.
      expect(seen.map(({ trajectory: _, ...e }) => e)).toEqual(
        store.eventsAfter(0, { limit: 10_000 }).map(({ frame: _, ...e }) => e),
      );
      await expect(writer.appendTurn(bad)).rejects.toMatchObject({ code: 'invalid_trajectory' });
    } finally {
      await writer.close();
    }
    await expect(writer.appendGroup(makeGroup({ runId: 'w', step: 9, taskIndex: 0 }))).rejects.toMatchObject({
      code: 'store_writer_closed',
    });
  });

  it('reserves more seqs ahead of the writes queued before it, so emission never waits for their commit', async () => {
    const writer = await StoreWriter.open(store.path, { durability: 'normal', seqBlock: 64 });
    let emitted = 0;
    let committed = 0;
    let ahead = 0;
    writer.onEmit((events) => {
      emitted += events.length;
      ahead = Math.max(ahead, emitted - committed);
    });
    writer.onCommit((events) => {
      committed += events.filter((e) => e.type === 'step-metrics').length;
    });
    try {
      await Promise.all(
        Array.from({ length: 400 }, (_, step) => writer.appendStepMetrics('seqs', step, { loss: step })),
      );
    } finally {
      await writer.close();
    }
    // Once the first block was half used, the next was reserved before the writes already handed
    // over were committed: more than a block went out before the first commit came back.
    expect(ahead).toBeGreaterThan(64);
    const logged = store
      .eventsAfter(0, { runId: 'seqs', limit: 1000 })
      .filter((e) => e.type === 'step-metrics');
    expect(logged.map((e) => (JSON.parse(e.payload) as { step: number }).step)).toEqual([
      ...Array(400).keys(),
    ]);
    const seqs = logged.map((e) => e.seq!);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(400);
  });

  it("sends each token's piece once per run; a turn refused after its pieces went over loses none", async () => {
    const writer = await StoreWriter.open(store.path, { durability: 'normal' });
    const t = makeGroup({ runId: 'p', step: 0, taskIndex: 0 }).trajectories[0]!;
    const turns = turnsOf(t);
    const refused = structuredClone(turns[0]!);
    refused.trajectoryId = 'refused';
    refused.turn.index = -1;
    try {
      await expect(writer.appendTurn(refused)).rejects.toMatchObject({ code: 'invalid_trajectory' });
      // The same ids again: their pieces crossed with the refused turn, and the store still gets them.
      for (const turn of turns) await writer.appendTurn(turn);
      expectPartialOf(t, turns.length);
      const bad = structuredClone(turns[0]!);
      bad.trajectoryId = 'bad-piece';
      (bad.tokens.pieces as unknown[])[2] = 7;
      await expect(writer.appendTurn(bad)).rejects.toMatchObject({
        code: 'invalid_trajectory',
        message: expect.stringContaining('tokens.pieces.2'),
      });
    } finally {
      await writer.close();
    }
  });

  it('a ring too small for what is in flight: arrays that do not fit cross in the message, none is lost, reordered or written over', async () => {
    // 256 numbers: a trajectory's arrays alone are more; most batches find it partly full.
    const writer = await StoreWriter.open(store.path, { durability: 'normal', ringBytes: 2048 });
    const groups = Array.from({ length: 6 }, (_, i) =>
      makeGroup({ runId: 'ring', step: i, taskIndex: i % 2 }),
    );
    const writes: Array<Promise<unknown>> = [];
    try {
      for (const g of groups) {
        // Each group's turns, then the group, handed over in one turn of the event loop: several
        // batches are in flight, their arrays in the ring until the thread takes them.
        for (const turn of g.trajectories.flatMap(turnsOf)) writes.push(writer.appendTurn(turn));
        writes.push(writer.appendGroup(g));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
    } finally {
      await writer.close();
    }
    for (const g of groups) expect(store.getGroup(g.id)).toEqual(g);
    const turns = store.eventsAfter(0, { runId: 'ring', limit: 10_000 }).filter((e) => e.type === 'turn');
    expect(turns).toHaveLength(groups.flatMap((g) => g.trajectories.flatMap((t) => t.turns)).length);
  });

  it('token arrays handed over as typed arrays are stored as the same numbers: through the ring, when it is full, and as views of shared memory', async () => {
    // On memory shared with the thread (as a rollout engine recording into a SharedArrayBuffer
    // would hand them over), they cross as views of it.
    const shared = <T extends Int32Array | Uint8Array | Float64Array>(
      of: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
      values: ArrayLike<number>,
    ): T => {
      const view = new of(new SharedArrayBuffer(values.length * of.BYTES_PER_ELEMENT));
      view.set(values);
      return view;
    };
    for (const [runId, ringBytes, typed] of [
      ['typed-ring', 64 * 1024 * 1024, 'own'],
      ['typed-full', 8, 'own'],
      ['typed-shared', 64 * 1024 * 1024, 'shared'],
    ] as const) {
      const int32 = (v: ArrayLike<number>) =>
        typed === 'shared' ? shared(Int32Array, v) : Int32Array.from(v);
      const uint8 = (v: ArrayLike<number>) =>
        typed === 'shared' ? shared(Uint8Array, v) : Uint8Array.from(v);
      const float64 = (v: ArrayLike<number>) =>
        typed === 'shared' ? shared(Float64Array, v) : Float64Array.from(v);
      const writer = await StoreWriter.open(store.path, { durability: 'normal', ringBytes });
      const group = makeGroup({ runId, step: 0, taskIndex: 0, groupSize: 2 });
      const [streamed, whole] = group.trajectories as [Trajectory, Trajectory];
      const typedTurn = (turn: EpisodeTurn): EpisodeTurn =>
        ({
          ...turn,
          tokens: {
            ...turn.tokens,
            ids: int32(turn.tokens.ids),
            lossMask: uint8(turn.tokens.lossMask),
            logprobs: float64(turn.tokens.logprobs),
            policyLogprobs: float64(turn.tokens.policyLogprobs!),
          },
        }) as unknown as EpisodeTurn;
      const typedGroup = {
        ...group,
        trajectories: group.trajectories.map((t) => ({
          ...t,
          tokens: int32(t.tokens),
          lossMask: uint8(t.lossMask),
          logprobs: float64(t.logprobs),
          policyLogprobs: float64(t.policyLogprobs!),
        })),
      } as unknown as TrajectoryGroup;
      try {
        const turns = turnsOf(streamed);
        for (const turn of turns) await writer.appendTurn(typedTurn(turn));
        expectPartialOf(streamed, turns.length);
        await writer.appendGroup(typedGroup);
      } finally {
        await writer.close();
      }
      expect(store.getGroup(group.id)).toEqual(group);
      expect(store.getTrajectory(whole.id).logprobs).toEqual(whole.logprobs);
    }
  });

  it('a writer thread killed with writes in the ring: each is refused, none half-written, and a new writer commits them whole', async () => {
    const groups = Array.from({ length: 3 }, (_, i) => makeGroup({ runId: 'killed', step: i, taskIndex: 0 }));
    const writer = await StoreWriter.open(store.path, { durability: 'normal' });
    await writer.appendGroup(groups[0]!);
    const lost = groups.slice(1).map((g) => writer.appendGroup(g));
    // Their token arrays are in the ring; the thread is stopped before it takes them.
    await (writer as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
    for (const write of lost) await expect(write).rejects.toMatchObject({ code: 'store_writer_closed' });
    expect(store.queryTrajectories({ runId: 'killed' })).toHaveLength(groups[0]!.trajectories.length);
    expect(store.integrityCheck()).toBe('ok');
    const again = await StoreWriter.open(store.path, { durability: 'normal' });
    try {
      for (const g of groups.slice(1)) await again.appendGroup(g);
    } finally {
      await again.close();
    }
    for (const g of groups) expect(store.getGroup(g.id)).toEqual(g);
  });

  it('two writers on one store (runs of several seeds sharing it) both commit everything: a writer waits for the lock, never fails on it', async () => {
    const writers = await Promise.all([StoreWriter.open(store.path), StoreWriter.open(store.path)]);
    try {
      const groupsOf = (runId: string) =>
        Array.from({ length: 60 }, (_, i) => makeGroup({ runId, step: i, taskIndex: 0, groupSize: 2 }));
      const runs = [groupsOf('seed0'), groupsOf('seed1')];
      const results = await Promise.allSettled(
        runs.flatMap((groups, w) => groups.map((g) => writers[w]!.appendGroup(g, { runId: g.runId! }))),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      for (const g of runs.flat()) expect(store.getGroup(g.id).trajectories).toHaveLength(2);
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
  });

  it('a store it cannot open is a configuration error naming the path', async () => {
    // Its directory would have to be inside a regular file.
    const file = path.join(dir, 'store.db', 'nested.db');
    await expect(StoreWriter.open(file)).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining(file),
    });
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the live feed, pushed from the writer thread', () => {
  it('a client that joins mid-episode gets the stored prefix, then the live tail, every event once and in order', async () => {
    const writer = await StoreWriter.open(store.path, { durability: 'normal' });
    // No polling: what reaches a client after it caught up can only be the writer's commits, pushed.
    const server = await serveReplay({ store, writer, viewer: false, pollMs: 3_600_000 });
    const clients: Array<{ ws: WebSocket; frames: string[] }> = [];
    const join = () => {
      const ws = new WebSocket(server.feedUrl);
      const frames: string[] = [];
      ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', runId: 'join' })));
      ws.on('message', (data) => frames.push(String(data)));
      clients.push({ ws, frames });
    };
    const control = (frame: string) => /^{"type":"(hello|caught-up|committed)"/.test(frame);
    try {
      const groups = Array.from({ length: 12 }, (_, i) =>
        makeGroup({ runId: 'join', step: Math.floor(i / 4), taskIndex: i % 4, groupSize: 3 }),
      );
      const writes: Array<Promise<unknown>> = [];
      for (const [i, g] of groups.entries()) {
        const turns = g.trajectories.flatMap(turnsOf);
        turns.forEach((turn, k) => {
          writes.push(writer.appendTurn(turn));
          // Three clients join halfway through a group's episodes, its turns still in flight.
          if (i % 4 === 1 && k === Math.floor(turns.length / 2)) join();
        });
        await sleep(5);
        writes.push(writer.appendGroup(g));
        if (i % 2 === 0) await writes.at(-1);
      }
      await Promise.all(writes);
      const expected = store.eventsAfter(0, { runId: 'join', limit: 100_000 });
      const deadline = Date.now() + 20_000;
      while (clients.some((c) => c.frames.filter((f) => !control(f)).length < expected.length)) {
        if (Date.now() > deadline) throw new Error('clients did not receive every event');
        await sleep(10);
      }
      await sleep(100);
      expect(clients).toHaveLength(3);
      for (const { frames } of clients) {
        // Joined mid-run: a stored prefix before caught-up and a live tail after it, neither empty.
        const caughtUp = frames.findIndex((f) => f.startsWith('{"type":"caught-up"'));
        const { cursor } = JSON.parse(frames[caughtUp]!) as { cursor: number };
        expect(cursor).toBeGreaterThan(0);
        expect(cursor).toBeLessThan(expected.at(-1)!.cursor);
        expect(caughtUp).toBeLessThan(frames.length - 1);
        // Every event once, in order, what the store logged: the stored prefix byte for byte, the
        // live tail sent before its commit (pending, no cursor yet), the same event otherwise.
        const events = frames.filter((f) => !control(f));
        const prefix = events.findIndex((f) => f.includes('"pending":true'));
        expect(prefix).toBeGreaterThan(0);
        expect(events.slice(0, prefix)).toEqual(expected.slice(0, prefix).map(eventJson));
        const committed = (e: StoredEvent) => JSON.parse(eventJson(e));
        const uncommitted = (f: string) => {
          const { pending, ...message } = JSON.parse(f);
          expect(pending).toBe(true);
          return message;
        };
        expect(events.slice(prefix).map(uncommitted)).toEqual(
          expected.slice(prefix).map((e) => {
            const { cursor: _, ...message } = committed(e);
            return message;
          }),
        );
        // Then confirmed: the last `committed` names the last seq and the last cursor.
        const last = JSON.parse(frames.findLast((f) => f.startsWith('{"type":"committed"'))!);
        expect(last).toEqual({
          type: 'committed',
          cursor: expected.at(-1)!.cursor,
          seqs: { join: expected.at(-1)!.seq },
        });
      }
    } finally {
      for (const { ws } of clients) ws.terminate();
      await server.close();
      await writer.close();
    }
  });

  it('a write the store refuses after its events were sent is withdrawn: the client is told which, and they never become durable', async () => {
    await withLiveClient('refused', async ({ writer, messages }) => {
      const group = makeGroup({ runId: 'refused', step: 0, taskIndex: 0, groupSize: 2 });
      const turns = group.trajectories.flatMap(turnsOf);
      await Promise.all(turns.map((turn) => writer.appendTurn(turn)));
      await writer.appendGroup(group);
      // The same group again: its events go out before the thread finds the duplicate id.
      const again = writer.appendGroup(group);
      await expect(again).rejects.toMatchObject({ code: 'duplicate_id' });
      await until(() => messages.some((m) => m.type === 'write-failed'));
      const failed = messages.find((m) => m.type === 'write-failed');
      if (failed?.type !== 'write-failed') throw new Error('no write-failed message');
      expect(failed).toMatchObject({ runId: 'refused', code: 'duplicate_id' });
      // Exactly the events sent for the refused write: pending, numbered after everything stored.
      const stored = store.eventsAfter(0, { runId: 'refused' });
      const lastStored = stored.at(-1)!.seq!;
      const withdrawn = messages.filter(
        (m): m is FeedEventMessage => 'pending' in m && m.pending === true && m.seq! > lastStored,
      );
      expect(withdrawn.map((m) => m.seq)).toEqual(failed.seqs);
      expect(withdrawn.map((m) => m.type)).toEqual(expect.arrayContaining(['trajectory']));
      expect(withdrawn).toHaveLength(group.trajectories.length + turns.length);
      // No `committed` ever names them, and the log has none of them.
      const confirmed = messages.flatMap((m) => (m.type === 'committed' ? [m.seqs.refused!] : []));
      expect(Math.max(...confirmed)).toBe(lastStored);
      expect(stored.every((e) => !failed.seqs.includes(e.seq!))).toBe(true);
      // Every other event arrived once, in order, and was confirmed.
      const kept = messages.filter((m): m is FeedEventMessage => 'seq' in m && !failed.seqs.includes(m.seq!));
      expect(kept.map((m) => m.seq)).toEqual(stored.map((e) => e.seq));
    });
  });

  it('a group refused and then sent again is shown as the store logs it: its streamed turns once, the rest under the seqs it is stored with', async () => {
    await withLiveClient('again', async ({ writer, messages }) => {
      const group = makeGroup({ runId: 'again', step: 0, taskIndex: 0, groupSize: 3 });
      // Two of its three episodes stream their turns; the third's turns come with the group.
      await Promise.all(
        group.trajectories
          .slice(0, 2)
          .flatMap(turnsOf)
          .map((turn) => writer.appendTurn(turn)),
      );
      const broken = structuredClone(group);
      (broken.trajectories[2] as unknown as { seed: unknown }).seed = 'seven';
      await expect(writer.appendGroup(broken)).rejects.toMatchObject({ code: 'invalid_trajectory' });
      await writer.appendGroup(group);
      const stored = store.eventsAfter(0, { runId: 'again' });
      await until(() => messages.some((m) => m.type === 'committed' && m.seqs.again === stored.at(-1)!.seq));
      const withdrawn = messages.flatMap((m) => (m.type === 'write-failed' ? m.seqs : []));
      expect(withdrawn.length).toBeGreaterThan(0);
      const without = ({ cursor: _c, pending: _p, ...rest }: FeedEventMessage) => rest;
      const shown = messages.filter(
        (m): m is FeedEventMessage => 'seq' in m && m.seq !== undefined && !withdrawn.includes(m.seq),
      );
      expect(shown.map(without)).toEqual(stored.map((e) => without(eventToMessage(e))));
    });
  });

  it('a writer thread that stops before its commit: the client is told the events it was sent are not durable, and what was committed stays', async () => {
    await withLiveClient('stopped', async ({ writer, messages }) => {
      const [first, second] = turnsOf(
        makeGroup({ runId: 'stopped', step: 0, taskIndex: 0 }).trajectories[0]!,
      );
      await writer.appendTurn(first!);
      const lost = writer.appendTurn(second!);
      // The thread stops before the second turn reaches it; its event has gone out already.
      await (writer as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
      await expect(lost).rejects.toMatchObject({ code: 'store_writer_closed' });
      await until(() => messages.some((m) => m.type === 'write-failed'));
      const sent = messages.find(
        (m): m is FeedEventMessage =>
          m.type === 'turn' && m.pending === true && m.turn.index === second!.turn.index,
      );
      expect(messages.find((m) => m.type === 'write-failed')).toMatchObject({
        runId: 'stopped',
        seqs: [sent!.seq],
        code: 'store_writer_closed',
      });
      const stored = store.eventsAfter(0, { runId: 'stopped' }).filter((e) => e.type === 'turn');
      expect(stored.map((e) => eventToMessage(e)).map((m) => m.type === 'turn' && m.turn.index)).toEqual([
        first!.turn.index,
      ]);
      expect(store.getPartialTrajectory(first!.trajectoryId).turns).toBe(1);
    });
  });

  it('a client that reads nothing does not hold up the writer or other clients, and is cut off at its bound', async () => {
    const writer = await StoreWriter.open(store.path, { durability: 'normal' });
    const limit = 128 * 1024;
    const server = await serveReplay({
      store,
      writer,
      viewer: false,
      pollMs: 3_600_000,
      limits: { maxBufferedBytes: limit },
    });
    const stalled = new WebSocket(server.feedUrl);
    const stalledClosed = new Promise<number>((resolve) => stalled.on('close', (code) => resolve(code)));
    // Whole trajectories (token arrays included): the kernel's buffers fill after a few groups.
    stalled.on('open', () => stalled.send(JSON.stringify({ type: 'subscribe', runId: 'slow', full: true })));
    const received: FeedEventMessage[] = [];
    const reader = new FeedClient({
      url: server.feedUrl,
      subscribe: { runId: 'slow' },
      onEvent: (m) => received.push(m),
    });
    try {
      await until(() => server.clientCount() === 2);
      (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
      let maxBuffered = 0;
      for (let i = 0; i < 200 && server.clientCount() === 2; i++) {
        const group = makeGroup({ runId: 'slow', step: i, taskIndex: 0, tokensPerTurn: 400 });
        // Handed over without waiting for a commit; the turns reach clients before the group commits.
        for (const turn of group.trajectories.flatMap(turnsOf)) void writer.appendTurn(turn);
        void writer.appendGroup(group);
        await sleep(2);
        maxBuffered = Math.max(maxBuffered, ...server.clientBufferedBytes());
      }
      await until(() => server.clientCount() === 1, 15_000);
      // The bound was reached, and held: at most the bound plus the 64 KiB a batch may hold before
      // it is written and the message that crossed it.
      expect(maxBuffered).toBeGreaterThan(limit / 2);
      expect(maxBuffered).toBeLessThanOrEqual(limit + 64 * 1024 + 64 * 1024);
      (stalled as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await stalledClosed).toBe(FEED_CLOSE_CODES.slowConsumer);
      // The reading client got every event once, in order.
      const writes = await writer.close().then(() => store.eventsAfter(0, { runId: 'slow', limit: 100_000 }));
      await until(() => received.length === writes.length, 15_000);
      expect(received.map((m) => m.seq)).toEqual(writes.map((e) => e.seq));
    } finally {
      reader.close();
      stalled.terminate();
      await server.close();
      await writer.close();
    }
  });
});

/** A writer thread, a server following it and a live client of `runId` that records every message. */
async function withLiveClient(
  runId: string,
  test: (feed: { writer: StoreWriter; messages: FeedServerMessage[] }) => Promise<void>,
): Promise<void> {
  const writer = await StoreWriter.open(store.path, { durability: 'normal' });
  const server = await serveReplay({ store, writer, viewer: false, pollMs: 3_600_000 });
  const messages: FeedServerMessage[] = [];
  const client = new FeedClient({
    url: server.feedUrl,
    subscribe: { runId },
    onEvent: (m) => messages.push(m),
    onControl: (m) => messages.push(m),
  });
  try {
    await until(() => messages.some((m) => m.type === 'caught-up'));
    await test({ writer, messages });
  } finally {
    client.close();
    await server.close();
    await writer.close();
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

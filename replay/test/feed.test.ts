import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FEED_CLOSE_CODES,
  type FeedEventMessage,
  type FeedServerMessage,
  FeedServerMessageSchema,
  type TrajectoryGroup,
  trajectoryJson,
} from '@toolgym/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HttpConfigError, probeGuards } from '@toolgym/http';
import { FeedClient } from '../src/feed-client.ts';
import { type ReplayServer, serveReplay } from '../src/replay-server.ts';
import { eventToMessage } from '../src/feed-events.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreWriter } from '../src/store-writer.ts';
import { makeGroup, rng } from './generate.ts';

let dir: string;
let store: TrajectoryStore;
let server: ReplayServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'replay-feed-'));
  store = TrajectoryStore.open(path.join(dir, 'store.db'), { durability: 'normal' });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Open a raw socket, subscribe, and collect every server message until it closes. */
function rawSubscribe(url: string, subscribe: Record<string, unknown>, headers: Record<string, string> = {}) {
  const messages: FeedServerMessage[] = [];
  const ws = new WebSocket(url, { headers });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', ...subscribe })));
  ws.on('message', (data) => messages.push(FeedServerMessageSchema.parse(JSON.parse(String(data)))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return { ws, messages, closed };
}

/** The HTTP answer to a websocket upgrade the server refuses. */
function upgradeResponse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error(`the upgrade to ${url} was accepted`));
    });
    ws.on('error', () => {});
  });
}

const upgradeStatus = async (url: string, headers: Record<string, string> = {}) =>
  (await upgradeResponse(url, headers)).status;

async function until(condition: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('replay feed', () => {
  it('resumes across random disconnects with no gap and no duplicate over 1000+ messages', async () => {
    server = await serveReplay({ store, viewer: false });
    const received: FeedEventMessage[] = [];
    const client = new FeedClient({
      url: server.feedUrl,
      subscribe: { runId: 'r1' },
      onEvent: (m) => received.push(m),
      reconnectDelayMs: 5,
    });
    const random = rng(42);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 80; i++) {
        store.appendGroup(makeGroup({ runId: 'r1', step: Math.floor(i / 8), taskIndex: i % 8 }));
        if (i % 8 === 7) store.appendStepMetrics('r1', Math.floor(i / 8), { loss: 1 / (i + 1) });
        await sleep(random() * 8);
      }
      writing = false;
    })();
    // Drop the connection at random moments while the writer runs, and a few times after it.
    let drops = 0;
    while (writing || drops < 25) {
      await sleep(5 + random() * 40);
      client.dropConnection();
      drops++;
    }
    await writer;
    const expected = store.eventsAfter(0, { runId: 'r1', limit: 100_000 }).map(eventToMessage);
    expect(expected.length).toBeGreaterThanOrEqual(1000);
    await until(() => received.length >= expected.length, 20_000, 'all events');
    await sleep(200);
    client.close();
    expect(client.connections).toBeGreaterThan(20);
    expect(received.map((m) => m.cursor)).toEqual(expected.map((m) => m.cursor));
    expect(received).toEqual(expected);
  });

  it.each(['this process', 'a writer thread'])(
    'bounds a slow client of commits from %s: it is told where to resume, the writer and other clients never wait',
    async (source) => {
      const limit = 256 * 1024;
      const writer =
        source === 'a writer thread'
          ? await StoreWriter.open(store.path, { durability: 'normal' })
          : undefined;
      // No polling: every live event is pushed from memory.
      server = await serveReplay({
        store,
        writer,
        viewer: false,
        // A client cut off resumes and catches up: history is read ahead to the same bound.
        limits: { maxBufferedBytes: limit, readAheadBytes: limit },
        pollMs: 3_600_000,
      });
      store.startRun('r1');
      const slow = rawSubscribe(server.feedUrl, { runId: 'r1', full: true });
      const fast: FeedEventMessage[] = [];
      const fastClient = new FeedClient({
        url: server.feedUrl,
        subscribe: { runId: 'r1', full: true },
        onEvent: (m) => fast.push(m),
      });
      await until(() => slow.messages.some((m) => m.type === 'caught-up'), 5000, 'slow client live');
      await until(() => server!.clientCount() === 2, 5000, 'two sessions');
      // The slow client stops reading: its TCP window fills, then its buffer on the server grows.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      let maxBuffered = 0;
      let largestMessage = 0;
      // The writer never waits on a client: every append below returns while the slow client's socket
      // is paused (one that waited for it would hang here until the test's timeout).
      for (let i = 0; i < 400; i++) {
        const group = makeGroup({ runId: 'r1', step: i, taskIndex: 0, tokensPerTurn: 400 });
        largestMessage = Math.max(
          largestMessage,
          ...group.trajectories.map((t) => JSON.stringify(trajectoryJson(t)).length * 1.2),
        );
        if (writer) await writer.appendGroup(group);
        else store.appendGroup(group);
        await sleep(1);
        maxBuffered = Math.max(maxBuffered, ...server.clientBufferedBytes());
        if (server.clientCount() === 1 && i > 50) break;
      }
      await until(() => server!.clientCount() === 1, 15_000, 'the slow client to be cut off');
      // The bound was reached (the kernel buffers filled first), not merely never approached.
      expect(maxBuffered).toBeGreaterThan(limit / 2);
      // Bounded: at most the limit plus the one message that crossed it (a trajectory with its tokens),
      // for every session: the fast client too, should it fall behind on this busy thread and resume.
      expect(maxBuffered).toBeLessThanOrEqual(limit + largestMessage);
      // The fast client got everything.
      const all = store.eventsAfter(0, { runId: 'r1', limit: 100_000 });
      await until(() => fast.length === all.length, 15_000, 'the fast client to catch up');
      fastClient.close();
      // The slow client reads what was queued, then `overflow` with its resume cursor and close 4008.
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const { code } = await slow.closed;
      expect(code).toBe(FEED_CLOSE_CODES.slowConsumer);
      const overflow = slow.messages.find((m) => m.type === 'overflow');
      if (overflow?.type !== 'overflow') throw new Error('no overflow message');
      const isEvent = (m: FeedServerMessage): m is FeedEventMessage =>
        ['run', 'turn', 'trajectory', 'step-metrics'].includes(m.type);
      const before = slow.messages.filter(isEvent);
      // Every committed event it was sent is at or before its resume cursor; events sent before their
      // commit (from the writer thread) are named by their seq.
      const sentCursors = before.flatMap((m) => (m.cursor === undefined ? [] : [m.cursor]));
      if (sentCursors.length > 0) expect(Math.max(...sentCursors)).toBeLessThanOrEqual(overflow.resumeAfter);
      expect(before.some((m) => m.pending)).toBe(source === 'a writer thread');
      // Resuming from that cursor and seq completes the stream with no gap and no duplicate.
      const rest = rawSubscribe(server.feedUrl, {
        runId: 'r1',
        after: overflow.resumeAfter,
        seqs: { r1: before.at(-1)!.seq! },
      });
      await until(() => rest.messages.some((m) => m.type === 'caught-up'), 10_000, 'resume');
      rest.ws.close();
      const resumed = rest.messages.filter(isEvent);
      expect([...before, ...resumed].map((m) => m.seq)).toEqual(all.map((e) => e.seq));
      await writer?.close();
    },
  );

  it('replays a finished run at a chosen speed with the original turn timing', async () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0, groupSize: 1 });
    const t = group.trajectories[0]!;
    // Shape the timing: turns 400 ms apart.
    t.turns.splice(1);
    while (t.turns.length < 4) {
      const turn = { ...t.turns[0]!, index: t.turns.length };
      t.turns.push(turn);
    }
    const last = t.turns.at(-1)!;
    const tail = t.tokens.length;
    last.observation = { start: tail, end: tail };
    for (const turn of t.turns) {
      turn.generateMs = 300;
      turn.toolMs = 100;
    }
    t.timing = { startedAt: 1_700_000_000_000, ms: 1600, generateMs: 1200, toolMs: 400 };
    store.appendGroup(group);
    store.setRunStatus('r1', 'finished');
    server = await serveReplay({ store, viewer: false });
    const arrivals: Array<{ type: string; at: number }> = [];
    const replay = rawSubscribe(server.feedUrl, { runId: 'r1', mode: 'replay', speed: 2, maxGapMs: 1000 });
    replay.ws.on('message', (data) =>
      arrivals.push({ type: JSON.parse(String(data)).type, at: performance.now() }),
    );
    const { code } = await replay.closed;
    expect(code).toBe(FEED_CLOSE_CODES.replayEnded);
    const types = replay.messages.map((m) => m.type);
    expect(types).toEqual(['hello', 'run', 'turn', 'turn', 'turn', 'turn', 'trajectory', 'run', 'end']);
    const turnTimes = arrivals.filter((a) => a.type === 'turn').map((a) => a.at);
    const gaps = turnTimes.slice(1).map((at, i) => at - turnTimes[i]!);
    // 400 ms of recorded time at speed 2 is 200 ms.
    // Timers never fire early; a loaded CI machine may fire them late, so the upper bound is on the median.
    for (const gap of gaps) expect(gap).toBeGreaterThan(170);
    const median = [...gaps].sort((a, b) => a - b)[1]!;
    expect(median).toBeLessThan(300);
    // speed 0: as fast as possible, same messages.
    const fast = rawSubscribe(server.feedUrl, { runId: 'r1', mode: 'replay', speed: 0 });
    const t0 = performance.now();
    await fast.closed;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(fast.messages.map((m) => m.type)).toEqual(types);
  });

  it('sends frames of every length a websocket header encodes (7, 16 and 64 bits), replaying and live, byte for byte', async () => {
    // Step metrics of about 40 B, 3 KiB and 100 KiB: each length field of RFC 6455's frame header.
    const metricsOf = (keys: number) =>
      Object.fromEntries(Array.from({ length: keys }, (_, k) => [`metric/${k}`, k / 7]));
    const sizes = [0, 150, 5000];
    for (const [step, keys] of sizes.entries()) store.appendStepMetrics('sizes', step, metricsOf(keys));
    server = await serveReplay({ store, viewer: false });
    const events = () =>
      store
        .eventsAfter(0, { runId: 'sizes', limit: 100 })
        .filter((e) => e.type === 'step-metrics')
        .map((e) => JSON.parse(JSON.stringify(eventToMessage(e))));
    const replay = rawSubscribe(server.feedUrl, { runId: 'sizes', mode: 'replay', speed: 0 });
    expect((await replay.closed).code).toBe(FEED_CLOSE_CODES.replayEnded);
    expect(replay.messages.filter((m) => m.type === 'step-metrics')).toEqual(events());
    const lengths = store
      .eventsAfter(0, { runId: 'sizes', limit: 100 })
      .filter((e) => e.type === 'step-metrics')
      .map((e) => e.frame!.length);
    expect(lengths.some((n) => n < 126) && lengths.some((n) => n >= 126 && n < 65_536)).toBe(true);
    expect(lengths.some((n) => n >= 65_536)).toBe(true);
    // Live: a client following gets the same sizes as they commit, between control messages.
    const live = rawSubscribe(server.feedUrl, { runId: 'sizes' });
    await until(() => live.messages.some((m) => m.type === 'caught-up'), 5000, 'caught-up');
    for (const [i, keys] of sizes.entries())
      store.appendStepMetrics('sizes', sizes.length + i, metricsOf(keys));
    await until(
      () => live.messages.filter((m) => m.type === 'step-metrics').length === 2 * sizes.length,
      10_000,
      'every step-metrics message',
    );
    live.ws.close();
    expect(live.messages.filter((m) => m.type === 'step-metrics')).toEqual(events());
    expect(live.messages.map((m) => m.type).filter((t) => t !== 'step-metrics')).toEqual([
      'hello',
      'run',
      'caught-up',
    ]);
  });

  it('replays every stored event, its frame or, in rows logged before frames were, one built from its payload', async () => {
    for (let task = 0; task < 3; task++)
      store.appendGroup(makeGroup({ runId: 'r1', step: 0, taskIndex: task }));
    store.appendGroup(makeGroup({ runId: 'r2', step: 0, taskIndex: 0 }));
    const stored = store.eventsAfter(0, { runId: 'r1', limit: 1000 });
    expect(stored.length).toBeGreaterThan(24);
    // A stretch of rows without frames, inside the third page of 8.
    store.db
      .prepare('UPDATE events SET frame = NULL WHERE cursor BETWEEN ? AND ?')
      .run(stored[18]!.cursor, stored[20]!.cursor);
    server = await serveReplay({ store, viewer: false, limits: { pageSize: 8 } });
    const expected = (keep: (type: string) => boolean) =>
      stored.filter((e) => keep(e.type)).map((e) => JSON.parse(JSON.stringify(eventToMessage(e))));
    const isEvent = (m: FeedServerMessage) => ['run', 'turn', 'trajectory'].includes(m.type);
    // Unfiltered (each page read as frames only, that stretch's page as whole rows), and filtered.
    const all = rawSubscribe(server.feedUrl, { runId: 'r1', mode: 'replay', speed: 0 });
    expect((await all.closed).code).toBe(FEED_CLOSE_CODES.replayEnded);
    expect(all.messages.filter(isEvent)).toEqual(expected(() => true));
    const trajectories = rawSubscribe(server.feedUrl, {
      runId: 'r1',
      mode: 'replay',
      speed: 0,
      filter: { types: ['trajectory'] },
    });
    expect((await trajectories.closed).code).toBe(FEED_CLOSE_CODES.replayEnded);
    expect(trajectories.messages.filter(isEvent)).toEqual(expected((type) => type === 'trajectory'));
  });

  it('applies filters on the server and passes filtered cursors over', async () => {
    for (let task = 0; task < 4; task++)
      store.appendGroup(makeGroup({ runId: 'r1', step: 0, taskIndex: task }));
    server = await serveReplay({ store, viewer: false });
    const sub = rawSubscribe(server.feedUrl, {
      runId: 'r1',
      filter: { envId: 'sql@1', minReward: 0.5, types: ['trajectory'] },
    });
    await until(() => sub.messages.some((m) => m.type === 'caught-up'), 5000, 'caught-up');
    sub.ws.close();
    const trajectories = sub.messages.filter((m) => m.type === 'trajectory');
    const expected = store.queryTrajectories({ runId: 'r1', envId: 'sql@1', minReward: 0.5 });
    expect(trajectories.map((m) => m.type === 'trajectory' && m.summary.id).sort()).toEqual(
      expected.map((s) => s.id).sort(),
    );
    expect(sub.messages.every((m) => ['hello', 'trajectory', 'caught-up'].includes(m.type))).toBe(true);
    const caughtUp = sub.messages.at(-1);
    expect(caughtUp).toEqual({ type: 'caught-up', cursor: store.head() });
  });

  it('follows a store written by another connection (another process) by polling', async () => {
    server = await serveReplay({ storePath: store.path, viewer: false, pollMs: 20 });
    const received: FeedEventMessage[] = [];
    const client = new FeedClient({ url: server.feedUrl, subscribe: {}, onEvent: (m) => received.push(m) });
    await sleep(100);
    const group: TrajectoryGroup = makeGroup({ runId: 'other', step: 0, taskIndex: 1 });
    store.appendGroup(group);
    await until(
      () => received.filter((m) => m.type === 'trajectory').length === group.trajectories.length,
      5000,
      'poll',
    );
    client.close();
    expect(received[0]).toMatchObject({ type: 'run', runId: 'other', status: 'running' });
  });

  it('refuses bad subscriptions, and needs the bearer token when one is set or off loopback', async () => {
    await expect(serveReplay({ store, host: '0.0.0.0', viewer: false })).rejects.toThrow(HttpConfigError);
    const refused = await serveReplay({ store, host: '0.0.0.0', viewer: false }).catch(
      (error: HttpConfigError) => error,
    );
    expect((refused as HttpConfigError).render()).toMatch(/without a token[\s\S]*--token/);
    await expect(serveReplay({ store, port: 70_000, viewer: false })).rejects.toThrow(/not a port number/);
    expect(
      () => new FeedClient({ url: 'ws://127.0.0.1:1/feed', subscribe: { after: -1 }, onEvent: () => {} }),
    ).toThrow(/Bad feed subscription at after/);
    server = await serveReplay({ store, viewer: false, token: 's3cret' });
    const bad = rawSubscribe(server.feedUrl, { mode: 'fast-forward' }, { authorization: 'Bearer s3cret' });
    expect((await bad.closed).code).toBe(FEED_CLOSE_CODES.badSubscription);
    expect(bad.messages[0]).toMatchObject({ type: 'error', code: 'bad_subscription' });
    expect(bad.messages[0]!.type === 'error' && bad.messages[0]!.message).toMatch(/mode/);
    // Refused at the upgrade, before a socket exists; FeedClient gives up instead of retrying.
    expect(await upgradeStatus(server.feedUrl)).toBe(401);
    expect(await upgradeStatus(`${server.feedUrl}?token=nope`)).toBe(401);
    const client = new FeedClient({ url: server.feedUrl, subscribe: {}, onEvent: () => {} });
    await expect(client.done).rejects.toMatchObject({ code: 'unauthorized' });
    expect(client.connections).toBe(1);
    const good = rawSubscribe(`${server.feedUrl}?token=s3cret`, {});
    await until(() => good.messages.some((m) => m.type === 'caught-up'), 5000, 'caught-up');
    good.ws.close();
    expect((await fetch(`${server.url}api/runs`)).status).toBe(401);
    expect(
      (await fetch(`${server.url}api/runs`, { headers: { authorization: 'Bearer s3cret' } })).status,
    ).toBe(200);
  });

  it('refuses a page of another site, a rebinding Host, an oversized body and a missing token', async () => {
    server = await serveReplay({
      store,
      host: '0.0.0.0',
      viewer: false,
      token: 's3cret',
      maxBodyBytes: 1024,
    });
    const api = `http://127.0.0.1:${server.port}/api/runs`;
    expect(await probeGuards(api, { method: 'GET', token: 's3cret', maxBodyBytes: 1024 })).toEqual({
      badOrigin: { status: 403, code: 'origin_not_allowed' },
      badHost: { status: 403, code: 'host_not_allowed' },
      oversized: { status: 413, code: 'body_too_large' },
      noToken: { status: 401, code: 'unauthorized' },
    });
    // The feed's upgrade passes the same checks: a page of another site cannot open it …
    const feed = `ws://127.0.0.1:${server.port}/feed?token=s3cret`;
    expect(await upgradeStatus(feed, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(feed, { host: 'evil.example' })).toBe(403);
    // … and the viewer's own page can.
    const own = rawSubscribe(feed, {}, { origin: `http://127.0.0.1:${server.port}` });
    await until(() => own.messages.some((m) => m.type === 'caught-up'), 5000, 'caught-up');
    own.ws.close();
  });

  it('caps feed connections: one more is answered 503 with Retry-After, and gets in once one leaves', async () => {
    server = await serveReplay({ store, viewer: false, maxClients: 2 });
    const a = rawSubscribe(server.feedUrl, {});
    const b = rawSubscribe(server.feedUrl, {});
    await until(() => server!.clientCount() === 2, 5000, 'two clients');
    const refused = await upgradeResponse(server.feedUrl);
    expect(refused).toMatchObject({ status: 503, retryAfter: '5' });
    a.ws.close();
    await a.closed;
    const c = rawSubscribe(server.feedUrl, {});
    await until(() => c.messages.some((m) => m.type === 'caught-up'), 5000, 'caught-up');
    b.ws.close();
    c.ws.close();
  });

  it('serves the JSON API the viewer uses', async () => {
    for (let step = 0; step < 2; step++) store.appendGroup(makeGroup({ runId: 'r1', step, taskIndex: 0 }));
    store.appendStepMetrics('r1', 1, { loss: 0.25 });
    server = await serveReplay({ store, viewer: false });
    const get = async (p: string) => {
      const res = await fetch(new URL(p, server!.url));
      return { status: res.status, body: await res.json() };
    };
    expect((await get('api/runs')).body).toMatchObject([{ id: 'r1', trajectories: 8, steps: 2 }]);
    expect((await get('api/runs/r1/curves')).body[1]).toMatchObject({ step: 1, metrics: { loss: 0.25 } });
    const list = (await get('api/trajectories?runId=r1&step=1&limit=2')).body;
    expect(list).toHaveLength(2);
    const full = (await get(`api/trajectories/${encodeURIComponent(list[0].id)}`)).body;
    // The API's JSON holds the trajectory's typed arrays as arrays of numbers.
    expect(full).toEqual(trajectoryJson(store.getTrajectory(list[0].id)));
    expect((await get(`api/groups/${list[0].groupId}`)).body.trajectories).toHaveLength(4);
    expect(await get('api/trajectories/nope')).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: "No trajectory 'nope' in the store." } },
    });
    expect((await get('api/trajectories?minReward=abc')).status).toBe(400);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrajectorySchema } from '@toolgym/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuplicateIdError, InvalidTrajectoryError, NotFoundError, ReplayConfigError } from '../src/errors.ts';
import { eventToMessage } from '../src/feed-events.ts';
import { TrajectoryStore } from '../src/store.ts';
import { StoreSink } from '../src/store-sink.ts';
import { makeGroup } from './generate.ts';

let dir: string;
let store: TrajectoryStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'replay-store-'));
  store = TrajectoryStore.open(path.join(dir, 'store.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TrajectoryStore', () => {
  it('round-trips a group exactly, token arrays stored as typed-array blobs', () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0 });
    store.appendGroup(group);
    const back = store.getGroup(group.id);
    expect(back).toEqual(group);
    for (const t of back.trajectories) expect(TrajectorySchema.safeParse(t).success).toBe(true);
    const row = store.db
      .prepare('SELECT typeof(tokens) AS kind, length(tokens) AS bytes, n_tokens FROM trajectories LIMIT 1')
      .get() as {
      kind: string;
      bytes: number;
      n_tokens: number;
    };
    expect(row.kind).toBe('blob');
    expect(row.bytes).toBe(4 * row.n_tokens);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('rounds Float64 logprobs to Float32 (documented), keeps token ids exact', () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0, groupSize: 1 });
    const t = group.trajectories[0]!;
    const i = t.lossMask.indexOf(1);
    t.logprobs[i] = -0.1;
    store.appendGroup(group);
    const back = store.getTrajectory(t.id);
    expect(back.logprobs[i]).toBe(Math.fround(-0.1));
    expect(back.tokens).toEqual(t.tokens);
  });

  it('queries by run, step, environment, task, reward range and text', () => {
    for (let step = 0; step < 3; step++) {
      for (let task = 0; task < 4; task++)
        store.appendGroup(makeGroup({ runId: 'r1', step, taskIndex: task }));
    }
    store.appendGroup(makeGroup({ runId: 'r2', step: 0, taskIndex: 0 }));
    expect(store.queryTrajectories({ runId: 'r1', limit: 1000 })).toHaveLength(48);
    expect(store.queryTrajectories({ runId: 'r1', step: 2, limit: 1000 })).toHaveLength(16);
    const sql = store.queryTrajectories({ runId: 'r1', envId: 'sql@1', limit: 1000 });
    expect(sql).toHaveLength(24);
    expect(sql.every((s) => s.envId === 'sql@1')).toBe(true);
    expect(
      store
        .queryTrajectories({ runId: 'r1', taskId: 'task-3', limit: 1000 })
        .every((s) => s.taskId === 'task-3'),
    ).toBe(true);
    const good = store.queryTrajectories({ runId: 'r1', minReward: 0.5, limit: 1000 });
    const all = store.queryTrajectories({ runId: 'r1', limit: 1000 });
    expect(good.length).toBe(all.filter((s) => s.reward.total >= 0.5).length);
    expect(good.length).toBeGreaterThan(0);
    expect(
      store
        .queryTrajectories({ runId: 'r1', maxReward: 0.1, limit: 1000 })
        .every((s) => s.reward.total <= 0.1),
    ).toBe(true);
    // Text search finds a tool error message that only some trajectories contain.
    const withError = all.filter((s) =>
      store.getTrajectory(s.id).messages.some((m) => m.content.includes("invalid argument 'k'")),
    );
    const found = store.queryTrajectories({ runId: 'r1', text: "invalid argument 'k'", limit: 1000 });
    expect(found.map((s) => s.id).sort()).toEqual(withError.map((s) => s.id).sort());
    expect(store.queryTrajectories({ text: 'zebra-crossing"' })).toEqual([]);
  });

  it('lists runs and computes curves from rewards and step metrics', async () => {
    const sink = await StoreSink.open(store.path, { runId: 'run-a', runInfo: { env: 'search@1' } });
    for (let step = 0; step < 3; step++) {
      await sink.onGroup(makeGroup({ runId: 'run-a', step, taskIndex: 0 }));
      await sink.onStepMetrics({
        runId: 'run-a',
        step,
        metrics: { loss: 1 / (step + 1), approxKl: 0.01 * step },
      });
    }
    expect(store.runStatus('run-a')).toBe('running');
    return sink.close().then(() => {
      const [run] = store.listRuns();
      expect(run).toMatchObject({
        id: 'run-a',
        status: 'finished',
        steps: 3,
        trajectories: 12,
        info: { env: 'search@1' },
      });
      const curves = store.curves('run-a');
      expect(curves.map((p) => p.step)).toEqual([0, 1, 2]);
      expect(curves[1]!.metrics.loss).toBeCloseTo(0.5);
      const rewards = store.queryTrajectories({ runId: 'run-a', step: 2 }).map((s) => s.reward.total);
      expect(curves[2]!.rewardMean).toBeCloseTo(rewards.reduce((a, b) => a + b, 0) / rewards.length);
    });
  });

  it('logs feed events: run start, each turn and trajectory in original time order, step metrics', () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0 });
    store.appendGroup(group);
    store.appendStepMetrics('r1', 0, { loss: 0.3 });
    const events = store.eventsAfter(0).map(eventToMessage);
    expect(events[0]).toMatchObject({ type: 'run', status: 'running', cursor: 1 });
    const turns = group.trajectories.reduce((n, t) => n + t.turns.length, 0);
    expect(events.filter((e) => e.type === 'turn')).toHaveLength(turns);
    expect(events.filter((e) => e.type === 'trajectory')).toHaveLength(group.trajectories.length);
    expect(events.at(-1)).toMatchObject({ type: 'step-metrics', step: 0, metrics: { loss: 0.3 } });
    const cursors = events.map((e) => e.cursor);
    expect(cursors).toEqual(cursors.map((_, i) => i + 1));
    const times = events.slice(1, -1).map((e) => e.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // A trajectory's event comes after each of its turns.
    for (const t of group.trajectories) {
      const end = events.findIndex((e) => e.type === 'trajectory' && e.summary.id === t.id);
      const lastTurn = events.findLastIndex((e) => e.type === 'turn' && e.trajectoryId === t.id);
      expect(end).toBeGreaterThan(lastTurn);
    }
    expect(store.head()).toBe(events.length);
  });

  it('reads pages of stored frames end to end, in cursor order, byte for byte, per run and with times when asked', () => {
    // Two runs interleaved, so a run's cursors have gaps.
    for (let i = 0; i < 4; i++)
      store.appendGroup(makeGroup({ runId: i % 2 ? 'r2' : 'r1', step: i, taskIndex: 0 }));
    for (const runId of [undefined, 'r1']) {
      const events = store.eventsAfter(0, { runId, limit: 10_000 });
      const read: Buffer[] = [];
      let after = 0;
      for (;;) {
        const page = store.framesAfter(after, { runId, limit: 7, times: true })!;
        if (page.count === 0) break;
        expect(page.count).toBeLessThanOrEqual(7);
        const at = events.slice(read.length, read.length + page.count).map((e) => e.at);
        expect(page.at).toEqual(at);
        let start = 0;
        for (const length of page.lengths) {
          read.push(page.bytes.subarray(start, start + length));
          start += length;
        }
        expect(start).toBe(page.bytes.length);
        expect(page.lastCursor).toBe(events[read.length - 1]!.cursor);
        after = page.lastCursor;
      }
      expect(read).toEqual(events.map((e) => e.frame));
    }
    // Without times, none are read; a page holding an event logged before frames is not read as frames.
    expect(store.framesAfter(0, { limit: 5 })!.at).toBeUndefined();
    store.db.prepare('UPDATE events SET frame = NULL WHERE cursor = 3').run();
    expect(store.framesAfter(0, { limit: 5 })).toBeUndefined();
    expect(store.framesAfter(3, { limit: 5 })!.count).toBe(5);
  });

  it('refuses bad input with errors that say what to fix, and writes nothing of it', () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0 });
    store.appendGroup(group);
    const head = store.head();
    expect(() => store.appendGroup(group)).toThrow(DuplicateIdError);
    const broken = makeGroup({ runId: 'r1', step: 1, taskIndex: 0 });
    broken.trajectories[1]!.lossMask = broken.trajectories[1]!.lossMask.subarray(1);
    expect(() => store.appendGroup(broken)).toThrow(/must have one length/);
    expect(() => store.appendGroup(broken)).toThrow(InvalidTrajectoryError);
    const noRun = makeGroup({ runId: 'r1', step: 2, taskIndex: 0 });
    delete noRun.runId;
    expect(() => store.appendGroup(noRun)).toThrow(/no runId/);
    // A duplicate trajectory id inside a new group rolls the whole group back.
    const dupTrajectory = makeGroup({ runId: 'r1', step: 3, taskIndex: 0 });
    dupTrajectory.trajectories[1]!.id = group.trajectories[0]!.id;
    expect(() => store.appendGroup(dupTrajectory)).toThrow(DuplicateIdError);
    expect(() => store.getGroup(dupTrajectory.id)).toThrow(NotFoundError);
    expect(store.head()).toBe(head);
    expect(() => store.appendStepMetrics('r1', 0, { a: 1 })).not.toThrow();
    expect(() => store.appendStepMetrics('r1', 0, { a: 2 })).toThrow(/already has metrics for step 0/);
    expect(() => store.setAdvantages(group.trajectories[0]!.id, [1, 2])).toThrow(/has \d+ tokens/);
    expect(() => TrajectoryStore.open(path.join(dir, 'missing.db'), { readonly: true })).toThrow(
      ReplayConfigError,
    );
  });

  it('stores advantages filled in later by the trainer', () => {
    const group = makeGroup({ runId: 'r1', step: 0, taskIndex: 0, groupSize: 2 });
    store.appendGroup(group);
    const t = group.trajectories[0]!;
    const advantages = Array.from(t.lossMask, (m) => (m ? 0.5 : 0));
    store.setAdvantages(t.id, advantages);
    expect(store.getTrajectory(t.id).advantages).toEqual(advantages);
    expect(store.getTrajectory(group.trajectories[1]!.id).advantages).toBeUndefined();
  });
});

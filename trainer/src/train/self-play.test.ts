import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { Trajectory } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { roleConditionedAdvantages } from '../algorithms/advantages.ts';
import { readLatestCheckpoint } from '../checkpoint/checkpoint.ts';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig, parseTrainConfig, TrainConfigError } from './config.ts';
import { train } from './train.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const options = {
  games: ['kuhn-poker', 'tic-tac-toe'],
  heldOutGames: ['tic-tac-toe'],
  trainTables: 6,
  evalTables: 3,
};
const config = (outDir: string, tasks: Record<string, unknown> = { split: 'train' }) =>
  parseTrainConfig({
    run: { name: 'spiral-smoke', seed: 3, outDir },
    environment: { id: 'games', options },
    policy: { model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxPositions: 160, positions: 'rope' } },
    template: { kind: 'compact', toolTokens: true },
    learner: { backend: 'wasm' },
    rl: {
      tasks,
      selfPlay: true,
      algorithm: 'rae',
      rae: { decay: 0.9 },
      steps: 2,
      tasksPerStep: 1,
      groupSize: 3,
      sampling: { temperature: 1, maxTokens: 8 },
    },
    eval: { tasks: { split: 'test-iid' }, by: ['game', 'opponent'], every: 2 },
    maxTurns: 3,
  });

describe('SPIRAL end to end (built-in model, tiny)', () => {
  it('self-play seats the policy at both seats of each match, zero-sum; RAE keeps a baseline per seat, checkpointed; eval per opponent', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-spiral-'));
    dirs.push(outDir);
    const environment = (await discoverEnvironments()).make('games', options);
    const played: Trajectory[][] = [];
    const result = await train({
      config: config(outDir),
      environment,
      log: () => {},
      sink: {
        onGroup: (g) => {
          if (!g.trajectories[0]?.runId?.endsWith('-eval')) played.push(g.trajectories);
        },
      },
    });
    expect(result.rlSteps).toBe(2);
    // A match a step, its 2 seats each a group of 3 episodes: seat 0's group, then seat 1's.
    expect(played).toHaveLength(2 * 2);
    played.sort((a, b) => a[0]!.step! - b[0]!.step! || a[0]!.taskId.localeCompare(b[0]!.taskId));
    for (let step = 0; step < 2; step++) {
      const [seat0, seat1] = [played[2 * step]!, played[2 * step + 1]!];
      expect(seat0[0]!.taskId.replace(/p0$/, 'p1')).toBe(seat1[0]!.taskId);
      for (let member = 0; member < 3; member++) {
        const [a, b] = [seat0[member]!.reward, seat1[member]!.reward];
        // Member j of both seats played one game: the same moves, against the other session, zero-sum.
        expect(a.info.opponent).toBe('session');
        expect(a.info.moves).toBe(b.info.moves);
        expect(a.total + b.total).toBeCloseTo(0, 12);
      }
    }
    // RAE's baselines are the running means of each seat's rewards, in the order they were played.
    const expected: Record<string, number> = {};
    for (const g of played)
      roleConditionedAdvantages(
        g.map((t) => t.reward.total),
        g.map((t) => `kuhn-poker/p${t.taskId.at(-1)}`),
        expected,
        0.9,
      );
    const checkpoint = await readLatestCheckpoint<{ baselines: Record<string, number> }>(
      path.join(result.outDir, 'checkpoints'),
    );
    expect(Object.keys(checkpoint!.state.baselines).sort()).toEqual(['kuhn-poker/p0', 'kuhn-poker/p1']);
    for (const [role, b] of Object.entries(expected))
      expect(checkpoint!.state.baselines[role]).toBeCloseTo(b, 12);
    // Evaluation against each fixed opponent, reported per game and opponent.
    const last = result.evals.at(-1)!.splits['test-iid']!;
    expect(Object.keys(last.by!)).toEqual(['kuhn-poker/expert', 'kuhn-poker/random']);
    expect(last.by!['kuhn-poker/expert']!.episodes).toBe(3 * 2);
  }, 240_000);

  it('refuses self-play on tasks that do not hold every seat of their matches, or too little concurrency for a match, naming the fix', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-spiral-'));
    dirs.push(outDir);
    const environment = (await discoverEnvironments()).make('games', options);
    const run = train({
      config: config(outDir, { split: 'train', meta: { seat: 0 } }),
      environment,
      log: () => {},
    });
    await expect(run).rejects.toBeInstanceOf(TrainConfigError);
    await expect(run).rejects.toMatchObject({
      hint: expect.stringContaining('select every seat of each match once'),
    });
    // A match's seats play at once, so they must fit in rl.concurrency.
    const narrow = config(outDir);
    narrow.rl.concurrency = 1;
    await expect(train({ config: narrow, environment, log: () => {} })).rejects.toMatchObject({
      hint: 'set rl.concurrency to at least 2',
    });
  }, 60_000);

  it('configs/spiral-kuhn.yaml is a valid SPIRAL config: self-play with RAE, evaluated per game and opponent', async () => {
    const spiral = await loadTrainConfig(
      fileURLToPath(new URL('../../../configs/spiral-kuhn.yaml', import.meta.url)),
    );
    expect(spiral.environment.id).toBe('games');
    expect(spiral.rl).toMatchObject({ selfPlay: true, algorithm: 'rae', rae: { decay: 0.95 } });
    expect(spiral.eval.by).toEqual(['game', 'opponent']);
  });
});

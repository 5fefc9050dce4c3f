/**
 * ARPO's adaptive rollout end to end on the built-in model: after a warm-up that teaches it to call
 * compose's tools, RL groups of 3 grow to 6 by branching after tool results; each branch replays
 * its parent's turns token for token on a fresh session, samples on from the branch point, is
 * linked to its parent in the group, and trains only what it sampled itself.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { TrajectoryGroup } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig, TrainConfigError } from '../src/train/config.ts';
import { train } from '../src/train/train.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const raw = (outDir: string, branching: Record<string, number>, rl: Record<string, unknown> = {}) => ({
  run: { name: 'arpo', seed: 3, outDir },
  environment: {
    id: 'compose',
    options: {
      functions: ['reverse', 'upper', 'double'],
      depths: [1, 2],
      tasksPerDepth: 20,
      alphabet: 'abc',
      minLength: 3,
      maxLength: 4,
      heldOutPairFraction: 0.25,
      maxTurns: 3,
    },
  },
  policy: { model: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxPositions: 160, positions: 'rope' } },
  template: {
    kind: 'compact',
    dropFromPrompt: [' Use the tools, then call answer with the final string.'],
    toolTokens: true,
  },
  warmup: {
    tasks: { split: 'train', meta: { depth: 1 } },
    steps: 60,
    batchSize: 8,
    adam: { learningRate: 0.01, schedule: 'cosine' },
  },
  rl: {
    tasks: { split: 'train', meta: { depth: 1 } },
    steps: 2,
    tasksPerStep: 2,
    groupSize: 3,
    sampling: { temperature: 1.0, maxTokens: 32, branching },
    adam: { learningRate: 0.001 },
    ...rl,
  },
  eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 2 }, every: 2 },
  maxTurns: 3,
});
const configOf = (...args: Parameters<typeof raw>) => parseTrainConfig(raw(...args));

describe('ARPO adaptive branching', () => {
  it('grows each group by branches that replay their parent exactly, and trains on them', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-arpo-'));
    dirs.push(outDir);
    // τ far below any ΔH: every turn after a tool result is a branch point, so the budget is used.
    const config = configOf(outDir, { entropyThreshold: -100, maxBranches: 2, budget: 6 });
    const environments = await discoverEnvironments();
    const groups: TrajectoryGroup[] = [];
    const result = await train({
      config,
      environment: environments.make('compose', config.environment.options),
      sink: { onGroup: (g) => void groups.push(g) },
      log: () => {},
    });
    // The sink also receives the evaluation's groups.
    const rlGroups = groups.filter((g) => g.runId === 'arpo-seed3');
    expect(rlGroups.length, JSON.stringify(groups.map((g) => g.runId))).toBe(4);
    let branches = 0;
    for (const g of rlGroups) {
      expect(g.trajectories.length).toBeLessThanOrEqual(6);
      const byId = new Map(g.trajectories.map((t) => [t.id, t]));
      for (const t of g.trajectories.filter((x) => x.branchedFrom)) {
        branches++;
        const { trajectoryId, turn } = t.branchedFrom!;
        const parent = byId.get(trajectoryId)!;
        expect(parent, 'a branch’s parent is in its group').toBeDefined();
        expect(t.groupId).toBe(parent.groupId);
        expect(t.seed).toBe(parent.seed);
        expect(parent.turns[turn - 1]!.toolResults.length).toBeGreaterThan(0);
        // The shared prefix, token for token: everything before the branch turn's first sampled token.
        const shared = parent.turns[turn]!.sampled.start;
        expect(t.tokens.slice(0, shared)).toEqual(parent.tokens.slice(0, shared));
        const results = (x: typeof t) =>
          x.turns.slice(0, turn).map((u) => u.toolResults.map((r) => [r.name, r.content, r.isError]));
        expect(results(t)).toEqual(results(parent));
        // Only the turns it sampled train in the branch.
        expect(t.lossMask.slice(0, shared).every((m) => m === 0)).toBe(true);
        expect(t.lossMask.slice(t.turns[turn]!.sampled.start, t.turns[turn]!.sampled.end)).toContain(1);
      }
    }
    expect(branches).toBeGreaterThan(0);
    // Branches sample on with seeds of their own: some turn at a branch point differs from the parent's.
    const sampledAt = (t: TrajectoryGroup['trajectories'][number], turn: number) =>
      t.tokens.slice(t.turns[turn]?.sampled.start ?? 0, t.turns[turn]?.sampled.end ?? 0);
    const fresh = rlGroups.flatMap((g) =>
      g.trajectories.filter((t) => {
        if (!t.branchedFrom) return false;
        const parent = g.trajectories.find((p) => p.id === t.branchedFrom!.trajectoryId)!;
        return (
          JSON.stringify(sampledAt(t, t.branchedFrom.turn)) !==
          JSON.stringify(sampledAt(parent, t.branchedFrom.turn))
        );
      }),
    );
    expect(fresh.length).toBeGreaterThan(0);
    const metrics = (await readFile(path.join(result.outDir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((m) => m.phase === 'rl' && 'batch/branches' in m);
    expect(metrics.length).toBe(2);
    expect(metrics.reduce((n, m) => n + (m['batch/branches'] as number), 0)).toBe(branches);
    expect(metrics.every((m) => m['batch/dropped_branches'] === 0)).toBe(true);
    expect(metrics.some((m) => (m['batch/trained_sequences'] as number) > 0)).toBe(true);
  }, 300_000);

  it('refuses a budget no larger than the group, branching in eval, and self-play', () => {
    const dir = path.join(tmpdir(), 'toolgym-arpo-config');
    expect(() => configOf(dir, { budget: 3 })).toThrow(/rl\.sampling\.branching\.budget/);
    expect(() => configOf(dir, { budget: 6 }, { selfPlay: true })).toThrow(TrainConfigError);
    expect(() => configOf(dir, { budget: 6, maxBranches: 0 })).toThrow(/maxBranches/);
    const inEval = raw(dir, { budget: 6 });
    expect(() =>
      parseTrainConfig({ ...inEval, eval: { ...inEval.eval, sampling: { branching: { budget: 6 } } } }),
    ).toThrow(/eval\.sampling\.branching: branching is a way to play RL groups/);
  });
});

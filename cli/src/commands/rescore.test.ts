import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type TrajectoryJson, TrajectorySchema } from '@toolgym/protocol';
import { TrajectoryStore } from '@toolgym/replay';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOOLGYM_BIN, temporaryDirectories } from './test-support.ts';

const tempDir = temporaryDirectories('toolgym-cli-rescore-');
const OPTIONS = { depths: [1, 2], tasksPerDepth: 20 };

const toolgym = (args: string[]) => {
  const run = spawnSync(process.execPath, [TOOLGYM_BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
};

/** A component's row of the summary table: before, after, episodes changed. */
function row(stdout: string, name: string): [number, number, number] {
  const match = new RegExp(`^${name}\\s+(\\S+)\\s+(\\S+)\\s+(\\d+)$`, 'm').exec(stdout);
  if (!match) throw new Error(`no row ${name} in:\n${stdout}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

let dir: string;
let recorded: string;
let lines: TrajectoryJson[];

// Trajectories written by a real run: toolgym eval, oracle and random policies, over in-process MCP.
beforeAll(async () => {
  dir = await tempDir();
  const parts: string[] = [];
  for (const policy of ['oracle', 'random']) {
    const out = path.join(dir, `${policy}.jsonl`);
    const run = toolgym(['eval', '--env', 'compose', '--options', JSON.stringify(OPTIONS), '--policy', policy, '-n', '2', '--limit', '3', '--out', out, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    parts.push(readFileSync(out, 'utf8'));
  }
  recorded = path.join(dir, 'recorded.jsonl');
  writeFileSync(recorded, parts.join(''));
  lines = readFileSync(recorded, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrajectoryJson);
  expect(lines).toHaveLength(12);
  // Failed episodes are never graded, so rescore would skip them: say why they failed.
  expect(lines.filter((t) => t.status === 'failed').map((t) => t.failure)).toEqual([]);
}, 300_000);

describe('toolgym rescore', () => {
  it('finds nothing changed when the grader is the one that graded the run', () => {
    const run = toolgym(['rescore', recorded, '--options', JSON.stringify(OPTIONS)]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 of 12 episodes changed');
    const [before, after, changed] = row(run.stdout, 'correct');
    expect([before, after, changed]).toEqual([0.5, 0.5, 0]);
  });

  it('reports old and new values of each component when stored rewards differ from the current grader', () => {
    // A grade recorded by an older grader: two wrong episodes that it had called correct.
    const wrong = lines.filter((t) => t.reward.components.correct === 0).slice(0, 2);
    expect(wrong).toHaveLength(2);
    const old = lines.map((t) =>
      wrong.includes(t) ? { ...t, reward: { ...t.reward, total: t.reward.total + 1, components: { ...t.reward.components, correct: 1 } } } : t,
    );
    const file = path.join(dir, 'old-grader.jsonl');
    writeFileSync(file, old.map((t) => JSON.stringify(t)).join('\n'));
    const run = toolgym(['rescore', file, '--options', JSON.stringify(OPTIONS)]);
    expect(run.code).toBe(0);
    expect(row(run.stdout, 'correct')).toEqual([Number((8 / 12).toFixed(4)), 0.5, 2]);
    expect(row(run.stdout, 'valid_calls')[2]).toBe(0);
    expect(run.stdout).toContain('2 of 12 episodes changed');
    for (const t of wrong) expect(run.stdout).toContain(t.id);
  });

  it("rescores a toolgym train run directory from its store, with the run's options", () => {
    // The layout toolgym train leaves: <outDir>/<name>-seed<seed>/config.json and <outDir>/replay.sqlite.
    const outDir = path.join(dir, 'runs');
    const runDir = path.join(outDir, 'audit-seed0');
    mkdirSync(runDir, { recursive: true });
    const weights = { correct: 1, valid_calls: 0.5, progress: 0, composed: 0 };
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ environment: { id: 'compose', options: { ...OPTIONS, weights } } }));
    const store = TrajectoryStore.open(path.join(outDir, 'replay.sqlite'));
    const runId = 'audit-seed0-1700000000000';
    store.startRun(runId);
    store.appendGroup({ schemaVersion: 1, id: 'g0', runId, envId: 'compose', taskId: lines[0]!.taskId, trajectories: lines.map((t) => TrajectorySchema.parse({ ...t, runId })) });
    store.startRun('another-seed0-1');
    store.close();
    const run = toolgym(['rescore', runDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // The run's valid_calls weight of 0.5 (the recorded run used 0.1) moves every total with a valid call.
    const [, , changedTotals] = row(run.stdout, 'total');
    expect(changedTotals).toBe(lines.filter((t) => t.reward.components.valid_calls! > 0).length);
    expect(row(run.stdout, 'correct')[2]).toBe(0);
  });

  it('says when an episode no longer replays as it was played', () => {
    const tampered = structuredClone(lines);
    const turn = tampered.find((t) => t.turns[0]?.toolResults[0])!.turns[0]!;
    turn.toolResults[0]!.content = 'something the tool never said';
    const file = path.join(dir, 'tampered.jsonl');
    writeFileSync(file, tampered.map((t) => JSON.stringify(t)).join('\n'));
    const run = toolgym(['rescore', file, '--options', JSON.stringify(OPTIONS)]);
    expect(run.stdout).toContain('1 did not replay as played');
  });

  it('names the line of a file that holds something other than trajectories', () => {
    const file = path.join(dir, 'broken.jsonl');
    writeFileSync(file, `${JSON.stringify(lines[0])}\n{"id": "half a trajectory"}\n`);
    const run = toolgym(['rescore', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.jsonl:2 is not a trajectory/);
    expect(toolgym(['rescore', path.join(dir, 'nowhere.jsonl')]).stderr).toMatch(/does not exist/);
  });
});

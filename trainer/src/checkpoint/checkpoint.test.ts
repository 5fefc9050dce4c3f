import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDirName, readLatestCheckpoint, writeCheckpoint } from './checkpoint.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempRoot = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'toolgym-ckpt-'));
  dirs.push(d);
  return d;
};
const content = (step: number, size = 16) => ({
  state: { step, note: `state of ${step}` },
  tensors: { 'weights.w': { shape: [size], data: new Float32Array(size).map((_, i) => step * 1000 + i) } },
});

describe('atomic checkpoints', () => {
  it('round-trips state and tensors, keeps the newest two', async () => {
    const root = await tempRoot();
    for (const step of [1, 2, 3]) await writeCheckpoint(root, step, content(step));
    expect((await readdir(root)).sort()).toEqual([checkpointDirName(2), checkpointDirName(3)]);
    const latest = await readLatestCheckpoint<{ step: number; note: string }>(root);
    expect(latest?.step).toBe(3);
    expect(latest?.state.note).toBe('state of 3');
    expect(Array.from(latest!.tensors['weights.w']!.data.slice(0, 3))).toEqual([3000, 3001, 3002]);
    expect(latest?.skipped).toEqual([]);
  });

  it('never loads a truncated, corrupted or manifest-less checkpoint: falls back to the previous one', async () => {
    const root = await tempRoot();
    await writeCheckpoint(root, 1, content(1));
    const bad = await writeCheckpoint(root, 2, content(2));
    const tensors = path.join(bad, 'tensors.safetensors');
    const { size } = await import('node:fs').then((fs) => fs.statSync(tensors));
    await truncate(tensors, size - 10);
    let latest = await readLatestCheckpoint(root);
    expect(latest?.step).toBe(1);
    expect(latest?.skipped[0]?.reason).toMatch(
      /tensors\.safetensors has \d+ bytes, the manifest says \d+ \(truncated\?\)/,
    );

    await writeCheckpoint(root, 2, content(2));
    const state = path.join(root, checkpointDirName(2), 'state.json');
    const text = await readFile(state, 'utf8');
    await writeFile(state, text.replace('state of 2', 'state of 9'));
    latest = await readLatestCheckpoint(root);
    expect(latest?.step).toBe(1);
    expect(latest?.skipped[0]?.reason).toMatch(/state\.json fails its SHA-256 check/);

    await writeCheckpoint(root, 2, content(2));
    await rm(path.join(root, checkpointDirName(2), 'manifest.json'));
    latest = await readLatestCheckpoint(root);
    expect(latest?.step).toBe(1);
    expect(latest?.skipped[0]?.reason).toMatch(/no readable manifest\.json/);
  });

  it('a process SIGKILLed while writing checkpoints leaves only intact ones (several trials)', async () => {
    const root = await tempRoot();
    const writer = path.join(
      path.dirname(fileURLToPath(import.meta.url)),
      '../../test/fixtures/checkpoint-writer.ts',
    );
    let lastSeen = 0;
    for (let trial = 0; trial < 4; trial++) {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, root, String(lastSeen + 1)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // One node process (not the tsx wrapper, whose SIGKILL would orphan the writer).
      // Wait for the writer to be busy (first line), then kill at a random moment inside the loop.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 300));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const latest = await readLatestCheckpoint<{ step: number }>(root);
      expect(latest, `trial ${trial}: no intact checkpoint`).toBeDefined();
      expect(latest!.state.step).toBe(latest!.step);
      const data = latest!.tensors['weights.w']!.data;
      expect(data[data.length - 1]).toBe(latest!.step * 1000 + data.length - 1);
      expect(latest!.step).toBeGreaterThanOrEqual(lastSeen);
      lastSeen = latest!.step;
    }
  }, 60_000);
});

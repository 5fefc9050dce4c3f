import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrajectorySchema } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { exportJsonl, exportParquet, readParquetExport, toParquetRow } from '../src/export.ts';
import { TrajectoryStore } from '../src/store.ts';
import { makeGroup } from './generate.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'replay-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function filledStore(): TrajectoryStore {
  const store = TrajectoryStore.open(path.join(dir, `store-${Math.random()}.db`), { durability: 'normal' });
  // 75 groups × 4 = 300 rows: more than one Parquet row group (256).
  for (let step = 0; step < 15; step++) {
    for (let task = 0; task < 5; task++) store.appendGroup(makeGroup({ runId: 'r1', step, taskIndex: task }));
  }
  store.appendGroup(makeGroup({ runId: 'other', step: 0, taskIndex: 0 }));
  // Advantages on some trajectories only: the column is nullable.
  for (const s of store.queryTrajectories({ runId: 'r1', step: 3, limit: 100 })) {
    const t = store.getTrajectory(s.id);
    store.setAdvantages(
      s.id,
      Array.from(t.lossMask, (m, i) => (m ? Math.fround(t.reward.total - 0.5 + i * 1e-3) : 0)),
    );
  }
  return store;
}

describe('export', () => {
  it('Parquet read back equals what was written, row for row and column for column', async () => {
    const store = filledStore();
    const file = path.join(dir, 'r1.parquet');
    expect(await exportParquet(store, file, { runId: 'r1' })).toBe(300);
    const back = await readParquetExport(file);
    const expected = [...store.iterateTrajectories({ runId: 'r1' })].map(toParquetRow);
    expect(back).toHaveLength(300);
    expect(back).toEqual(expected);
    const withAdvantages = back.filter((r) => r.response_advantages !== null);
    expect(withAdvantages).toHaveLength(20);
    // Both logprobs, each as stored: behaviour and the policy's own differ where sampled.
    const stored = store.getTrajectory(back[0]!.id);
    const p = stored.promptLength;
    expect(back[0]!.response_logprobs).toEqual(Array.from(stored.logprobs.subarray(p)));
    expect(back[0]!.response_policy_logprobs).toEqual(Array.from(stored.policyLogprobs!.subarray(p)));
    expect(back[0]!.response_policy_logprobs).not.toEqual(back[0]!.response_logprobs);
    const row = back[0]!;
    expect(typeof row.seed).toBe('bigint');
    expect(row.response_ids.length).toBe(row.response_loss_mask.length);
    expect(row.response_loss_mask.some((m) => m === 1)).toBe(true);
    expect(row.prompt_ids.length + row.response_ids.length).toBe(store.getTrajectory(row.id).tokens.length);
    store.close();
  });

  it('JSONL: one valid trajectory per line, equal to the stored one', async () => {
    const store = filledStore();
    const file = path.join(dir, 'all.jsonl');
    expect(await exportJsonl(store, file)).toBe(304);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(304);
    const first = TrajectorySchema.parse(JSON.parse(lines[0]!));
    expect(first).toEqual(store.getTrajectory(first.id));
    expect(JSON.parse(lines.at(-1)!).runId).toBe('other');
    store.close();
  });
});

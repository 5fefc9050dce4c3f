import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TrajectoryStore } from '../src/store.ts';
import { makeGroup } from './generate.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'replay-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the heavy writer, SIGKILL it after `acks` acknowledgements; resolve with the acknowledged indices. */
function writeThenKill(
  file: string,
  first: number,
  acks: number,
  durability: 'full' | 'normal',
): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures/heavy-writer.ts'), file, String(first), durability],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const acked: number[] = [];
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
      }
      // Killed mid-write: the writer is inside its next transaction almost all the time.
      if (acked.length >= acks && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('durability', () => {
  it.each([
    ['full', 2],
    ['normal', 1],
  ] as const)(
    'kill -9 during heavy writes (durability %s, %i rounds): every acknowledged group is there, the file passes integrity_check',
    async (durability, rounds) => {
      const file = path.join(dir, `crash-${durability}.db`);
      let next = 0;
      for (let round = 0; round < rounds; round++) {
        const acked = await writeThenKill(file, next, 30 + round * 20, durability);
        expect(acked.length).toBeGreaterThanOrEqual(30);
        const store = TrajectoryStore.open(file);
        try {
          expect(store.integrityCheck()).toBe('ok');
          for (const i of acked) {
            const expected = makeGroup({
              runId: 'crash',
              step: i,
              taskIndex: i % 5,
              groupSize: 8,
              tokensPerTurn: 200,
            });
            // isDeepStrictEqual: vitest's toEqual on thousands of token arrays takes seconds.
            if (!isDeepStrictEqual(store.getGroup(expected.id), expected))
              expect(store.getGroup(expected.id)).toEqual(expected);
          }
          // Nothing half-written: every stored group is whole, and its feed events are there.
          const groups = store.db.prepare('SELECT id FROM groups').all() as Array<{ id: string }>;
          const stored = store.db.prepare('SELECT COUNT(*) AS n FROM trajectories').get() as { n: number };
          expect(stored.n).toBe(groups.length * 8);
          const trajectoryEvents = store.db
            .prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'trajectory'")
            .get() as {
            n: number;
          };
          expect(trajectoryEvents.n).toBe(stored.n);
          // At most the one group in flight may have committed unacknowledged; the next round starts after it.
          next = Math.max(...acked) + 2;
        } finally {
          store.close();
        }
      }
    },
    90_000,
  );
});

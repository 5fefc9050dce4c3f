import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type ReplayServer, serveReplay } from '../src/replay-server.ts';
import { eventToMessage } from '../src/feed-events.ts';
import { TrajectoryStore } from '../src/store.ts';
import { FeedClient } from '../src/feed-client.ts';
import type { FeedEventMessage } from '@toolgym/protocol';
import { makeGroup, pieceOf } from './generate.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'replay-crash-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the episode writer until it waits mid-episode, then SIGKILL it; resolves with its acks. */
function streamThenKill(file: string): Promise<{ acks: string[]; groups: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures/episode-writer.ts'), file],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const acks: string[] = [];
    const groups: string[] = [];
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
        if (line.startsWith('ack ')) acks.push(line.slice(4));
        if (line.startsWith('group ')) groups.push(line.slice(6));
        if (line === 'waiting') child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ acks, groups });
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('a writer killed mid-episode', () => {
  let server: ReplayServer | undefined;
  afterAll(() => server?.close());

  it('leaves each running episode as a partial trajectory marked unfinished, with every acknowledged turn, and the committed group whole', async () => {
    const file = path.join(dir, 'store.db');
    const { acks, groups } = await streamThenKill(file);
    const done = makeGroup({ runId: 'crash-live', step: 0, taskIndex: 0, groupSize: 2 });
    const running = makeGroup({ runId: 'crash-live', step: 1, taskIndex: 0, groupSize: 2 });
    expect(groups).toEqual([done.id]);
    for (const t of running.trajectories) expect(acks).toContain(`${t.id} 0`);

    // A server opened afterwards (as `toolgym replay serve` would) finds the writer gone.
    server = await serveReplay({ storePath: file, viewer: false });
    const store = server.store;
    expect(store.integrityCheck()).toBe('ok');
    expect(store.getGroup(done.id)).toEqual(done);
    const live = store.liveEpisodes({ runId: 'crash-live' });
    expect(live.map((e) => e.trajectoryId).sort()).toEqual(running.trajectories.map((t) => t.id).sort());
    for (const t of running.trajectories) {
      const partial = store.getPartialTrajectory(t.id);
      expect(partial).toMatchObject({ status: 'unfinished', turns: 1, step: 1 });
      expect(partial.reason).toMatch(/stopped before the episode's group was committed/);
      expect(partial.turnList).toEqual([t.turns[0]]);
      const end = t.turns.length > 1 ? t.turns[0]!.observation.end : t.tokens.length;
      expect(partial.tokens).toEqual(Array.from(t.tokens.subarray(0, end)));
      expect(partial.logprobs).toEqual(Array.from(t.logprobs.subarray(0, end)));
      expect(partial.policyLogprobs).toEqual(Array.from(t.policyLogprobs!.subarray(0, end)));
      expect(partial.pieces).toEqual(partial.tokens.map(pieceOf));
    }

    // The feed tells a client that follows the run: each turn once, then each episode unfinished.
    const received: FeedEventMessage[] = [];
    const client = new FeedClient({
      url: server.feedUrl,
      subscribe: { runId: 'crash-live', mode: 'replay', speed: 0 },
      onEvent: (m) => received.push(m),
    });
    await client.done;
    const turns = received.filter((m) => m.type === 'turn');
    const allTurns = [...done.trajectories.map((t) => t.turns.length), running.trajectories.length];
    expect(turns).toHaveLength(allTurns.reduce((a, b) => a + b, 0));
    expect(
      new Set(turns.map((m) => (m.type === 'turn' ? `${m.trajectoryId} ${m.turn.index}` : ''))).size,
    ).toBe(turns.length);
    const unfinished = received.filter((m) => m.type === 'episode');
    expect(unfinished.map((m) => (m.type === 'episode' ? m.trajectoryId : '')).sort()).toEqual(
      running.trajectories.map((t) => t.id).sort(),
    );
    expect(received.filter((m) => m.type === 'trajectory')).toHaveLength(done.trajectories.length);
    // Numbered after every seq the killed writer had reserved, and so may have sent live before its
    // commit: a client resuming with the seqs it saw still gets them.
    const { reserved_seq: reserved } = store.db
      .prepare("SELECT reserved_seq FROM runs WHERE id = 'crash-live'")
      .get() as { reserved_seq: number };
    expect(reserved).toBeGreaterThan(Math.max(...turns.map((m) => m.seq!)));
    for (const m of unfinished) expect(m.seq).toBeGreaterThan(reserved);
    // Reopening again marks nothing twice.
    const again = TrajectoryStore.open(file);
    try {
      expect(
        again
          .eventsAfter(0, { limit: 10_000 })
          .map(eventToMessage)
          .filter((m) => m.type === 'episode'),
      ).toHaveLength(running.trajectories.length);
    } finally {
      again.close();
    }
  }, 90_000);
});

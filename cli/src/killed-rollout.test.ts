import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventToMessage, TrajectoryStore } from '@toolgym/replay';
import { afterAll, describe, expect, it } from 'vitest';

const fixture = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/killed-rollout.ts',
);
const dir = mkdtempSync(path.join(tmpdir(), 'killed-rollout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the rollout process until `episodes` first turns are committed, then SIGKILL it. */
function rolloutThenKill(file: string, episodes: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: string[] = [];
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acks.push(line.slice(4));
      if (acks.length >= episodes && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks);
      else reject(new Error(`the rollout exited with ${code}: ${stderr}`));
    });
  });
}

describe('a rollout killed mid-episode', () => {
  it('leaves each episode it was playing in the replay store as a partial trajectory marked unfinished', async () => {
    const file = path.join(dir, 'replay.sqlite');
    const acks = await rolloutThenKill(file, 4);
    expect(acks).toHaveLength(4);
    const store = TrajectoryStore.open(file);
    try {
      expect(store.integrityCheck()).toBe('ok');
      expect(store.queryTrajectories({ runId: 'killed' })).toEqual([]);
      const episodes = store.liveEpisodes({ runId: 'killed' });
      expect(episodes.map((e) => `${e.trajectoryId} 0`).sort()).toEqual([...acks].sort());
      for (const episode of episodes) {
        expect(episode).toMatchObject({ status: 'unfinished', turns: 1, envId: 'compose', step: 0 });
        const partial = store.getPartialTrajectory(episode.trajectoryId);
        // The turn as the agent loop recorded it: the oracle's call and the environment's answer.
        const [turn] = partial.turnList;
        expect(turn!.toolCalls).toHaveLength(1);
        expect(turn!.toolResults).toHaveLength(1);
        expect(turn!.toolResults[0]!.callId).toBe(turn!.toolCalls[0]!.id);
        expect(partial.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
        expect(partial.messages[2]!.content).toBe(turn!.toolResults[0]!.content);
      }
      const unfinished = store
        .eventsAfter(0, { runId: 'killed' })
        .map(eventToMessage)
        .filter((m) => m.type === 'episode');
      expect(unfinished).toHaveLength(4);
    } finally {
      store.close();
    }
  }, 120_000);
});

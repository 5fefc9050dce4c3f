import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentPool } from '@toolgym/env-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { runRollouts } from '../src/rollout-engine.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment, instrumented } from './helpers.test-double.ts';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/serve-compose-http.ts');
const TOKEN = 'pool-trainer-token';
const servers: Array<{ url: string; child: ChildProcess }> = [];

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, POOL_TOKEN: TOKEN },
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`a pool server exited with ${code}`)));
    child.stdout!.once('data', (d) => resolve(String(d).trim()));
  });
  return { url, child };
}

beforeAll(async () => {
  servers.push(...(await Promise.all([1, 2, 3, 4].map(() => startServer()))));
}, 120_000);

afterAll(() => {
  for (const s of servers) s.child.kill('SIGKILL');
});

describe('an environment pool of four HTTP servers', () => {
  it('routes to the least-loaded server; when one is killed -9 mid-run its episodes fail with the reason, are played once more elsewhere, and every group is whole and counted once', async () => {
    const pool = await EnvironmentPool.open({
      endpoints: servers.map((s) => s.url),
      token: TOKEN,
      healthIntervalMs: 200,
    });
    try {
      const taskIds = (await composeEnvironment().tasksOf('train')).slice(0, 8).map((t) => t.id);
      const groupSize = 4;
      const rollout = runRollouts({
        connect: () => pool.connect(),
        // The oracle, each turn delayed, so that episodes are in flight on every server when one dies.
        policy: instrumented(createOraclePolicy({ tokenizer: new ByteTokenizerTestDouble() }), () => 150).policy,
        taskIds,
        groupSize,
        concurrency: 16,
        sampling: { maxTokens: 256 },
        retryLostEpisodes: true,
      });
      // Wait until every server reports its sessions open (health checks every 200 ms) and the
      // episodes are some turns in, then kill one.
      for (let i = 0; i < 600 && !pool.status().every((e) => e.reported >= 4); i++)
        await new Promise((r) => setTimeout(r, 25));
      // Least-loaded routing: 16 sessions over 4 servers, 4 each.
      expect(pool.status().map((e) => e.open)).toEqual([4, 4, 4, 4]);
      await new Promise((r) => setTimeout(r, 300));
      const victim = servers[0]!;
      victim.child.kill('SIGKILL');
      const result = await rollout;

      // Every slot once: 8 whole groups of 4, each (task, seed) exactly once, none failed.
      expect(result.groups).toHaveLength(taskIds.length);
      const played = result.groups.flatMap((g) => g.trajectories.map((t) => `${t.taskId}#${t.seed}`));
      expect(new Set(played).size).toBe(taskIds.length * groupSize);
      expect(played).toHaveLength(taskIds.length * groupSize);
      for (const g of result.groups) expect(g.trajectories).toHaveLength(groupSize);
      expect(result.groups.flatMap((g) => g.trajectories).filter((t) => t.status === 'failed')).toEqual([]);
      expect(result.groups.flatMap((g) => g.trajectories).every((t) => t.reward.total > 0)).toBe(true);

      // The killed server's in-flight episodes ended failed with the reason, and were retried once each.
      expect(result.retried.length).toBeGreaterThanOrEqual(1);
      for (const r of result.retried) expect(r.failure.code).toMatch(/^environment_(lost|unavailable)$/);
      expect(new Set(result.retried.map((r) => `${r.taskId}#${r.seed}`)).size).toBe(result.retried.length);
      const kept = new Set(result.groups.flatMap((g) => g.trajectories.map((t) => t.id)));
      for (const r of result.retried) expect(kept.has(r.trajectoryId)).toBe(false);

      // The dead server is out of rotation; the others are healthy.
      const status = pool.status();
      expect(status[0]).toMatchObject({ healthy: false });
      expect(status.slice(1).every((e) => e.healthy)).toBe(true);
    } finally {
      pool.close();
    }
  }, 120_000);

  it('refuses a pool with no server that answers, naming each endpoint', async () => {
    await expect(
      EnvironmentPool.open({ endpoints: ['http://127.0.0.1:9/mcp', 'not a url'], healthTimeoutMs: 500 }),
    ).rejects.toMatchObject({ code: 'invalid_config' });
    await expect(EnvironmentPool.open({ endpoints: ['http://127.0.0.1:9/mcp'], healthTimeoutMs: 500 })).rejects.toThrow(
      /no environment server answers: http:\/\/127\.0\.0\.1:9\/mcp/,
    );
  });
});

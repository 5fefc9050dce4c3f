import path from 'node:path';
import { EnvironmentClient, serveHttp, workspaceRoot } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { runRollouts } from '../src/rollout-engine.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment, scriptedTokenPolicyTestDouble } from './helpers.test-double.ts';

const stdioEndpoint = {
  kind: 'stdio' as const,
  command: process.execPath,
  args: ['--import', 'tsx', path.join(workspaceRoot(), 'agents/test/fixtures/serve-compose.ts')],
};
const env = composeEnvironment();
const tokenizer = new ByteTokenizerTestDouble();
const sampling = { maxTokens: 512 };

describe('the agent loop over real transports', () => {
  it('plays the oracle over stdio and over Streamable HTTP', async () => {
    const task = (await env.tasksOf('test'))[0]!;
    const stdio = await EnvironmentClient.connect(stdioEndpoint);
    const overStdio = await playEpisode({
      client: stdio,
      policy: createOraclePolicy({ tokenizer }),
      start: { taskId: task.id },
      sampling,
    });
    await stdio.close();
    expect(overStdio.failure).toBeUndefined();
    expect(overStdio.reward.components.correct).toBe(1);

    const server = await serveHttp(env, { trainerToken: 'trainer' });
    try {
      const http = await EnvironmentClient.connect({ kind: 'http', url: server.url, token: 'trainer' });
      const overHttp = await playEpisode({
        client: http,
        policy: createOraclePolicy({ tokenizer }),
        start: { taskId: task.id },
        sampling,
      });
      await http.close();
      expect(overHttp.reward.components.correct).toBe(1);
      // Same environment, same task: the same token record whatever the transport.
      expect(overHttp.tokens).toEqual(overStdio.tokens);
    } finally {
      await server.close();
    }
  });

  it('an environment server killed mid-episode ends that episode as failed with the reason; the rollout goes on with a new server', async () => {
    const tasks = (await env.tasksOf('test')).slice(0, 3);
    const clients: EnvironmentClient[] = [];
    let killed = false;
    // The "model" kills the server during its second turn of the first episode it plays.
    const policy = scriptedTokenPolicyTestDouble(tokenizer, (turn) => {
      if (turn === 1 && !killed) {
        killed = true;
        process.kill(clients[0]!.serverPid!, 'SIGKILL');
      }
      return hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }]);
    });
    const result = await runRollouts({
      connect: async () => {
        const client = await EnvironmentClient.connect(stdioEndpoint);
        clients.push(client);
        return client;
      },
      policy,
      taskIds: tasks.map((t) => t.id),
      groupSize: 1,
      concurrency: 1,
      sampling,
      episode: { maxTurns: 3 },
      progress: false,
    });
    const all = result.groups.flatMap((g) => g.trajectories);
    expect(all.length).toBe(3);
    const failed = all.filter((t) => t.status === 'failed');
    expect(failed.length).toBe(1);
    expect(failed[0]!.failure?.code).toMatch(/^environment_(lost|timeout)$/);
    expect(failed[0]!.failure?.message.length).toBeGreaterThan(10);
    expect(failed[0]!.reward.total).toBe(0);
    // The other episodes ran on a fresh server and finished normally.
    expect(all.filter((t) => t.status !== 'failed').every((t) => t.truncation === 'max_turns')).toBe(true);
    expect(clients.length).toBe(2);
    for (const c of clients) await c.close();
  });

  it('a hung environment ends the episode as failed (environment_timeout) instead of waiting forever', async () => {
    const task = (await env.tasksOf('test'))[0]!;
    const stdio = await EnvironmentClient.connect(stdioEndpoint);
    const policy = scriptedTokenPolicyTestDouble(tokenizer, (turn) => {
      // Freeze the server process: it stays alive but answers nothing.
      if (turn === 0) process.kill(stdio.serverPid!, 'SIGSTOP');
      return hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }]);
    });
    try {
      const t = await playEpisode({
        client: stdio,
        policy,
        start: { taskId: task.id },
        sampling,
        controlTimeoutMs: 1_000,
      });
      expect(t.status).toBe('failed');
      expect(t.failure?.code).toBe('environment_timeout');
    } finally {
      process.kill(stdio.serverPid!, 'SIGKILL');
      await stdio.close();
    }
  }, 30_000);
});

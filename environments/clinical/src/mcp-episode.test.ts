import path from 'node:path';
import { Environment, EnvironmentClient, serveHttp, workspaceRoot } from '@toolgym/env-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskIdOf } from './case-bank.ts';
import clinical from './index.ts';

/** One full episode as an MCP client sees it: list tools, start, ask, examine, order, diagnose, end. */
async function playEpisode(client: EnvironmentClient) {
  const info = await client.info();
  expect(info.id).toBe('clinical');
  expect(info.limits.maxTurns).toBe(12);
  const tools = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(['ask_patient', 'diagnose', 'order_test', 'physical_exam']);
  const started = await client.start({ taskId: taskIdOf('neuro-bacterial-meningitis') });
  expect(started.task.prompt).toMatch(/19-year-old female/);
  expect(JSON.stringify(started.task)).not.toMatch(/meningitis/i);

  const answer = await client.callTool('ask_patient', { question: 'What did the last doctor say?' });
  expect(answer.content).toMatch(/don't know what it is/);
  const exam = await client.callTool('physical_exam', { system: 'skin' });
  expect(exam.content).toMatch(/petechial rash/);
  const lp = await client.callTool('order_test', { name: 'lumbar puncture' });
  expect(lp.content).toMatch(/back in 1 turn/);
  const bad = await client.callTool('order_test', { name: 'mind reading' });
  expect(bad).toMatchObject({ isError: true, errorCode: 'test_not_available' });
  const cultures = await client.callTool('order_test', { name: 'blood cultures' });
  expect(cultures.content).toMatch(/WBC 2400\/uL/);
  const done = await client.callTool('diagnose', {
    diagnosis: 'Meningococcal meningitis',
    reasoning: 'Turbid CSF on lumbar puncture with neutrophils; petechial rash.',
  });
  expect(done.terminated).toBe(true);
  const after = await client.callTool('ask_patient', { question: 'Still there?' });
  expect(after).toMatchObject({ isError: true, errorCode: 'episode_ended' });
  const end = await client.end();
  expect(end.reward.components).toMatchObject({ completion: 1, diagnosis: 1, exam_f1: 1 });
  expect(end.reward.total).toBeCloseTo(1.6);
}

describe('a full clinical episode over MCP', () => {
  describe('Streamable HTTP', () => {
    let server: Awaited<ReturnType<typeof serveHttp>>;
    beforeAll(async () => {
      server = await serveHttp(new Environment(clinical, clinical.parseConfig({})), { port: 0 });
    });
    afterAll(async () => server.close());

    it('plays an episode end to end', async () => {
      const client = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      try {
        await playEpisode(client);
      } finally {
        await client.close();
      }
    });
  });

  it('plays an episode over stdio with the CLI server', async () => {
    const client = await EnvironmentClient.connect({
      kind: 'stdio',
      command: process.execPath,
      args: [path.join(workspaceRoot(), 'cli/bin/toolgym.js'), 'env', 'serve', 'clinical'],
      cwd: workspaceRoot(),
    });
    try {
      await playEpisode(client);
    } finally {
      await client.close();
    }
  });
});

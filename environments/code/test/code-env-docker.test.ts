import { EnvironmentRegistry } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { type DockerEngine, ensurePythonImage, startDockerEngine } from '@toolgym/sandbox';
import { afterAll, describe, expect, it } from 'vitest';
import definition, { type CodeTaskMeta, closeSharedSandboxes } from '../src/index.ts';

// The code environment on the Docker backend: the engine comes from DOCKER_HOST (set here to the
// engine this test starts, or the one the user has), like it would on a remote Docker host.
let engine: DockerEngine | undefined;
try {
  engine = await startDockerEngine();
  ensurePythonImage(engine);
} catch (error) {
  console.warn(`SKIP code-on-docker tests: ${error instanceof Error ? error.message : String(error)}`);
  await engine?.stop();
  engine = undefined;
}
const previousDockerHost = process.env.DOCKER_HOST;

afterAll(async () => {
  await closeSharedSandboxes();
  if (previousDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = previousDockerHost;
  await engine?.stop();
});

describe.skipIf(!engine)('code environment on the Docker backend', () => {
  it('plays oracle episodes of both kinds and keeps the network closed', async () => {
    process.env.DOCKER_HOST = engine!.host;
    const registry = new EnvironmentRegistry();
    registry.register(definition);
    const env = registry.make('code', { sandbox: { backend: 'docker', poolSize: 1 }, perTestSeconds: 1 });
    const tasks = await env.tasks();
    const pick = (kind: string) => tasks.find((t: Task) => (t.meta as CodeTaskMeta).kind === kind)!;
    for (const task of [pick('programming'), pick('interpreter')]) {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const call of definition.oracle!(task, env.config)) {
        const outcome = await episode.callTool(call.name, call.arguments);
        expect(outcome.isError, outcome.content).toBe(false);
      }
      expect((await episode.end()).reward.total).toBeCloseTo(1.1);
    }
    const episode = await env.openEpisode({ taskId: pick('programming').id });
    const probe = await episode.callTool('run_python', {
      code: 'import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=1)',
    });
    expect(probe.isError).toBe(true);
    expect(probe.content).toMatch(/OSError|unreachable/);
    await episode.close();
  }, 120_000);
});

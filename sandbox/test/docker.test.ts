import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDockerSandbox,
  DEFAULT_PYTHON_IMAGE,
  type DockerEngine,
  ensurePythonImage,
  type Sandbox,
  startDockerEngine,
} from '../src/index.ts';
import { describeEscapeTests, describeSandboxBehaviour } from './escape-suite.ts';

// Docker tests start their own engine (or use DOCKER_HOST / a running one) and skip, saying why,
// only when none can start.
let engine: DockerEngine | undefined;
try {
  engine = await startDockerEngine();
  ensurePythonImage(engine);
} catch (error) {
  console.warn(`SKIP docker tests: ${error instanceof Error ? error.message : String(error)}`);
  await engine?.stop();
  engine = undefined;
}
const enabled = engine !== undefined;

let sandbox: Sandbox | undefined;
beforeAll(() => {
  if (engine) sandbox = createDockerSandbox({ docker: engine.docker, poolSize: 2 });
});
afterAll(async () => {
  await sandbox?.close();
  if (engine) {
    const left = await engine.docker.listContainers({
      all: true,
      filters: { label: [`toolgym.sandbox=${process.pid}`] },
    });
    expect(left).toEqual([]);
    await engine.stop();
  }
});

describeSandboxBehaviour('docker', () => sandbox, enabled);
describeEscapeTests('docker', () => sandbox, enabled);

describe.skipIf(!enabled)('docker: engine and image', () => {
  it('says how to build the image when it is missing', async () => {
    const s = createDockerSandbox({ docker: engine!.docker, image: 'toolgym/does-not-exist:1', poolSize: 0 });
    await expect(s.run({ cmd: ['true'] })).rejects.toMatchObject({
      code: 'backend_unavailable',
      message: expect.stringContaining('does-not-exist'),
    });
    await s.close();
  });

  it('removes containers left behind by a process that died', async () => {
    const dead = spawnSync('true').pid!;
    const orphan = await engine!.docker.createContainer({
      Image: DEFAULT_PYTHON_IMAGE,
      Cmd: ['true'],
      Labels: { 'toolgym.sandbox': String(dead), 'toolgym.host': os.hostname() },
    });
    const s = createDockerSandbox({ docker: engine!.docker, poolSize: 0 });
    await s.run({ cmd: ['true'] });
    await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
    await s.close();
  });

  it('runs as an unprivileged user on a read-only root with every capability dropped', async () => {
    const code =
      'import os\nprint(os.getuid(), open("/proc/self/status").read().split("CapEff:")[1].split()[0])\ntry:\n    open("/usr/x", "w")\nexcept OSError as e:\n    print(type(e).__name__)';
    const result = await sandbox!.run({ cmd: ['python3', '-c', code] });
    expect(result.stdout).toBe('65534 0000000000000000\nOSError\n');
  });
});

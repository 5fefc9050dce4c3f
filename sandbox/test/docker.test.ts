import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
import { describeSeccompTests } from './seccomp-suite.ts';

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
describeSeccompTests('docker', () => sandbox, enabled);

/** Ids of this process's containers. */
async function ourContainers(): Promise<string[]> {
  const list = await engine!.docker.listContainers({
    all: true,
    filters: { label: [`toolgym.sandbox=${process.pid}`] },
  });
  return list.map((c) => c.Id).sort();
}

describe.skipIf(!enabled)('docker: containers as sandbox hosts', () => {
  it('serves the next run from the same container in a fresh sandbox, and replaces a container after an abnormal end', async () => {
    const before = await ourContainers();
    const s = createDockerSandbox({ docker: engine!.docker, poolSize: 1, maxSandboxes: 1 });
    const first = await s.run({
      cmd: ['python3', '-c', 'open("/work/left.txt", "w").write("x"); open("/tmp/left.txt", "w").write("x")'],
    });
    expect(first.exitCode).toBe(0);
    const host = (await ourContainers()).filter((id) => !before.includes(id));
    expect(host).toHaveLength(1);
    const second = await s.run({
      cmd: ['python3', '-c', 'import os; print(os.listdir("/work"), os.listdir("/tmp"))'],
    });
    expect(second.stdout).toBe('[] []\n');
    expect((await ourContainers()).filter((id) => !before.includes(id))).toEqual(host);
    const timedOut = await s.run({ cmd: ['python3', '-c', 'while True: pass'], limits: { wallMs: 500 } });
    expect(timedOut.timedOut).toBe(true);
    expect((await s.run({ cmd: ['python3', '-c', 'print(1)'] })).stdout).toBe('1\n');
    const now = (await ourContainers()).filter((id) => !before.includes(id));
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(host);
    await s.close();
  });

  it('gives a run that waits past queueTimeoutMs a sandbox_busy error', async () => {
    const s = createDockerSandbox({
      docker: engine!.docker,
      poolSize: 1,
      maxSandboxes: 1,
      queueTimeoutMs: 300,
    });
    await s.warmUp();
    const long = s.run({ cmd: ['python3', '-c', 'import time; time.sleep(2)'] });
    await expect(s.run({ cmd: ['true'] })).rejects.toMatchObject({ code: 'sandbox_busy' });
    expect((await long).exitCode).toBe(0);
    await s.close();
  });

  it('gives each container a CPU cgroup under the host root on a cgroupfs engine, or under the parent asked for', async () => {
    const info = (await engine!.docker.info()) as { CgroupDriver?: string };
    /** The cpu cgroup of our one container's main process, as the host sees it (local engines only). */
    const cpuCgroupOf = async (options: { cgroupParent?: string }) => {
      const before = await ourContainers();
      const s = createDockerSandbox({ docker: engine!.docker, poolSize: 1, maxSandboxes: 1, ...options });
      await s.warmUp();
      const [id] = (await ourContainers()).filter((c) => !before.includes(c));
      const inspected = await engine!.docker.getContainer(id!).inspect();
      const line = readFileSync(`/proc/${inspected.State.Pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l) || /^0::/.test(l));
      await s.close();
      return { parent: inspected.HostConfig.CgroupParent, cgroup: line?.split(':')[2], id: id! };
    };
    if (info.CgroupDriver === 'cgroupfs') {
      const root = await cpuCgroupOf({});
      expect(root.parent).toBe('/');
      expect(root.cgroup).toBe(`/${root.id}`);
    }
    const asked = await cpuCgroupOf({ cgroupParent: '/docker' });
    expect(asked.parent).toBe('/docker');
    expect(asked.cgroup).toBe(`/docker/${asked.id}`);
  });
});

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

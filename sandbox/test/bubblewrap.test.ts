import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBubblewrapSandbox, type Sandbox } from '../src/index.ts';
import { describeEscapeTests, describeSandboxBehaviour } from './escape-suite.ts';

const bwrapWorks = spawnSync('bwrap', ['--unshare-all', '--ro-bind', '/', '/', 'true']).status === 0;
if (!bwrapWorks)
  console.warn('SKIP bubblewrap tests: bwrap cannot create namespaces on this machine (install bubblewrap)');

let sandbox: Sandbox | undefined;

beforeAll(() => {
  if (bwrapWorks) sandbox = createBubblewrapSandbox({ poolSize: 2 });
});
afterAll(async () => {
  await sandbox?.close();
});

describeSandboxBehaviour('bubblewrap', () => sandbox, bwrapWorks);
describeEscapeTests('bubblewrap', () => sandbox, bwrapWorks);

describe.skipIf(!bwrapWorks)('bubblewrap: lifecycle', () => {
  it('starts cold without a pool, and close() twice is safe; a closed sandbox refuses runs', async () => {
    const cold = createBubblewrapSandbox({ poolSize: 0 });
    const result = await cold.run({ cmd: ['python3', '-c', 'print(6 * 7)'] });
    expect(result).toMatchObject({ stdout: '42\n', exitCode: 0, warm: false });
    await cold.close();
    await cold.close();
    await expect(cold.run({ cmd: ['true'] })).rejects.toMatchObject({ code: 'closed' });
  });

  it('fails at once naming the binary when bubblewrap is missing', () => {
    expect(() => createBubblewrapSandbox({ bwrapPath: '/nonexistent/bwrap' })).toThrow(
      /bubblewrap is not runnable/,
    );
  });

  it('runs with a larger work dir outside the pool', async () => {
    const s = createBubblewrapSandbox({ poolSize: 1 });
    const code = 'import os\nopen("big","wb").write(b"x" * (80 << 20))\nprint(os.path.getsize("big"))';
    const small = await s.run({
      cmd: ['python3', '-c', code],
      limits: { memoryBytes: 512 << 20, fileBytes: 1 << 30 },
    });
    expect(small.exitCode).not.toBe(0);
    expect(small.stderr).toMatch(/No space left|File too large/);
    const big = await s.run({
      cmd: ['python3', '-c', code],
      limits: { diskBytes: 128 << 20, memoryBytes: 512 << 20, fileBytes: 1 << 30 },
    });
    expect(big).toMatchObject({ stdout: `${80 << 20}\n`, exitCode: 0, warm: false });
    await s.close();
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: CPU quota', () => {
  it('runs under a CPU quota in a sandbox of its own (outside the pool)', async () => {
    const s = createBubblewrapSandbox({ poolSize: 1 });
    const code =
      'import time\nt = time.time()\nwhile time.time() - t < 1.0: pass\nprint(round(time.process_time() / (time.time() - t), 2))';
    const result = await s.run({ cmd: ['python3', '-c', code], limits: { cpus: 0.25 } });
    expect(result).toMatchObject({ exitCode: 0, warm: false });
    // At most a quarter of a CPU (plus slack for the first scheduling period).
    expect(Number(result.stdout)).toBeLessThan(0.4);
    await s.close();
  });
});

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBubblewrapSandbox, type RunRequest, type Sandbox } from '../src/index.ts';
import {
  describeEscapeTests,
  describeSandboxBehaviour,
  expectContained,
  FORK_BOMB_CAP,
  forkBombPeak,
} from './escape-suite.ts';
import { describeSeccompTests } from './seccomp-suite.ts';
import { PROBE_SOURCE, probedCalls, refusal } from './syscall-probe.ts';

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
describeSeccompTests('bubblewrap', () => sandbox, bwrapWorks);

describe.skipIf(!bwrapWorks)('bubblewrap: what the filter adds', () => {
  it('without it, calls that need no privilege get through in the sandbox: the filter is what refuses them', async () => {
    const open = createBubblewrapSandbox({ poolSize: 0, seccomp: false });
    const result = await open.run({
      cmd: ['python3', 'probe.py', JSON.stringify(probedCalls())],
      files: { 'probe.py': PROBE_SOURCE },
    });
    await open.close();
    const errnos = JSON.parse(result.stdout) as Record<string, number>;
    const through = Object.keys(errnos).filter((call) => errnos[call] !== refusal(call));
    expect(through).toEqual(
      expect.arrayContaining([
        'ptrace',
        'process_vm_readv',
        'keyctl',
        'io_uring_setup',
        'unshare',
        'setns',
        'clone3',
      ]),
    );
    expect(open.capabilities().syscalls).toBeNull();
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: pid limit without cgroups', () => {
  it("holds a fork bomb with RLIMIT_NPROC in the sandbox's own user namespace", async () => {
    const s = createBubblewrapSandbox({ poolSize: 0, cgroups: false });
    const concurrent = await Promise.all([forkBombPeak(s, 32), forkBombPeak(s, 32)]);
    await s.close();
    // Each sandbox counts only its own processes: two bombs at once both get their full 32.
    for (const peak of concurrent) {
      expectContained(peak, 32);
      expect(peak).toBeGreaterThanOrEqual(30);
    }
    expect(s.capabilities().pids).toContain('RLIMIT_NPROC');
  });

  it('the fork-bomb check fails when no limit holds the bomb', async () => {
    // The same bomb with a limit far above its own cap: it reaches the cap, and the check that
    // guards the tests above rejects the result.
    const s = createBubblewrapSandbox({ poolSize: 0, cgroups: false });
    const peak = await forkBombPeak(s, 100_000);
    await s.close();
    expect(peak).toBe(FORK_BOMB_CAP + 1);
    expect(() => expectContained(peak, 32)).toThrow();
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: overload', () => {
  const sleeper = (seconds: number) => ({
    cmd: ['python3', '-c', `import time; time.sleep(${seconds}); print('done')`],
  });

  it('queues runs beyond maxSandboxes and serves them as sandboxes free up', async () => {
    const s = createBubblewrapSandbox({ poolSize: 0, maxSandboxes: 2, queueTimeoutMs: 30_000 });
    const results = await Promise.all(Array.from({ length: 5 }, () => s.run(sleeper(0.3))));
    expect(results.map((r) => r.stdout)).toEqual(Array(5).fill('done\n'));
    expect(s.poolState?.().peak).toBeLessThanOrEqual(2);
    await s.close();
  });

  it('gives a run that waits past queueTimeoutMs a sandbox_busy error, and nothing hangs', async () => {
    const s = createBubblewrapSandbox({ poolSize: 1, maxSandboxes: 1, queueTimeoutMs: 300 });
    await s.warmUp(); // the long run takes the one sandbox at once
    const long = s.run(sleeper(3));
    const started = performance.now();
    await expect(s.run(sleeper(0))).rejects.toMatchObject({
      code: 'sandbox_busy',
      hint: expect.stringContaining('maxSandboxes'),
    });
    expect(performance.now() - started).toBeLessThan(2_500);
    // A queued run that is aborted returns at once, and one still queued at close() is refused.
    const controller = new AbortController();
    const aborted = s.run({ ...sleeper(0), signal: controller.signal });
    controller.abort();
    expect(await aborted).toMatchObject({ aborted: true, exitCode: null });
    const queued = s.run(sleeper(0));
    const closing = s.close();
    await expect(queued).rejects.toMatchObject({ code: 'closed' });
    await closing;
    expect((await long).exitCode).not.toBe(0); // close() killed it
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: close', () => {
  it('returns while its sandboxes are still starting and an interactive run waits for input', async () => {
    for (let i = 0; i < 10; i++) {
      const s = createBubblewrapSandbox({ poolSize: 4 });
      const warm = s.warmUp().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, i * 7));
      const input = new PassThrough();
      // Whether it started or not, the run ends: killed by close(), or refused as closed.
      const outcome = s
        .run({ cmd: ['python3', '-c', 'import sys\nfor line in sys.stdin: print(line, end="")'], stdin: input })
        .then(
          (result) => result.exitCode,
          (error: { code?: string }) => error.code,
        );
      input.write('hi\n');
      await s.close();
      expect([137, 'closed']).toContain(await outcome);
      await warm;
    }
  }, 120_000);
});

describe.skipIf(!bwrapWorks)('bubblewrap: adaptive pool', () => {
  it('grows its ready sandboxes to a burst and shrinks back when idle', async () => {
    const s = createBubblewrapSandbox({ poolSize: 1, shrinkAfterMs: 1_000 });
    await s.warmUp();
    expect(s.poolState?.()).toMatchObject({ target: 1, idle: 1 });
    await Promise.all(Array.from({ length: 8 }, () => s.run({ cmd: ['python3', '-c', 'print(1)'] })));
    expect(s.poolState?.().target).toBe(7); // seven runs found no ready sandbox
    await s.warmUp();
    expect(s.poolState?.().idle).toBe(7);
    const next = await Promise.all(Array.from({ length: 7 }, () => s.run({ cmd: ['true'] })));
    expect(next.every((r) => r.warm)).toBe(true);
    for (let i = 0; i < 100 && (s.poolState?.().target ?? 0) > 1; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(s.poolState?.()).toMatchObject({ target: 1 });
    await s.close();
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: python3 in the launcher', () => {
  const probe = [
    'import sys, os',
    'print(sys.argv, sys.orig_argv, sys.path[0], sys.executable, sorted(globals()))',
    'print(sorted(sys.modules))',
    'print(os.environ.get("EXTRA"), sys.flags)',
    'print(sys.stdin.read())',
  ].join('\n');
  // An LC_ALL equal to the sandbox's LANG changes nothing but makes the launcher exec a new interpreter.
  const exec = { LC_ALL: 'C.UTF-8' };

  it('runs -c, scripts and -m as a fresh interpreter would', async () => {
    const s = createBubblewrapSandbox({ poolSize: 1 });
    const requests: RunRequest[] = [
      { cmd: ['python3', '-c', probe, 'a', 'b'] },
      { cmd: ['python3', 'sub/main.py', 'x'], files: { 'sub/main.py': probe } },
      { cmd: ['python3', '-m', 'pkg.mod', 'y'], files: { 'pkg/__init__.py': '', 'pkg/mod.py': probe } },
      { cmd: ['python3', '-c', 'def f():\n    raise ValueError("bad")\nf()'] },
      { cmd: ['python3', 'e.py'], files: { 'e.py': 'import sys\nsys.exit("bye")' } },
      { cmd: ['python3', '-c', 'raise SystemExit(3)'] },
      { cmd: ['python3', 'missing.py'] },
    ];
    for (const request of requests) {
      const inProcess = await s.run({ ...request, stdin: 'in', env: { EXTRA: '1' } });
      const fresh = await s.run({ ...request, stdin: 'in', env: { EXTRA: '1', ...exec } });
      const clean = (text: string) => text.replaceAll("'LC_ALL'", '');
      expect(clean(inProcess.stdout), request.cmd.join(' ')).toBe(clean(fresh.stdout));
      expect(inProcess.stderr, request.cmd.join(' ')).toBe(fresh.stderr);
      expect(inProcess.exitCode, request.cmd.join(' ')).toBe(fresh.exitCode);
    }
    await s.close();
  });
});

describe.skipIf(!bwrapWorks)('bubblewrap: lifecycle', () => {
  it('starts cold without a pool, and close() twice is safe; a closed sandbox refuses runs', async () => {
    const cold = createBubblewrapSandbox({ poolSize: 0 });
    const result = await cold.run({ cmd: ['python3', '-c', 'print(6 * 7)'] });
    expect(result).toMatchObject({ stdout: '42\n', exitCode: 0, warm: false });
    await cold.close();
    await cold.close();
    await expect(cold.run({ cmd: ['true'] })).rejects.toMatchObject({ code: 'closed' });
  });

  it.skipIf(process.getuid?.() !== 0)(
    'as root, starts sandboxes from a mount namespace holding only what they are made from',
    async () => {
      // A supervisor is python3 with its source in argv, started by this process or by the bwrap around it.
      const parentOf = (pid: string) =>
        /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      const ourSupervisors = () =>
        readdirSync('/proc').filter((pid) => {
          try {
            const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
            return (
              argv[0] === '/usr/bin/python3' &&
              argv.some((arg) => arg.includes('Starts sandboxes and relays')) &&
              [parentOf(pid), parentOf(parentOf(pid)!)].includes(String(process.pid))
            );
          } catch {
            return false;
          }
        });
      const before = ourSupervisors();
      const s = createBubblewrapSandbox({ poolSize: 1 });
      await s.warmUp();
      const supervisors = ourSupervisors().filter((pid) => !before.includes(pid));
      expect(supervisors).toHaveLength(1);
      const mountPoints = (pid: string) =>
        readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.split(' ')[4]!);
      const inside = mountPoints(supervisors[0]!);
      const allowed = /^\/($|usr(\/|$)|proc(\/|$)|dev(\/|$)|sys\/fs\/cgroup(\/|$)|tmp$)/;
      expect(inside.filter((point) => !allowed.test(point))).toEqual([]);
      // The host's other mounts (this repository's disk, a Docker engine's overlays …) are not there.
      const hostOnly = mountPoints('self').filter((point) => !allowed.test(point));
      for (const point of hostOnly) expect(inside).not.toContain(point);
      expect((await s.run({ cmd: ['python3', '-c', 'print(1)'] })).stdout).toBe('1\n');
      await s.close();
    },
  );

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

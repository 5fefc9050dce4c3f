import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRequest, Sandbox } from '../src/index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Host pids whose command line contains `marker` (processes a run might have left behind). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** A fork bomb that stops at this many processes, so a sandbox without a pid limit survives it. */
export const FORK_BOMB_CAP = 300;

/**
 * Runs a fork bomb with `pids` as the limit: it forks children that hold their pid until it can
 * fork no more (or reaches FORK_BOMB_CAP), and returns how many of its processes were alive at
 * once, itself included.
 */
export async function forkBombPeak(sandbox: Sandbox, pids: number, marker = 'forkbomb'): Promise<number> {
  const code = [
    `import os, time  # ${marker}`,
    'children = []',
    `while len(children) < ${FORK_BOMB_CAP}:`,
    '    try:',
    '        pid = os.fork()',
    '    except OSError:',
    '        break',
    '    if pid == 0:',
    '        time.sleep(60)',
    '        os._exit(0)',
    '    children.append(pid)',
    'print(len(children) + 1, flush=True)',
    'for pid in children:',
    '    os.kill(pid, 9)',
  ].join('\n');
  const result = await sandbox.run(python(code, { limits: { pids, wallMs: 30_000, memoryBytes: 1 << 30 } }));
  if (result.exitCode !== 0) throw new Error(`fork bomb probe failed: ${JSON.stringify(result)}`);
  return Number(result.stdout.trim());
}

/** The assertion of the fork-bomb tests: the bomb never had more processes than the limit. */
export function expectContained(peak: number, pids: number): void {
  expect(peak).toBeGreaterThan(1); // it did fork
  expect(peak).toBeLessThanOrEqual(pids);
}

const python = (code: string, extra: Partial<RunRequest> = {}): RunRequest => ({
  cmd: ['python3', '-c', code],
  ...extra,
});

/**
 * Escape attempts (files, network, processes, resources), run against any backend: each must be
 * stopped, reported in the result, and leave the host as it was (no files written outside, no
 * processes left).
 */
export function describeEscapeTests(
  name: string,
  getSandbox: () => Sandbox | undefined,
  enabled: boolean,
): void {
  describe.skipIf(!enabled)(`${name}: escape attempts`, () => {
    let canaryDir: string;
    let server: Server;
    let port: number;
    let connections = 0;
    const marker = `tgescape${process.pid}x${Date.now().toString(36)}`;
    const sandbox = () => {
      const s = getSandbox();
      if (!s) throw new Error('sandbox not set up');
      return s;
    };

    beforeAll(async () => {
      canaryDir = mkdtempSync(path.join(os.tmpdir(), 'toolgym-canary-'));
      writeFileSync(path.join(canaryDir, 'canary.txt'), 'untouched');
      server = createServer((socket) => {
        connections++;
        socket.end('secret from the host');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as { port: number }).port;
    });

    afterAll(async () => {
      // The host is unchanged: the canary is intact, nothing landed in the host's /tmp, no process is left.
      expect(readFileSync(path.join(canaryDir, 'canary.txt'), 'utf8')).toBe('untouched');
      expect(readdirSync(canaryDir)).toEqual(['canary.txt']);
      expect(existsSync(path.join(os.tmpdir(), marker))).toBe(false);
      expect(processesWith(marker)).toEqual([]);
      expect(connections).toBe(0);
      rmSync(canaryDir, { recursive: true, force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('cannot open a network socket to the host or the outside', async () => {
      const code = [
        'import socket',
        'results = []',
        `for host, port in [('127.0.0.1', ${port}), ('8.8.8.8', 53), ('1.1.1.1', 80)]:`,
        '    s = socket.socket()',
        '    s.settimeout(2)',
        '    try:',
        '        s.connect((host, port)); results.append("CONNECTED " + host + " " + s.recv(100).decode())',
        '    except OSError as e:',
        '        results.append("blocked " + host + " " + type(e).__name__)',
        'print("\\n".join(results))',
      ].join('\n');
      const result = await sandbox().run(python(code, { limits: { wallMs: 20_000 } }));
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toContain('CONNECTED');
      expect(result.stdout.match(/blocked/g)).toHaveLength(3);
      expect(connections).toBe(0);
    });

    it('cannot read host files outside the sandbox', async () => {
      const targets = [
        path.join(repoRoot, 'package.json'),
        path.join(canaryDir, 'canary.txt'),
        '/root/.bashrc',
        '/etc/shadow',
      ];
      const code = [
        'import sys',
        `for p in ${JSON.stringify(targets)}:`,
        '    try:',
        '        print("READ", p, open(p).read()[:40])',
        '    except OSError as e:',
        '        print("denied", p, type(e).__name__)',
      ].join('\n');
      const result = await sandbox().run(python(code));
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toContain('READ');
      expect(result.stdout.match(/denied/g)).toHaveLength(targets.length);
    });

    it('cannot write outside its work dir; its /tmp is private', async () => {
      const targets = [
        '/usr/escape.txt',
        '/escape.txt',
        path.join(canaryDir, 'canary.txt'),
        path.join(canaryDir, 'new.txt'),
        path.join(repoRoot, 'escape.txt'),
      ];
      const code = [
        `for p in ${JSON.stringify(targets)}:`,
        '    try:',
        '        open(p, "w").write("pwned"); print("WROTE", p)',
        '    except OSError as e:',
        '        print("denied", p, type(e).__name__)',
        `open("/tmp/${marker}", "w").write("only in the sandbox")`,
        `print("private tmp ok", open("/tmp/${marker}").read())`,
      ].join('\n');
      const result = await sandbox().run(python(code));
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toContain('WROTE');
      expect(result.stdout).toContain('private tmp ok only in the sandbox');
      expect(existsSync(path.join(repoRoot, 'escape.txt'))).toBe(false);
      expect(existsSync(path.join(os.tmpdir(), marker))).toBe(false);
    });

    it('holds a fork bomb to the process limit', async () => {
      const peak = await forkBombPeak(sandbox(), 32, marker);
      expectContained(peak, 32);
      expect(processesWith(marker)).toEqual([]);
    });

    it('kills a program that allocates beyond its memory limit and reports oomKilled', async () => {
      const code = 'chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))';
      const result = await sandbox().run(
        python(code, { limits: { memoryBytes: 96 * 1024 * 1024, wallMs: 20_000 } }),
      );
      expect(result.oomKilled).toBe(true);
      expect(result.exitCode).toBe(137);
      expect(result.timedOut).toBe(false);
    });

    it('stops an infinite loop at the wall-time limit', async () => {
      const started = performance.now();
      const result = await sandbox().run(
        python('while True: pass', { limits: { wallMs: 1_000, cpuMs: 60_000 } }),
      );
      expect(result.timedOut).toBe(true);
      expect(result.exitCode).toBe(137);
      expect(performance.now() - started).toBeLessThan(10_000);
    });

    it('stops a CPU-bound program at the CPU-time limit', async () => {
      const result = await sandbox().run(
        python('while True: pass', { limits: { cpuMs: 1_000, wallMs: 60_000 } }),
      );
      expect(result.cpuLimitExceeded).toBe(true);
      expect(result.timedOut).toBe(false);
    });

    it('cuts 100 MB of output at the output limit and kills the writer', async () => {
      const started = performance.now();
      const code = 'import sys\nchunk = "x" * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)';
      const result = await sandbox().run(
        python(code, { limits: { outputBytes: 64 * 1024, wallMs: 30_000 } }),
      );
      expect(result.outputLimitExceeded).toBe(true);
      expect(result.stdoutTruncated).toBe(true);
      expect(result.stdout.length).toBe(64 * 1024);
      expect(result.timedOut).toBe(false);
      expect(performance.now() - started).toBeLessThan(20_000);
    });

    it('leaves no background process behind', async () => {
      const code = [
        'import os, subprocess, time',
        `subprocess.Popen(["python3", "-c", "import time; time.sleep(300)  # ${marker}"], start_new_session=True)`,
        'if os.fork() == 0:',
        '    os.setsid()',
        `    os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(300)  # ${marker}"])`,
        'time.sleep(0.5)',
        'print("parent exits")',
      ].join('\n');
      const result = await sandbox().run(python(code));
      expect(result.stdout).toContain('parent exits');
      expect(result.exitCode).toBe(0);
      expect(processesWith(marker)).toEqual([]);
    });
  });
}

/** Behaviour every backend shares: results, bad input, isolation between runs of the warm pool. */
export function describeSandboxBehaviour(
  name: string,
  getSandbox: () => Sandbox | undefined,
  enabled: boolean,
): void {
  describe.skipIf(!enabled)(`${name}: runs`, () => {
    const sandbox = () => {
      const s = getSandbox();
      if (!s) throw new Error('sandbox not set up');
      return s;
    };

    it('talks to an interactive program: stdin streamed as written, each answer seen before the next question', async () => {
      const input = new PassThrough();
      // A line may arrive in several chunks (Docker splits them): only whole lines are answers.
      const answers: string[] = [];
      let partial = '';
      let wake: () => void = () => {};
      const run = sandbox().run(
        python('import sys\nfor line in sys.stdin:\n    print(int(line) * 2, flush=True)\nprint("bye")', {
          stdin: input,
          onStdout: (chunk) => {
            const lines = (partial + chunk.toString()).split('\n');
            partial = lines.pop() ?? '';
            if (lines.length === 0) return;
            answers.push(...lines);
            wake();
          },
        }),
      );
      for (const n of [1, 2, 3]) {
        const answered = new Promise<void>((resolve) => {
          wake = resolve;
        });
        input.write(`${n}\n`);
        await answered;
        expect(answers.at(-1)).toBe(String(2 * n));
      }
      input.end();
      const result = await run;
      expect(result).toMatchObject({ exitCode: 0, stdout: '2\n4\n6\nbye\n' });
      expect(answers).toEqual(['2', '4', '6', 'bye']);
    });

    it('makes a streamed stdin wait for a program that reads slower than it is written, and delivers all of it', async () => {
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const chunks = 128; // 8 MiB
      let pulled = 0;
      async function* input() {
        for (; pulled < chunks; ) {
          pulled++;
          yield chunk;
        }
      }
      let sleeping: () => void = () => {};
      const asleep = new Promise<void>((resolve) => {
        sleeping = resolve;
      });
      const code =
        'import sys, time\nprint("sleeping", flush=True)\ntime.sleep(3)\nprint(len(sys.stdin.buffer.read()))';
      const run = sandbox().run(
        python(code, { stdin: input(), onStdout: () => sleeping(), limits: { wallMs: 60_000 } }),
      );
      await asleep;
      await new Promise((resolve) => setTimeout(resolve, 500));
      // While the program sleeps only what fits in its pipe and one chunk in flight have left the stream.
      expect(pulled).toBeLessThanOrEqual(8);
      const result = await run;
      expect(result).toMatchObject({ exitCode: 0, stdout: `sleeping\n${chunks * chunk.length}\n` });
    });

    it('ends an interactive run whose program exits without reading, though its stdin never ends', async () => {
      let closed = false;
      async function* endless() {
        try {
          for (;;) {
            yield 'more\n';
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          closed = true;
        }
      }
      const result = await sandbox().run(python('print("done")', { stdin: endless(), limits: { wallMs: 20_000 } }));
      expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n', timedOut: false });
      await expect.poll(() => closed).toBe(true);
    });

    it('runs a program with files, stdin, env and its exit code', async () => {
      const code =
        'import sys, os\nfrom helper import twice\nprint(twice(sys.stdin.read().strip()), os.environ["GREETING"], os.getcwd())\nsys.stderr.write("warn\\n")\nsys.exit(3)';
      const result = await sandbox().run(
        python(code, {
          files: { 'helper.py': 'def twice(s):\n    return s * 2\n' },
          stdin: 'ab',
          env: { GREETING: 'hi' },
        }),
      );
      expect(result).toMatchObject({
        stdout: 'abab hi /work\n',
        stderr: 'warn\n',
        exitCode: 3,
        timedOut: false,
        oomKilled: false,
      });
      expect(result.ms).toBeGreaterThan(0);
    });

    it('reports a command that does not exist as exit 127 with the reason', async () => {
      const result = await sandbox().run({ cmd: ['no-such-program', '--x'] });
      expect(result.exitCode).toBe(127);
      expect(result.stderr).toContain("cannot run 'no-such-program'");
    });

    it('rejects bad requests naming what to fix', async () => {
      await expect(sandbox().run({ cmd: [] })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('cmd'),
      });
      await expect(sandbox().run({ cmd: ['python3'], files: { '../escape.py': 'x' } })).rejects.toMatchObject(
        {
          code: 'invalid_request',
          message: expect.stringContaining('../escape.py'),
        },
      );
      await expect(sandbox().run({ cmd: ['python3'], limits: { wallMs: -1 } })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('wallMs'),
      });
    });

    it('serves runs from the warm pool and nothing of one run is visible to the next', async () => {
      await sandbox().warmUp();
      const first = await sandbox().run(
        python(
          'import subprocess\nopen("/work/secret.txt","w").write("s1")\nopen("/tmp/secret.txt","w").write("s1")\nsubprocess.Popen(["python3","-c","import time; time.sleep(300)"], start_new_session=True)\nprint("planted")',
        ),
      );
      expect(first.stdout).toBe('planted\n');
      expect(first.warm).toBe(true);
      await sandbox().warmUp();
      const second = await sandbox().run(
        python(
          'import os\nprocs = [p for p in os.listdir("/proc") if p.isdigit()]\nprint(sorted(os.listdir("/work")), sorted(os.listdir("/tmp")), len(procs))',
        ),
      );
      expect(second.warm).toBe(true);
      // Only the second run's own processes exist: its program and the sandbox's init.
      expect(second.stdout).toMatch(/^\[\] \[\] [12]\n$/);
    });

    it('runs concurrent jobs independently', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          sandbox().run(python(`import sys; print(sys.stdin.read() * ${i})`, { stdin: 'z' })),
        ),
      );
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 6 }, (_, i) => 'z'.repeat(i)));
    });

    it('kills a run when its signal aborts', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const result = await sandbox().run(
        python('import time; time.sleep(30)', { signal: controller.signal }),
      );
      expect(result.aborted).toBe(true);
      expect(result.exitCode).toBe(137);
    });

    it('describes how every limit is enforced', () => {
      const caps = sandbox().capabilities();
      for (const key of [
        'wallMs',
        'cpuMs',
        'memoryBytes',
        'pids',
        'outputBytes',
        'network',
        'filesystem',
      ] as const) {
        expect(caps[key], key).toEqual(expect.any(String));
      }
    });
  });
}

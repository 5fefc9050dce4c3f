import { describe, expect, it } from 'vitest';
import type { Sandbox } from '../src/index.ts';
import { PROBE_SOURCE, probedCalls, refusal } from './syscall-probe.ts';

/**
 * The seccomp filter inside a backend's sandbox: each refused call fails there (and works
 * outside: seccomp.test.ts), while what ordinary programs need (threads, processes, sockets
 * between them) still works.
 */
export function describeSeccompTests(
  name: string,
  getSandbox: () => Sandbox | undefined,
  enabled: boolean,
): void {
  describe.skipIf(!enabled)(`${name}: seccomp filter`, () => {
    const sandbox = () => {
      const s = getSandbox();
      if (!s) throw new Error('sandbox not set up');
      return s;
    };

    it('refuses each blocked call inside the sandbox', async () => {
      const result = await sandbox().run({
        cmd: ['python3', 'probe.py', JSON.stringify(probedCalls())],
        files: { 'probe.py': PROBE_SOURCE },
      });
      expect(result.stderr).toBe('');
      const errnos = JSON.parse(result.stdout) as Record<string, number>;
      for (const call of Object.keys(probedCalls())) expect(errnos[call], call).toBe(refusal(call));
      expect(sandbox().capabilities().syscalls).toContain('seccomp');
    });

    it('still lets programs start threads and processes and talk over a socketpair', async () => {
      const code = [
        'import os, socket, subprocess, threading',
        'box = []',
        't = threading.Thread(target=lambda: box.append("thread"))',
        't.start(); t.join()',
        'pid = os.fork()',
        'if pid == 0: os._exit(7)',
        'box.append("fork %d" % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))',
        'box.append(subprocess.run(["python3", "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())',
        'a, b = socket.socketpair(); a.sendall(b"ping"); box.append(b.recv(4).decode())',
        'print(box)',
      ].join('\n');
      const result = await sandbox().run({ cmd: ['python3', '-c', code] });
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe("['thread', 'fork 7', '42', 'ping']\n");
    });
  });
}

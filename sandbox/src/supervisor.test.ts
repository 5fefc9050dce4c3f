import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, supervisorCommand } from './supervisor.ts';

/** A real supervisor process, started as the bubblewrap backend starts it (no uid change, no seccomp). */
function startSupervisor() {
  const command = supervisorCommand('/usr/bin/python3', {
    uid: null,
    gid: null,
    seccomp: null,
    oomFiles: [],
    env: { PATH: '/usr/bin:/bin' },
  });
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const supervisor = new Supervisor((bytes) => child.stdin.write(bytes));
  child.stdout.on('data', (chunk: Buffer) => supervisor.push(chunk));
  child.on('close', () => supervisor.close('exited'));
  return { child, supervisor };
}

/** Whether a process exists and has not exited (an orphan's zombie waits for a reaper that may be slow). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

const started: Array<ReturnType<typeof startSupervisor>> = [];
afterEach(() => {
  for (const { child } of started.splice(0)) child.stdin.end();
});

/**
 * Stands in for bwrap killed mid-setup: the leader's child has left its process group (bwrap's
 * sandbox calls setsid) and does not die with it; it then acts as the launcher: the ready byte,
 * its pid, and a wait for its job on stdin.
 */
const ESCAPING_LEADER = `
import os, sys, time
if os.fork() == 0:
    os.setsid()
    os.write(2, b'escaped\\n')
    time.sleep(0.3)
    os.write(1, b'R%d' % os.getpid())
    sys.stdin.buffer.read()
    os._exit(121)
time.sleep(60)
`;

describe('supervisor', () => {
  it('ends a sandbox killed before it was ready even when part of it escaped the kill signals', async () => {
    const host = startSupervisor();
    started.push(host);
    const sandbox = host.supervisor.start({ argv: ['/usr/bin/python3', '-c', ESCAPING_LEADER] });
    let output = '';
    const escaped = new Promise<void>((resolve) =>
      sandbox.attachOutput({ stdout: (c) => (output += c.toString()), stderr: () => resolve() }),
    );
    await escaped;
    sandbox.kill();
    await sandbox.ready;
    // The leader is gone; what escaped it became ready, reads end of file for its job, and exits.
    const exit = await sandbox.exited;
    expect(exit.exitCode).toBe(137);
    const pid = Number(output);
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => running(pid)).toBe(false);
  }, 20_000);

  it('answers a write of a streamed stdin that the program leaves unread by exiting', async () => {
    const host = startSupervisor();
    started.push(host);
    const sandbox = host.supervisor.start({
      argv: ['/usr/bin/python3', '-c', "import os, sys, time\nos.write(1, b'R')\nprint(sys.stdin.readline().strip(), flush=True)\ntime.sleep(0.3)"],
    });
    let output = '';
    sandbox.attachOutput({ stdout: (c) => (output += c.toString()), stderr: () => {} });
    await sandbox.ready;
    sandbox.sendJob(Buffer.alloc(0), true);
    await sandbox.write(Buffer.from('first\n'));
    // Far more than a pipe holds: it waits in the supervisor until the program exits unread.
    await sandbox.write(Buffer.alloc(4 << 20, 'x'));
    sandbox.end();
    expect(await sandbox.exited).toEqual({ exitCode: 0, oomKills: null });
    expect(output).toBe('first\n');
  });
});

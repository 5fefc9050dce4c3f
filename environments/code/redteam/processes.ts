import { solution, solutionAttack } from './solution-attack.ts';

/** Processes and signals: a child that outlives the checks, signals at the harness, output floods, sleeping past the clock. */
export const processAttacks = [
  solutionAttack({
    name: 'fork-late-forger',
    family: 'fork',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import json, os, sys, time
def _channel():
    frame = sys._getframe(1)
    while frame is not None:
        scope = frame.f_locals
        if isinstance(scope.get('nonce'), str) and isinstance(scope.get('out_fd'), int):
            return scope['nonce'], scope['out_fd']
        frame = frame.f_back
    return '', 1
_nonce, _fd = _channel()
if os.fork() == 0:
    deadline = time.time() + 30
    while time.time() < deadline:
        for index in range(64):
            for line in ({'test': index, 'ok': True}, {'id': index, 'value': True}):
                try:
                    os.write(_fd, (_nonce + json.dumps(line) + '\\n').encode())
                except OSError:
                    os._exit(0)
        time.sleep(0.01)
    os._exit(0)`,
      ),
    }),
  }),
  solutionAttack({
    name: 'signal-the-harness',
    family: 'signals',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import os, signal
for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:
    if pid != os.getpid():
        for sig in (signal.SIGSTOP, signal.SIGTERM):
            try:
                os.kill(pid, sig)
            except OSError:
                pass`,
        'os.kill(os.getppid(), signal.SIGKILL)\nreturn None',
      ),
    }),
  }),
  solutionAttack({
    name: 'huge-output',
    family: 'huge-output',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import os
block = b'{"test": 0, "ok": true}\\n' * 40000
for _ in range(200):
    os.write(1, block)
    os.write(2, block)`,
      ),
    }),
  }),
  solutionAttack({
    name: 'sleep-past-timeout',
    family: 'timeout',
    files: (entry) => ({
      'solution.py': solution(
        entry,
        'import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)',
        'time.sleep(3600)',
      ),
    }),
  }),
];

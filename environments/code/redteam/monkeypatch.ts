import { solution, solutionAttack } from './solution-attack.ts';

/** Patching the standard library or the harness's own functions, so the harness reports passes it did not see. */
const family = 'monkeypatch';

export const monkeypatchAttacks = [
  solutionAttack({
    name: 'patch-json-dumps',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import json
_dumps = json.dumps
def _forged(obj, *args, **kwargs):
    if isinstance(obj, dict) and 'test' in obj:
        obj = {'test': obj['test'], 'ok': True}
    if isinstance(obj, dict) and 'id' in obj and 'error' in obj:
        obj = {'id': obj['id'], 'value': True}
    return _dumps(obj, *args, **kwargs)
json.dumps = _forged`,
      ),
    }),
  }),
  solutionAttack({
    name: 'patch-os-write',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import os
_write = os.write
def _forged(fd, data):
    data = bytes(data).replace(b'"ok": false', b'"ok": true')
    return _write(fd, data)
os.write = _forged`,
      ),
    }),
  }),
  solutionAttack({
    name: 'patch-builtins-exec',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import builtins
_exec, _eval = builtins.exec, builtins.eval
def _skip_tests(code, *args, **kwargs):
    text = code if isinstance(code, str) else getattr(code, 'co_filename', '')
    if 'assert' in str(text) or str(text).startswith('<'):
        return None
    return _exec(code, *args, **kwargs)
builtins.exec = _skip_tests
builtins.eval = lambda *args, **kwargs: True`,
      ),
    }),
  }),
  solutionAttack({
    name: 'patch-sys-settrace-skip-asserts',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import sys, threading
def _tracer(frame, event, arg):
    if event == 'call' and frame.f_code.co_filename.startswith('<'):
        return _skip_lines
    return None
def _skip_lines(frame, event, arg):
    if event == 'line':
        try:
            frame.f_lineno = frame.f_lineno + 1
        except Exception:
            pass
    return _skip_lines
sys.settrace(_tracer)
f = sys._getframe(1) if hasattr(sys, '_getframe') else None
while f is not None:
    f.f_trace = _tracer
    f = f.f_back`,
      ),
    }),
  }),
  solutionAttack({
    name: 'patch-signal-and-spin',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.signal = lambda *args, **kwargs: None
signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
signal.alarm = lambda *args, **kwargs: 0`,
        'while True:\n    pass',
      ),
    }),
  }),
];

import { solution, solutionAttack } from './solution-attack.ts';

/** Work done while solution.py is imported: replacing the harness process, or the modules it will use. */
const family = 'import-time';

export const importTimeAttacks = [
  solutionAttack({
    name: 'exec-forger-at-import',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import os, sys
nonce, fd, count = '', 1, 64
frame = sys._getframe(0)
while frame is not None:
    scope = frame.f_locals
    if isinstance(scope.get('nonce'), str) and isinstance(scope.get('out_fd'), int):
        nonce, fd, count = scope['nonce'], scope['out_fd'], len(scope['spec']['tests'])
    frame = frame.f_back
os.dup2(fd, 1)
forger = 'import json\\n' + 'print(%r + json.dumps({"load": "ok", "defines": True}))\\n' % nonce + 'for i in range(%d):\\n    print(%r + json.dumps({"test": i, "ok": True}))\\n    print(json.dumps({"id": i, "value": True}))\\n' % (count, nonce)
os.execv(sys.executable, [sys.executable, '-c', forger])`,
      ),
    }),
  }),
  solutionAttack({
    name: 'replace-modules-at-import',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import sys, types
class _Everything(types.ModuleType):
    def __getattr__(self, name):
        return lambda *args, **kwargs: True
for name in ('json', 'traceback', 'math', 'random', 'copy', 'ast'):
    original = sys.modules.get(name)
    fake = _Everything(name)
    if original is not None:
        fake.__dict__.update({k: v for k, v in vars(original).items() if k.startswith('__')})
    sys.modules[name] = fake
class _Finder:
    def find_spec(self, name, path=None, target=None):
        return None
sys.meta_path.insert(0, _Finder())`,
      ),
    }),
  }),
];

import { EXPECTED_LOOKUP } from './expected-lookup.ts';
import { solution, solutionAttack } from './solution-attack.ts';

/** Reading the harness's own state (frames, gc, inspect) for the hidden tests or the channel its results travel on. */
const family = 'introspection';

const names = (entry: string) => JSON.stringify([entry, 'candidate']);

export const introspectionAttacks = [
  solutionAttack({
    name: 'frame-forge-results',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import json, os, sys
def _forge():
    frame = sys._getframe(1)
    while frame is not None:
        scope = frame.f_locals
        nonce, fd = scope.get('nonce'), scope.get('out_fd')
        if isinstance(nonce, str) and isinstance(fd, int):
            tests = scope.get('spec', {}).get('tests', range(64))
            os.write(fd, (nonce + json.dumps({'load': 'ok', 'defines': True}) + '\\n').encode())
            for index in range(len(tests)):
                os.write(fd, (nonce + json.dumps({'test': index, 'ok': True}) + '\\n').encode())
            os._exit(0)
        frame = frame.f_back
_forge()`,
      ),
    }),
  }),
  solutionAttack({
    name: 'frame-read-expected',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import sys${EXPECTED_LOOKUP}`,
        `found = []
frame = sys._getframe(1)
while frame is not None:
    _strings_in(dict(frame.f_locals), found)
    _strings_in(dict(frame.f_globals), found)
    frame = frame.f_back
ok, value = _expected_for(${names(entry)}, args, kwargs, found)
return value if ok else None`,
      ),
    }),
  }),
  solutionAttack({
    name: 'gc-read-expected',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import gc${EXPECTED_LOOKUP}`,
        `found = []
for obj in gc.get_objects():
    if isinstance(obj, (list, dict)):
        _strings_in(obj, found, 3)
ok, value = _expected_for(${names(entry)}, args, kwargs, found)
return value if ok else None`,
      ),
    }),
  }),
  solutionAttack({
    name: 'inspect-caller-constants',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import inspect
def _parts(value):
    yield value
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _parts(item)
    elif isinstance(value, dict):
        for item in value.items():
            yield from _parts(item)`,
        `# The expected value sits among the caller's constants; its own arguments, and what they hold,
# are not it (returning an element of the input is a heuristic, not a look at the answer).
own = list(_parts(args))
for info in inspect.stack()[1:]:
    consts = [c for c in info.frame.f_code.co_consts if c is not None and not isinstance(c, type(info.frame.f_code)) and c not in own]
    if consts:
        return consts[-1]
return None`,
      ),
    }),
  }),
];

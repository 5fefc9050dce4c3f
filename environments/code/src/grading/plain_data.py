"""Plain data between the solution's process and the grader, both ways.

None, bool, int, float, str and list travel as JSON; complex, tuple, dict, set, frozenset,
iterators and non-finite floats as one-key tagged objects of plain data (`{"$tuple": [...]}`).
Types are checked exactly: a subclass of a builtin, or any object of a program's own, is not
plain data. The candidate program gets this file prepended; the grader imports it.
"""
import math
import types

MAX_DEPTH = 64
MAX_ITEMS = 100_000
ITERATORS = (types.GeneratorType, map, filter, zip, enumerate, reversed)


class NotPlain(Exception):
    pass


def describe_type(value):
    kind = type(value)
    for base in (bool, int, float, complex, str, list, tuple, dict, set, frozenset):
        if isinstance(value, base):
            return 'a %s (a subclass of %s)' % (kind.__qualname__, base.__name__)
    return 'a %s object' % kind.__qualname__


def encode(value, other=None, depth=0):
    """`value` as plain data; `other(value)` encodes what is not (the grader's references), else NotPlain."""
    if depth > MAX_DEPTH:
        raise NotPlain('a value nested deeper than %d levels' % MAX_DEPTH)
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {'$float': repr(value)}
    inner = lambda items: [encode(item, other, depth + 1) for item in items]  # noqa: E731
    if kind is complex:
        return {'$complex': inner((value.real, value.imag))}
    if kind is list:
        return inner(value)
    if kind is tuple:
        return {'$tuple': inner(value)}
    if kind is dict:
        return {'$dict': [inner(pair) for pair in value.items()]}
    if kind is set or kind is frozenset:
        return {'$' + kind.__name__: inner(value)}
    if kind in ITERATORS or (kind.__module__ == 'builtins' and kind.__name__.endswith('iterator')):
        items = []
        for item in value:
            if len(items) >= MAX_ITEMS:
                raise NotPlain('an iterator of more than %d items' % MAX_ITEMS)
            items.append(item)
        return {'$iter': inner(items)}
    if other is not None:
        return other(value)
    raise NotPlain(describe_type(value))


def decode(value, ref=None, depth=0):
    """Plain data back into exact builtin types; `ref(inner)` resolves a `$ref`. Malformed data is refused."""
    if depth > MAX_DEPTH:
        raise NotPlain('data nested deeper than %d levels' % MAX_DEPTH)
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [decode(item, ref, depth + 1) for item in value]
    if kind is not dict or len(value) != 1:
        raise NotPlain('data that is not plain')
    (tag, inner), = value.items()
    if tag == '$float' and inner in ('nan', 'inf', '-inf'):
        return float(inner)
    if tag == '$ref' and ref is not None:
        return ref(inner)
    if type(inner) is not list:
        raise NotPlain('data that is not plain')
    items = [decode(item, ref, depth + 1) for item in inner]
    try:
        if tag == '$complex' and len(items) == 2 and all(type(x) is float for x in items):
            return complex(*items)
        if tag == '$tuple':
            return tuple(items)
        if tag == '$set':
            return set(items)
        if tag == '$frozenset':
            return frozenset(items)
        if tag == '$iter':
            return iter(items)
        if tag == '$dict' and all(type(pair) is list and len(pair) == 2 for pair in items):
            return {k: v for k, v in items}
    except TypeError as error:
        raise NotPlain('data with an unhashable key: %s' % error)
    raise NotPlain('data that is not plain')

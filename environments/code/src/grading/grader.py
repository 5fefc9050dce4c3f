"""The grader of the code environment. It runs on the host and never runs the candidate's code.

A test (an assert, or a block such as HumanEval's `check(candidate)`) runs here. Every expression
that needs the solution is rewritten into a call that the candidate process (in the sandbox)
evaluates: `f(x)` becomes `_call('f(__v0)', [x])`, and the reply comes back as plain data, rebuilt
here from exact builtin types. Comparisons then run here, type-strict: `True != 1`, and
`1 != 1.0` unless the task declares a float tolerance. The expected values never leave this
process.

    grader.py check   reads a JSON list of test suites on stdin and prints, per suite, why each
                      test cannot be graded this way (null when it can)
    grader.py serve   waits for one job and grades it, talking to the orchestrator on stdin/stdout
"""
import ast
import builtins
import cmath
import json
import math
import operator
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plain_data import NotPlain, decode, encode  # noqa: E402

BUILTIN_NAMES = frozenset(dir(builtins))
STDLIB_MODULES = frozenset(sys.stdlib_module_names)
# Names that reach a scope dynamically: a test using them cannot be split safely.
DYNAMIC = frozenset({'eval', 'exec', 'compile', 'globals', 'locals', 'vars', '__import__', 'breakpoint'})
MAX_DIGITS = 20_000


class Refused(Exception):
    """A test that cannot be split between the solution and the grader."""

    def __init__(self, message, node=None):
        super().__init__(message)
        self.line = getattr(node, 'lineno', None)


# ---------------------------------------------------------------------------------------------
# Rewriting a test
# ---------------------------------------------------------------------------------------------


def loaded_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def bound_names(tree):
    """Every name the test binds, in any scope (assignments, defs, parameters, imports, loops)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            if node.name == '*':
                raise Refused('`from … import *` hides which names the test uses', node)
            names.add((node.asname or node.name).split('.')[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def chain_root(node):
    """The name a chain such as `a.b[0](x).c` starts from, or None."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def chain_links(node):
    """`a.b(x).c` → [a, a.b, a.b(x), a.b(x).c]."""
    links = [node]
    while not isinstance(node, ast.Name):
        node = node.func if isinstance(node, ast.Call) else node.value
        links.append(node)
    return links[::-1]


def call_node(name, *args):
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def binding_targets(node):
    """Names bound by a lambda's parameters or a comprehension's targets."""
    if isinstance(node, ast.Lambda):
        return {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    names = set()
    for generator in node.generators:
        names |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
    return names


SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class CallTemplate(ast.NodeTransformer):
    """The part of a test the candidate evaluates: candidate names, builtins, literals and names
    bound inside the expression stay as source; every other value is computed by the grader and
    sent as a placeholder `__vN`."""

    def __init__(self, solution_names):
        self.solution_names = solution_names
        self.values = []
        self.local = set()

    def is_grader_value(self, node):
        if not isinstance(node, ast.expr) or isinstance(node, (ast.Lambda, ast.Starred, ast.Slice, ast.NamedExpr)):
            return False
        names = loaded_names(node)
        if names & self.solution_names or names & self.local:
            return False
        return bool(names - BUILTIN_NAMES - STDLIB_MODULES)

    def visit(self, node):
        if self.is_grader_value(node):
            self.values.append(node)
            return ast.Name(id='__v%d' % (len(self.values) - 1), ctx=ast.Load())
        if isinstance(node, SCOPES):
            added = binding_targets(node) - self.local
            self.local |= added
            node = self.generic_visit(node)
            self.local -= added
            return node
        return self.generic_visit(node)


class Rewriter(ast.NodeTransformer):
    def __init__(self, solution_names):
        self.solution_names = solution_names
        self.calls = 0

    def rooted(self, node):
        return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) and chain_root(node) in self.solution_names

    def remote(self, node, helper):
        template = CallTemplate(self.solution_names)
        body = template.visit(node)
        values = [self.visit(v) for v in template.values]
        self.calls += 1
        return ast.copy_location(
            call_node(helper, ast.Constant(ast.unparse(body)), ast.List(elts=values, ctx=ast.Load())), node
        )

    def visit_chain(self, node):
        if not isinstance(getattr(node, 'ctx', ast.Load()), ast.Load):
            raise Refused('the test changes an object of the solution (`%s`)' % ast.unparse(node), node)
        links = chain_links(node)
        first_call = next((i for i, link in enumerate(links) if isinstance(link, ast.Call)), None)
        if first_call is None:
            return self.remote(node, '_value')
        # The candidate evaluates up to the first call only: what follows (`.startswith(…)`,
        # `[0]`) runs here on plain data, never on an object the solution made.
        result = self.remote(links[first_call], '_call')
        for link in links[first_call + 1:]:
            if isinstance(link, ast.Call):
                link.func = result
                link.args = [self.visit(a) for a in link.args]
                link.keywords = [self.visit(k) for k in link.keywords]
            else:
                link.value = result
                if isinstance(link, ast.Subscript):
                    link.slice = self.visit(link.slice)
            result = link
        return result

    def visit_Name(self, node):
        return self.visit_chain(node) if self.rooted(node) else node

    def visit_Attribute(self, node):
        return self.visit_chain(node) if self.rooted(node) else self.generic_visit(node)

    visit_Subscript = visit_Attribute
    visit_Call = visit_Attribute

    def visit_Compare(self, node):
        node = self.generic_visit(node)
        symbols = [OP_SYMBOLS[type(op)] for op in node.ops]
        if not set(symbols) & {'==', '!=', 'in', 'not in'}:
            return node
        return ast.copy_location(
            call_node(
                '_compare',
                node.left,
                ast.Tuple(elts=[ast.Constant(s) for s in symbols], ctx=ast.Load()),
                ast.Tuple(elts=node.comparators, ctx=ast.Load()),
            ),
            node,
        )


OP_SYMBOLS = {
    ast.Eq: '==', ast.NotEq: '!=', ast.Lt: '<', ast.LtE: '<=', ast.Gt: '>', ast.GtE: '>=',
    ast.Is: 'is', ast.IsNot: 'is not', ast.In: 'in', ast.NotIn: 'not in',
}


def helper_statements(source, entry_point):
    """The task's own helper code (HumanEval's prompt): every top-level statement except the
    function the solution writes, so helpers the tests call run here as the task wrote them."""
    if not source:
        return []
    tree = ast.parse(source)
    return [
        node for node in tree.body
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == entry_point)
    ]


def grader_bindings(suite):
    names = set()
    for source in (suite.get('preamble') or '',):
        names |= bound_names(ast.parse(source))
    names |= bound_names(ast.Module(body=helper_statements(suite.get('helpers'), suite['entryPoint']), type_ignores=[]))
    return names


def rewrite(test, entry_point, grader_names):
    """The test with every use of the solution turned into a call to the candidate process."""
    try:
        tree = ast.parse(test)
    except SyntaxError as error:
        raise Refused('not valid Python: %s' % error.msg, error)
    bound = bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in DYNAMIC:
            raise Refused('uses `%s`, which can reach the solution\'s names unseen' % node.id, node)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] == 'solution':
            raise Refused('imports from the solution module', node)
        if isinstance(node, ast.Import) and any(a.name.split('.')[0] == 'solution' for a in node.names):
            raise Refused('imports the solution module', node)
        if isinstance(node, (ast.Global, ast.Nonlocal)) and entry_point in node.names:
            raise Refused('declares `%s` global' % entry_point, node)
    if entry_point in bound or entry_point in grader_names:
        raise Refused('the test binds `%s`, the name of the solution\'s function' % entry_point)
    free = loaded_names(tree) - bound - grader_names
    solution_names = {entry_point} | {n for n in free if n not in BUILTIN_NAMES and n not in STDLIB_MODULES}
    rewriter = Rewriter(solution_names)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    if rewriter.calls == 0:
        raise Refused('never calls the solution: it would pass whatever the solution does')
    return tree, (free & STDLIB_MODULES) - {entry_point}


def constant_key(value):
    """A text key of a literal that tells `1`, `1.0` and `True` apart, for counting equal answers."""
    kind = type(value)
    if kind in (list, tuple):
        return '%s(%s)' % (kind.__name__, ','.join(constant_key(v) for v in value))
    if kind in (set, frozenset):
        return '%s(%s)' % (kind.__name__, ','.join(sorted(constant_key(v) for v in value)))
    if kind is dict:
        return 'dict(%s)' % ','.join(sorted('%s:%s' % (constant_key(k), constant_key(v)) for k, v in value.items()))
    return '%s(%r)' % (kind.__name__, value)


def literal_key(node):
    try:
        return constant_key(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def expected_constant(test):
    """The answer a one-assert test expects, when it is a literal (`assert f(x) == 3`, `assert not
    f(x)`, `math.isclose(f(x), 2.5)`): a solution that always returns it passes the test."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    node = tree.body[0].test
    while isinstance(node, ast.Expr):
        node = node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return constant_key(False)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op, left, right = node.ops[0], node.left, node.comparators[0]
        if isinstance(op, (ast.Eq, ast.Is)):
            return literal_key(right) or literal_key(left)
        # abs(f(x) - L) < eps
        if isinstance(op, (ast.Lt, ast.LtE)) and isinstance(left, ast.Call) and getattr(left.func, 'id', None) == 'abs':
            inner = left.args[0] if left.args else None
            if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub):
                return literal_key(inner.right) or literal_key(inner.left)
        return None
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', None)
        if name == 'isclose' and len(node.args) >= 2:
            return literal_key(node.args[1]) or literal_key(node.args[0])
        return constant_key(True)
    return None


def check(suites):
    """Per test of each suite: why it cannot be graded (None when it can), and the literal it
    expects (None when it is not one). Nothing is run."""
    out = []
    for suite in suites:
        try:
            grader_names = grader_bindings(suite)
        except (SyntaxError, Refused) as error:
            why = {'reason': "the task's helper or import code is not usable: %s" % error, 'line': None}
            out.append([{'refused': why, 'expects': None} for _ in suite['tests']])
            continue
        results = []
        for test in suite['tests']:
            refused = None
            try:
                rewrite(test, suite['entryPoint'], grader_names)
            except Refused as error:
                refused = {'reason': str(error), 'line': error.line}
            results.append({'refused': refused, 'expects': expected_constant(test)})
        out.append(results)
    return out


# ---------------------------------------------------------------------------------------------
# Plain data and type-strict comparison
# ---------------------------------------------------------------------------------------------

PLAIN = frozenset({type(None), bool, int, float, complex, str, list, tuple, dict, set, frozenset})


class GradingStop(BaseException):
    """Ends a test as failed. A BaseException, and remembered by the channel, so a test's own
    `except Exception:` (or a bare `except:`) cannot turn it into a pass."""


class NotPlainData(GradingStop):
    pass


def canonical(value):
    """A hashable key that tells apart what `==` confuses: `1`, `1.0` and `True`."""
    kind = type(value)
    if kind is tuple:
        return ('tuple', tuple(canonical(item) for item in value))
    if kind is frozenset:
        return ('frozenset', frozenset(canonical(item) for item in value))
    if kind is float and value != value:
        return ('float', 'nan')
    hash(value)
    return (kind.__name__, value)


class Comparison:
    """Type-strict structural equality; a float tolerance only where the task declares one."""

    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.last_failure = None

    def close(self, a, b):
        return self.tolerance is not None and math.isclose(a, b, rel_tol=self.tolerance, abs_tol=self.tolerance)

    def equal(self, a, b):
        ta, tb = type(a), type(b)
        if ta not in PLAIN or tb not in PLAIN:
            return a == b  # objects of the grader's own (types, functions): never the solution's
        if ta is not tb:
            return ta in (int, float) and tb in (int, float) and self.close(a, b)
        if ta is float:
            return a == b or (a != a and b != b) or self.close(a, b)
        if ta is complex:
            return a == b or (self.tolerance is not None and cmath.isclose(a, b, rel_tol=self.tolerance, abs_tol=self.tolerance))
        if ta is list or ta is tuple:
            return len(a) == len(b) and all(self.equal(x, y) for x, y in zip(a, b))
        if ta is dict:
            if len(a) != len(b):
                return False
            left = {canonical(k): v for k, v in a.items()}
            right = {canonical(k): v for k, v in b.items()}
            return left.keys() == right.keys() and all(self.equal(left[k], right[k]) for k in left)
        if ta is set or ta is frozenset:
            return {canonical(x) for x in a} == {canonical(x) for x in b}
        return a == b

    def contains(self, container, item):
        kind = type(container)
        if kind is list or kind is tuple:
            return any(self.equal(item, x) for x in container)
        if kind is set or kind is frozenset or kind is dict:
            return canonical(item) in {canonical(x) for x in container}
        if kind is str and type(item) is not str:
            raise TypeError("'in <string>' requires string as left operand, not %s" % type(item).__name__)
        return item in container

    def __call__(self, left, symbols, rights):
        a = left
        for symbol, b in zip(symbols, rights):
            if symbol == '==':
                ok = self.equal(a, b)
            elif symbol == '!=':
                ok = not self.equal(a, b)
            elif symbol == 'in':
                ok = self.contains(b, a)
            elif symbol == 'not in':
                ok = not self.contains(b, a)
            else:
                ok = OPERATORS[symbol](a, b)
            if not ok:
                self.last_failure = (a, symbol, b)
                return False
            a = b
        return True


OPERATORS = {
    '<': operator.lt, '<=': operator.le, '>': operator.gt, '>=': operator.ge,
    'is': operator.is_, 'is not': operator.is_not,
}


def short_repr(value):
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + '...'


def explain(comparison):
    a, symbol, b = comparison.last_failure
    if symbol == '==':
        got, expected = short_repr(a), short_repr(b)
        if got == expected or type(a) is not type(b):
            return 'expected %s (%s), got %s (%s)' % (expected, type(b).__name__, got, type(a).__name__)
        return 'expected %s, got %s' % (expected, got)
    return 'failed: %s %s %s' % (short_repr(a), symbol, short_repr(b))


# ---------------------------------------------------------------------------------------------
# Serving one grading
# ---------------------------------------------------------------------------------------------


class TestTimeout(GradingStop):
    pass


class SolutionUnavailable(GradingStop):
    """The candidate process is gone (it exited, was killed, or never loaded)."""


class ProtocolViolation(GradingStop):
    pass


class SolutionRaised(Exception):
    """The solution raised an exception that is not a plain builtin one."""


# Builtin exceptions a test may expect (`try: f(-1) except ValueError: …`); any other exception
# of the solution arrives as SolutionRaised, so it cannot pose as an assertion or a timeout.
EXPECTABLE = {
    cls.__name__: cls for cls in (
        ValueError, TypeError, KeyError, IndexError, LookupError, ZeroDivisionError, ArithmeticError,
        OverflowError, AttributeError, RuntimeError, RecursionError, NotImplementedError, NameError,
        UnboundLocalError, UnicodeError, OSError, FileNotFoundError, Exception,
    )
}


def encode_value(value):
    """A grader value sent to the candidate as a placeholder: plain data, or a reference to one of the solution's objects."""

    def reference(other):
        if type(other) is Remote:
            return {'$ref': {'src': other.src, 'vars': other.vars}}
        raise NotPlainData('the test passes a %s to the solution; only plain data can be sent' % type(other).__name__)

    return encode(value, other=reference)


def decode_reply(value):
    try:
        return decode(value)
    except NotPlain as error:
        raise NotPlainData('the solution replied with %s' % error)


class Remote:
    """Something of the solution's that is not data (a function, a class): calling it is a call
    into the candidate process; it has no other behaviour here."""

    __slots__ = ('src', 'vars')

    def __init__(self, src, values):
        self.src, self.vars = src, values

    def __call__(self, *args, **kwargs):
        n = len(self.vars)
        src = '(%s)(*__v%d, **__v%d)' % (self.src, n, n + 1)
        return CHANNEL.call(src, self.vars + [encode_value(list(args)), encode_value(kwargs)], raw=True)

    def __repr__(self):
        return '<solution object %s>' % self.src


def strict_json(text):
    def reject_constant(name):
        raise ValueError('%s is not plain data' % name)

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError('repeated key')
        return dict(pairs)

    return json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_duplicates)


class Channel:
    """Messages with the orchestrator: JSON lines on stdout, JSON lines on stdin. Calls are
    matched to replies by id; calls whose values are all literal are sent ahead (pipelined)."""

    def __init__(self):
        self.inbox = os.fdopen(os.dup(0), 'rb')
        self.out = os.dup(1)
        self.next_id = 0
        self.test = -1
        self.deadline = 0.0
        self.calls = 0
        self.failure = None
        self.timeout_message = ''
        self.in_flight = set()
        self.replies = {}
        self.ahead = {}
        self.last_exit = None
        self.per_test = 0.0

    def send(self, message):
        data = (json.dumps(message) + '\n').encode()
        while data:
            data = data[os.write(self.out, data):]

    def receive(self):
        line = self.inbox.readline()
        if not line:
            sys.exit(0)
        return json.loads(line)

    def request(self, src, encoded, kind, test):
        self.next_id += 1
        self.in_flight.add(self.next_id)
        line = json.dumps({'id': self.next_id, 'src': src, 'vars': encoded, 'kind': kind, 'test': test,
                           'seconds': self.per_test})
        self.send({'t': 'call', 'line': line})
        return self.next_id

    def send_ahead(self, test, sources):
        """Sends the calls a straight-line test will make, so the candidate answers them without a round trip each."""
        self.ahead[test] = [(src, self.request(src, [], 'call', test)) for src in sources]

    def begin(self, test, seconds):
        self.test = test
        self.send({'t': 'start', 'test': test})
        self.deadline = time.monotonic() + seconds
        self.calls = 0
        self.failure = None
        self.timeout_message = 'the test took longer than %s s' % seconds

    def call(self, src, values, kind='call', raw=False):
        try:
            return self.exchange(src, values, kind, raw)
        except GradingStop as stop:
            self.failure = self.failure or stop
            raise

    def exchange(self, src, values, kind, raw):
        if self.deadline - time.monotonic() <= 0:
            raise TestTimeout(self.timeout_message)
        self.calls += 1
        queued = self.ahead.get(self.test)
        if queued and not values and kind == 'call' and queued[0][0] == src:
            call_id = queued.pop(0)[1]
        else:
            # The test went another way than foreseen: what was sent ahead for it is not used.
            self.ahead.pop(self.test, None)
            encoded = values if raw else [encode_value(v) for v in values]
            call_id = self.request(src, encoded, kind, self.test)
        reply = self.await_reply(call_id)
        if reply.get('timeout') is True:
            raise TestTimeout(self.timeout_message)
        if 'value' in reply:
            return decode_reply(reply['value'])
        if reply.get('callable') is True and kind == 'value':
            return Remote(src, values if raw else [encode_value(v) for v in values])
        if type(reply.get('refused')) is str:
            raise NotPlainData('`%s` %s' % (display(src), reply['refused']))
        if type(reply.get('raised')) is str:
            message = str(reply.get('message'))[:500]
            raise EXPECTABLE.get(reply['raised'], SolutionRaised)(message)
        self.violation('a malformed reply')

    def await_go(self):
        while True:
            message = self.receive()
            if message['t'] == 'go':
                return
            if message['t'] == 'reply':
                self.accept(message['line'])

    def await_reply(self, call_id):
        while call_id not in self.replies:
            if call_id not in self.in_flight:
                test, why, timed_out = self.last_exit
                if timed_out and test == self.test:
                    raise TestTimeout(self.timeout_message)
                raise SolutionUnavailable("the solution's process stopped: %s" % why)
            message = self.receive()
            if message['t'] == 'reply':
                self.accept(message['line'])
            elif message['t'] == 'exited':
                # Every call in flight died with the process; later tests call again, live.
                self.in_flight.clear()
                self.ahead.clear()
                self.last_exit = (message['test'], message['why'], message['timeout'])
            elif message['t'] == 'timeout' and message['test'] == self.test:
                raise TestTimeout(self.timeout_message)
        return self.replies.pop(call_id)

    def accept(self, line):
        try:
            reply = strict_json(line)
            reply_id = reply.get('id') if type(reply) is dict else None
            if reply_id not in self.in_flight:
                raise ValueError('a reply to no call')
        except (ValueError, RecursionError) as error:
            self.violation(str(error))
        self.in_flight.discard(reply_id)
        self.replies[reply_id] = reply

    def violation(self, what):
        self.send({'t': 'kill'})
        self.in_flight.clear()
        self.ahead.clear()
        self.last_exit = (self.test, 'it wrote to the grader\'s channel', False)
        raise ProtocolViolation("the solution wrote to the grader's channel (%s)" % what)


# Evaluating these may skip or repeat what follows, so a test holding one is not sent ahead.
BRANCHING = (
    ast.BoolOp, ast.IfExp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.For, ast.AsyncFor, ast.While, ast.If, ast.Try, ast.With, ast.AsyncWith, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.Await, ast.Yield, ast.YieldFrom, ast.Match, ast.Raise,
)
MAX_AHEAD = 64


def calls_ahead(tree):
    """The sources of the literal-only calls a straight-line test makes, in the order it makes them."""
    if any(isinstance(node, BRANCHING) for node in ast.walk(tree)):
        return []
    sources = []

    def visit(node):
        if isinstance(node, ast.Assert):
            return visit(node.test)  # the message is evaluated only when the assert fails
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == '_call'
                and isinstance(node.args[1], ast.List) and not node.args[1].elts):
            sources.append(node.args[0].value)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return sources[:MAX_AHEAD]


def display(src):
    return src if len(src) <= 120 else src[:117] + '...'


CHANNEL = None


def serve():
    global CHANNEL
    CHANNEL = Channel()
    if hasattr(sys, 'set_int_max_str_digits'):
        sys.set_int_max_str_digits(MAX_DIGITS)
    os.write(CHANNEL.out, b'R')
    job = CHANNEL.receive()
    per_test = CHANNEL.per_test = job['perTestSeconds']
    comparison = Comparison(job.get('floatTolerance'))
    base = {
        '__name__': '__grader__',
        '__builtins__': builtins,
        '_call': CHANNEL.call,
        '_value': lambda src, values: CHANNEL.call(src, values, kind='value'),
        '_compare': comparison,
    }
    exec(compile(job.get('preamble') or '', '<test imports>', 'exec'), base)
    helpers = helper_statements(job.get('helpers'), job['entryPoint'])
    exec(compile(ast.Module(body=helpers, type_ignores=[]), '<task helpers>', 'exec'), base)
    grader_names = grader_bindings(job)
    compiled = []
    for index, test in enumerate(job['tests']):
        try:
            tree, modules = rewrite(test, job['entryPoint'], grader_names)
            compiled.append((compile(tree, '<test %d>' % index, 'exec'), modules))
            CHANNEL.send_ahead(index, calls_ahead(tree))
        except Refused as refused:
            compiled.append(refused)
    # Tests start when the solution has loaded, so loading does not count against the first one.
    CHANNEL.await_go()
    for index, entry in enumerate(compiled):
        CHANNEL.begin(index, per_test)
        comparison.last_failure = None
        random.seed(index)
        ok, error = False, None
        try:
            if isinstance(entry, Refused):
                raise entry
            code, modules = entry
            scope = dict(base)
            for name in modules:
                scope[name] = __import__(name)
            exec(code, scope)
            ok = CHANNEL.calls > 0
            if not ok:
                error = 'the test never called the solution'
        except AssertionError as failure:
            message = str(failure)
            detail = explain(comparison) if comparison.last_failure else None
            error = '; '.join(p for p in (message, detail) if p) or 'assertion failed'
        except (GradingStop, Refused) as failure:
            error = str(failure)
        except Exception as failure:
            error = '%s: %s' % (type(failure).__name__, str(failure)[:500])
        if CHANNEL.failure is not None:
            ok, error = False, str(CHANNEL.failure)
        CHANNEL.send({'t': 'result', 'test': index, 'ok': ok, 'error': error})
    CHANNEL.send({'t': 'done'})


if __name__ == '__main__':
    if sys.argv[1:] == ['check']:
        print(json.dumps(check(json.load(sys.stdin))))
    elif sys.argv[1:] == ['serve']:
        serve()
    else:
        sys.exit('usage: grader.py check|serve')

"""Runs inside the sandbox: loads solution.py, then evaluates the grader's calls one at a time.

Nothing here decides whether a test passes. A call is an expression such as `f(__v0)` with the
values of its placeholders; the reply is the value, encoded as plain data. Only None, bool, int,
float, str and list travel as themselves; complex numbers, tuples, dicts, sets and iterators
travel as tagged JSON objects of plain data. An object of any other type, a subclass of a builtin included, is refused
here and fails the test: the grader never receives an object whose own methods could compare.
Everything this process writes is untrusted: the grader parses and checks it on its own.
It runs as one program after plain_data.py (encode, decode, NotPlain).
"""
import json
import os
import signal
import sys
import time
import traceback
import types

MAX_DIGITS = 20_000


class CallTimeout(BaseException):
    """Raised by the alarm: a BaseException, so `except Exception` in the solution does not swallow it."""


def evaluate(src, values, env):
    """A call of the grader's: `src` with placeholders `__vN` bound to its values (trusted data;
    a `$ref` is an object of this process, named by the expression that made it)."""
    scope = dict(env)
    for index, value in enumerate(values):
        scope['__v%d' % index] = decode(value, ref=lambda inner: evaluate(inner['src'], inner['vars'], env))
    return eval(compile(src, '<grader call>', 'eval'), scope)


def describe(error):
    return ''.join(traceback.format_exception_only(type(error), error)).strip()[-500:]


def main():
    # The protocol keeps private copies of the original stdin/stdout; the solution's prints go to
    # stderr and its reads of stdin see end-of-file, so ordinary output never meets the protocol.
    requests = os.fdopen(os.dup(0), 'rb')
    reply_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    write, dumps = os.write, json.JSONEncoder(allow_nan=False, separators=(',', ':')).encode
    if hasattr(sys, 'set_int_max_str_digits'):
        sys.set_int_max_str_digits(MAX_DIGITS)

    def send(message):
        data = (dumps(message) + '\n').encode()
        while data:
            data = data[write(reply_fd, data):]

    set_handler, set_timer = signal.signal, signal.setitimer

    def on_alarm(signum, frame):
        raise CallTimeout()

    def arm(seconds):
        set_handler(signal.SIGALRM, on_alarm)
        set_timer(signal.ITIMER_REAL, max(0.001, seconds))

    def disarm():
        set_timer(signal.ITIMER_REAL, 0)

    job = json.loads(requests.readline())
    module = types.ModuleType('solution')
    module.__file__ = os.path.abspath('solution.py')
    sys.modules['solution'] = module
    env = module.__dict__
    try:
        arm(job['loadSeconds'])
        with open('solution.py') as source:
            code = compile(source.read(), 'solution.py', 'exec')
        exec(code, env)
        if job.get('setup'):
            exec(compile(job['setup'], '<test setup>', 'exec'), env)
        disarm()
    except BaseException as error:
        disarm()
        why = 'it took longer than %s s' % job['loadSeconds'] if isinstance(error, CallTimeout) else describe(error)
        send({'load': 'error', 'error': why})
        os._exit(0)
    send({'load': 'ok', 'defines': callable(env.get(job['entryPoint']))})

    limit = job['maxReplyBytes']
    # Each test has `seconds` in all, however many calls it makes (the calls of a test may be sent ahead).
    spent = {}
    while True:
        line = requests.readline()
        if not line:
            os._exit(0)
        request = json.loads(line)
        reply = {'id': request['id']}
        started = time.monotonic()
        try:
            arm(request['seconds'] - spent.get(request['test'], 0.0))
            value = evaluate(request['src'], request['vars'], env)
            if request.get('kind') == 'value' and callable(value):
                reply['callable'] = True
            else:
                reply['value'] = encode(value)
            disarm()
        except NotPlain as error:
            disarm()
            reply = {'id': request['id'], 'refused': 'returned %s' % error}
        except CallTimeout:
            disarm()
            reply = {'id': request['id'], 'timeout': True}
        except BaseException as error:
            disarm()
            reply = {'id': request['id'], 'raised': type(error).__name__, 'message': describe(error)}
        spent[request['test']] = spent.get(request['test'], 0.0) + time.monotonic() - started
        try:
            size = len(dumps(reply))
        except ValueError as error:
            reply, size = {'id': request['id'], 'refused': 'returned a value that cannot be written as data (%s)' % error}, 0
        if size > limit:
            reply = {'id': request['id'], 'refused': 'returned %d bytes of data; the limit is %d' % (size, limit)}
        send(reply)

main()

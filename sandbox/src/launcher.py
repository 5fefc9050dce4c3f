# The program a pre-started sandbox waits in (run as `python3 -c <this file>`). It writes one
# ready byte, then reads one job from stdin: a 4-byte big-endian length and that many bytes of
# `marshal` data (argv, env, files, rlimits; marshal is built in, so reading a job imports
# nothing). It writes the job's files into the work dir, lowers its rlimits and runs the
# command, which inherits the rest of stdin as its own. It runs exactly one job.
#
# A `python3` command the host marks `inProcess` runs in this interpreter, already started with
# the environment the command would get, as `python3` itself would run it: same sys.argv,
# sys.orig_argv, sys.path[0], __main__ globals, exit status and traceback. That saves a second
# interpreter start-up per run; every other command is exec'd.


def _toolgym_launch():
    import marshal
    import os
    import sys

    os.write(1, b'R')

    def read_exact(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(0, n - len(buf))
            if not chunk:
                os._exit(121)
            buf += chunk
        return bytes(buf)

    job = marshal.loads(read_exact(int.from_bytes(read_exact(4), 'big')))
    cwd = job['cwd']
    for rel, data in job['files'].items():
        path = os.path.join(cwd, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    os.chdir(cwd)
    import resource

    for name, soft, hard in job['rlimits']:
        which = getattr(resource, name)
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:  # a limit above the inherited one is that one
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))
    del sys.modules['resource']
    cmd, env, mode = job['cmd'], job['env'], job['inProcess']
    del job

    if mode == 'script':
        script = os.path.abspath(cmd[1])
        try:
            with open(script, 'rb') as f:
                source = f.read()
        except OSError:
            mode = None  # a directory, a zip, a missing file: python3 itself says what is wrong
        else:
            if source[:2] == b'PK' or source[2:4] == b'\r\n':
                mode = None  # a zip application or compiled bytecode
    if not mode:
        try:
            os.execvpe(cmd[0], cmd, env)
        except OSError as error:
            os.write(2, ('sandbox: cannot run %r: %s\n' % (cmd[0], error.strerror)).encode())
            os._exit(127)

    for key, value in env.items():
        if os.environ.get(key) != value:  # the launcher started with the base environment
            os.environ[key] = value
    main = sys.modules['__main__']
    for name in list(vars(main)):
        if name not in ('__name__', '__doc__', '__package__', '__loader__', '__spec__', '__annotations__', '__builtins__'):
            delattr(main, name)
    sys.orig_argv = list(cmd)
    if mode == 'module':
        import runpy

        sys.argv = ['-m'] + cmd[3:]
        sys.path[0] = os.getcwd()
        run = lambda: runpy._run_module_as_main(cmd[2], alter_argv=True)  # what `python3 -m` calls
    else:
        if mode == 'command':
            sys.argv = ['-c'] + cmd[3:]
            code = compile(cmd[2], '<string>', 'exec', dont_inherit=True)
        else:
            sys.argv = cmd[1:]
            sys.path[0] = os.path.dirname(os.path.realpath(script))
            main.__file__, main.__cached__ = script, None
            main.__loader__ = sys.modules['_frozen_importlib_external'].SourceFileLoader('__main__', script)
            code = compile(source, script, 'exec', dont_inherit=True)
            del source
        run = lambda: exec(code, vars(main))
    try:
        run()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        # Report it as the interpreter would, without this launcher's frames.
        ours = (sys._getframe().f_code, run.__code__)
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code in ours:
            tb = tb.tb_next
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        sys.exit(1)


_toolgym_launch()

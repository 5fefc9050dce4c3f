# Starts sandboxes and relays their input and output; run as `python3 -I -S -c <this file> CONFIG`.
# One supervisor serves many sandboxes: on the host for the bubblewrap backend (a small process,
# so a fork costs little however large the Node process that asked for it), and as the main
# process of a container for the Docker backend. It trusts its parent and nothing it starts.
#
# CONFIG (JSON): {"uid": int|null, "gid": int|null, "seccomp": hex|null, "oomFiles": [path],
# "env": {..}}. Messages both ways are frames: type (1 byte), sandbox id (4 bytes, big-endian),
# payload length (4 bytes), payload.
#   in:  S start (JSON {"argv": [...], "cgroupProcs": [...]})   J job bytes (then stdin closes)
#        I stdin bytes (stdin stays open; answered by W once written)   C close stdin (after
#        what is pending)   K kill the sandbox
#   out: R ready   O stdout bytes   E stderr bytes   W stdin bytes written
#        X exited (JSON {"exitCode", "oomKills"})   F could not start (message)
# The job frame starts the job (J, or the first I of a streamed stdin); W lets the host wait for a
# program that reads slower than its input is written instead of piling the input up here.
# A sandbox is a process group led by the command of its argv (bwrap); it is ready when that
# command writes its first stdout byte (the launcher's 'R'). Stdin EOF kills every sandbox.
import collections
import json
import os
import selectors
import signal
import struct
import sys

CONFIG = json.loads(sys.argv[1])
HEADER = struct.Struct('>cII')
CHUNK = 1 << 16

selector = selectors.DefaultSelector()
sandboxes = {}
out_fd = sys.stdout.fileno()


def send(kind, sandbox_id, payload=b''):
    data = HEADER.pack(kind, sandbox_id, len(payload)) + payload
    while data:
        data = data[os.write(out_fd, data):]


def oom_kills():
    """OOM kills so far in this supervisor's own cgroup (the first of oomFiles that reads)."""
    for path in CONFIG['oomFiles']:
        try:
            with open(path) as f:
                return sum(int(line.split()[1]) for line in f if line.startswith('oom_kill '))
        except OSError:
            continue
    return None


class Sandbox:
    def __init__(self, sandbox_id, spec):
        self.id = sandbox_id
        self.ready = False
        self.job_started = False
        self.pending = collections.deque()  # [bytes not yet written, W owed once they are]
        self.close_after = False
        self.open_streams = 2
        self.status = None
        self.oom_before = None
        stdin_r, self.stdin = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        seccomp = None
        if CONFIG.get('seccomp'):
            seccomp = os.memfd_create('seccomp', 0)
            os.write(seccomp, bytes.fromhex(CONFIG['seccomp']))
            os.lseek(seccomp, 0, os.SEEK_SET)
        self.pid = os.fork()
        if self.pid == 0:
            start_child(spec, stdin_r, stdout_w, stderr_w, seccomp)
        for fd in (stdin_r, stdout_w, stderr_w) + ((seccomp,) if seccomp is not None else ()):
            os.close(fd)
        os.set_blocking(self.stdin, False)
        self.pidfd = os.pidfd_open(self.pid)
        selector.register(stdout_r, selectors.EVENT_READ, (self, 'O'))
        selector.register(stderr_r, selectors.EVENT_READ, (self, 'E'))
        selector.register(self.pidfd, selectors.EVENT_READ, (self, 'exit'))

    def on_output(self, fd, kind):
        try:
            chunk = os.read(fd, CHUNK)
        except OSError:
            chunk = b''
        if not chunk:
            selector.unregister(fd)
            os.close(fd)
            self.open_streams -= 1
            self.maybe_done()
            return
        if kind == 'O' and not self.ready:
            if chunk[:1] != b'R':
                send(b'F', self.id, b'the sandbox wrote output before its launcher was ready')
                self.kill()
                return
            self.ready = True
            send(b'R', self.id)
            chunk = chunk[1:]
            if not chunk:
                return
        send(kind.encode(), self.id, chunk)

    def on_exit(self):
        selector.unregister(self.pidfd)
        os.close(self.pidfd)
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.status = code if code >= 0 else 128 - code
        self.maybe_done()

    def give_input(self, data, acknowledge, then_close):
        if not self.job_started:
            self.job_started = True
            self.oom_before = oom_kills()
        if self.stdin is None:  # closed already: the program exited without reading it all
            if acknowledge:
                send(b'W', self.id)
            return
        if data or acknowledge:
            self.pending.append([memoryview(data), acknowledge])
        self.close_after = self.close_after or then_close
        self.flush_stdin()

    def flush_stdin(self):
        try:
            while self.pending:
                entry = self.pending[0]
                if entry[0]:
                    entry[0] = entry[0][os.write(self.stdin, entry[0]):]
                if entry[0]:
                    continue
                self.pending.popleft()
                if entry[1]:
                    send(b'W', self.id)
        except BlockingIOError:
            if not self.registered_stdin():
                selector.register(self.stdin, selectors.EVENT_WRITE, (self, 'stdin'))
            return
        except OSError:  # the program exited without reading its stdin
            for _, acknowledge in self.pending:
                if acknowledge:
                    send(b'W', self.id)
            self.pending.clear()
            self.close_after = True
        if self.registered_stdin():
            selector.unregister(self.stdin)
        if self.close_after:
            self.close_stdin()

    def registered_stdin(self):
        return self.stdin is not None and self.stdin in selector.get_map()

    def close_stdin(self):
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def kill(self):
        # Closing its stdin ends a sandbox the signals miss: one killed while bwrap was still
        # setting up can leave bwrap's child alive (it asks to die with its parent only once it
        # runs), and that launcher then reads end of file where it waits for its job, and exits.
        self.pending.clear()
        if self.registered_stdin():
            selector.unregister(self.stdin)
        self.close_stdin()
        if self.status is not None:
            return  # reaped: its pid may belong to another process by now
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        # A child that has not yet made its own session leads no group: kill it by pid.
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def maybe_done(self):
        if self.status is None or self.open_streams > 0:
            return
        if self.registered_stdin():
            selector.unregister(self.stdin)
        self.close_stdin()
        oom = None
        if self.oom_before is not None:
            now = oom_kills()
            oom = None if now is None else now - self.oom_before
        send(b'X', self.id, json.dumps({'exitCode': self.status, 'oomKills': oom}).encode())
        del sandboxes[self.id]


def start_child(spec, stdin_r, stdout_w, stderr_w, seccomp):
    # In the forked child: join the cgroups before the sandbox exists, lead a new session (so
    # the sandbox is one process group and its own scheduling group), drop to the sandbox uid.
    try:
        os.setsid()
        pid = str(os.getpid())
        for procs in spec.get('cgroupProcs', []):
            with open(procs, 'w') as f:
                f.write(pid)
        os.dup2(stdin_r, 0)
        os.dup2(stdout_w, 1)
        os.dup2(stderr_w, 2)
        if seccomp is not None:
            os.dup2(seccomp, 3)
            os.set_inheritable(3, True)
        os.closerange(4, 65536)
        if CONFIG.get('gid') is not None:
            os.setgroups([])
            os.setgid(CONFIG['gid'])
        if CONFIG.get('uid') is not None:
            os.setuid(CONFIG['uid'])
        argv = spec['argv']
        os.execve(argv[0], argv, CONFIG['env'])
    except BaseException as error:
        try:
            os.write(2, ('supervisor: cannot start %s: %s\n' % (spec['argv'][0], error)).encode())
        finally:
            os._exit(126)


def read_messages():
    buf = b''
    while True:
        yield  # resumed when stdin is readable
        chunk = os.read(0, CHUNK)
        if not chunk:
            raise EOFError
        buf += chunk
        while len(buf) >= HEADER.size:
            kind, sandbox_id, length = HEADER.unpack_from(buf)
            if len(buf) < HEADER.size + length:
                break
            payload = buf[HEADER.size:HEADER.size + length]
            buf = buf[HEADER.size + length:]
            handle(kind, sandbox_id, payload)


def handle(kind, sandbox_id, payload):
    if kind == b'S':
        try:
            sandboxes[sandbox_id] = Sandbox(sandbox_id, json.loads(payload))
        except OSError as error:
            send(b'F', sandbox_id, str(error).encode())
        return
    sandbox = sandboxes.get(sandbox_id)
    if sandbox is None:
        return  # it has exited already
    if kind == b'J':
        sandbox.give_input(payload, False, True)
    elif kind == b'I':
        sandbox.give_input(payload, True, False)
    elif kind == b'C':
        sandbox.give_input(b'', False, True)
    elif kind == b'K':
        sandbox.kill()


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    messages = read_messages()
    next(messages)
    selector.register(0, selectors.EVENT_READ, (None, 'messages'))
    try:
        while True:
            for key, _ in selector.select():
                owner, what = key.data
                if what == 'messages':
                    messages.send(None)
                elif what == 'exit':
                    owner.on_exit()
                elif what == 'stdin':
                    owner.flush_stdin()
                else:
                    owner.on_output(key.fd, what)
    except (EOFError, BrokenPipeError):
        pass
    finally:
        for sandbox in list(sandboxes.values()):
            sandbox.kill()


main()

import Docker from 'dockerode';
import { createDockerSandbox } from '../src/docker.ts';

const sb = createDockerSandbox({ poolSize: 2, docker: new Docker({ socketPath: '/tmp/tgd-probe/d.sock' }) });
await sb.warmUp();
for (const code of [
  'print(1)',
  'print(1)',
  'import os;print(os.getuid(), os.listdir("/"), os.getcwd(), open("a.txt").read())',
  'import sys; print(sys.stdin.read())',
  'x = bytearray(400*1024*1024)',
  'while True: pass',
  'import os\nwhile True: os.fork()',
  'print("x"*100_000_000)',
]) {
  const t = performance.now();
  const r = await sb.run({
    cmd: ['python3', '-c', code],
    files: { 'a.txt': 'hello' },
    stdin: 'input!',
    limits: { wallMs: 3000, cpuMs: 1000 },
  });
  console.log(
    JSON.stringify({ ...r, stderr: r.stderr.slice(0, 200), stdout: r.stdout.slice(0, 200) }),
    (performance.now() - t).toFixed(1),
  );
}
await sb.close();

import { createBubblewrapSandbox } from '/work/main/sandbox/src/bubblewrap.ts';

const sb = createBubblewrapSandbox({ poolSize: 2 });
console.log(sb.capabilities());
await sb.warmUp();
for (const code of [
  'print(1)',
  'import os;print(os.getuid(), os.listdir("/"), os.getcwd(), open("a.txt").read())',
  'import sys; print(sys.stdin.read())',
  'x = bytearray(400*1024*1024)',
  'while True: pass',
  'import os\nwhile True: os.fork()',
]) {
  const t = performance.now();
  const r = await sb.run({
    cmd: ['python3', '-c', code],
    files: { 'a.txt': 'hello' },
    stdin: 'input!',
    limits: { wallMs: 3000, cpuMs: 1000 },
  });
  console.log(JSON.stringify(r).slice(0, 400), (performance.now() - t).toFixed(1));
}
await sb.close();

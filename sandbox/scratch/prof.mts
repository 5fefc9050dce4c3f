import { spawn } from 'node:child_process';
import { createBubblewrapSandbox } from '../src/index.ts';

const bare = () =>
  new Promise<void>((res) => {
    const c = spawn('/usr/bin/python3', ['-c', 'print(1)']);
    c.on('close', () => res());
  });
const sb = createBubblewrapSandbox({ poolSize: 2 });
await sb.warmUp();
const b: number[] = [],
  w: number[] = [],
  inner: number[] = [];
for (let i = 0; i < 30; i++) {
  let t = performance.now();
  await bare();
  b.push(performance.now() - t);
  await sb.warmUp();
  t = performance.now();
  const r = await sb.run({ cmd: ['python3', '-c', 'print(1)'] });
  w.push(performance.now() - t);
  inner.push(r.ms);
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1);
console.log('bare', med(b), 'warm', med(w), 'inner', med(inner));
await sb.close();

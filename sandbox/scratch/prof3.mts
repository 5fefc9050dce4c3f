import { spawn } from 'node:child_process';
import { createBubblewrapSandbox } from '../src/index.ts';

const bare = () =>
  new Promise<void>((res) => {
    const c = spawn('/usr/bin/python3', ['-c', 'print(1)']);
    c.on('close', () => res());
  });
const sb = createBubblewrapSandbox({ poolSize: 2, cgroups: process.env.TG_CTRL !== 'none' });
const times: Record<string, number[]> = { bare: [], sb: [] };
for (let i = 0; i < 40; i++) {
  let t = performance.now();
  await bare();
  times.bare.push(performance.now() - t);
  await sb.warmUp();
  t = performance.now();
  await sb.run({ cmd: ['python3', '-c', 'print(1)'] });
  times.sb.push(performance.now() - t);
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(
  process.env.TG_CTRL,
  'bare',
  med(times.bare).toFixed(1),
  'sb',
  med(times.sb).toFixed(1),
  'ratio',
  (med(times.sb) / med(times.bare)).toFixed(2),
);
await sb.close();

import { spawn } from 'node:child_process';
import { createBubblewrapSandbox } from '../src/index.ts';

const bare = () =>
  new Promise<void>((res) => {
    const c = spawn('/usr/bin/python3', ['-c', 'print(1)']);
    c.on('close', () => res());
  });
const variants = {
  default: createBubblewrapSandbox({ poolSize: 2 }),
  nocpuquota: createBubblewrapSandbox({ poolSize: 2, limits: { cpus: 0 } }),
  nocgroups: createBubblewrapSandbox({ poolSize: 2, cgroups: false }),
};
const times: Record<string, number[]> = {
  bare: [],
  default: [],
  nocpuquota: [],
  nocgroups: [],
  inner_default: [],
};
for (let i = 0; i < 25; i++) {
  let t = performance.now();
  await bare();
  times.bare.push(performance.now() - t);
  for (const [name, sb] of Object.entries(variants)) {
    await sb.warmUp();
    t = performance.now();
    const r = await sb.run({ cmd: ['python3', '-c', 'print(1)'] });
    times[name].push(performance.now() - t);
    if (name === 'default') times.inner_default.push(r.ms);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1);
console.log(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, med(v)])));
for (const sb of Object.values(variants)) await sb.close();

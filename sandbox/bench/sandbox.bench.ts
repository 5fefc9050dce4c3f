/**
 * `pnpm bench sandbox` — latency of `print(1)` through bubblewrap cold, bubblewrap warm pool and
 * Docker warm pool, against a bare `python3 -c 'print(1)'` measured in the same run; then the
 * throughput of 100 concurrent submissions (a solution plus its tests) on this machine.
 * Target: bubblewrap warm-pool p50 under 2× bare Python.
 *
 *   pnpm bench sandbox [--runs 100] [--no-docker]
 */
import { spawn } from 'node:child_process';
import {
  createBubblewrapSandbox,
  createDockerSandbox,
  type DockerEngine,
  ensurePythonImage,
  type Sandbox,
  startDockerEngine,
} from '../src/index.ts';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 100;
const withDocker = !args.includes('--no-docker');
const PYTHON = '/usr/bin/python3';

function bareRun(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', 'print(1)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('close', (code) =>
      code === 0 && out === '1\n' ? resolve() : reject(new Error(`bare python exited ${code}`)),
    );
  });
}

async function sandboxRun(sandbox: Sandbox): Promise<void> {
  const result = await sandbox.run({ cmd: ['python3', '-c', 'print(1)'] });
  if (result.stdout !== '1\n' || result.exitCode !== 0)
    throw new Error(`sandbox run failed: ${JSON.stringify(result)}`);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Sequential latencies of `run`; `between` (untimed) lets a warm pool refill, as it does between an agent's turns. */
async function latencies(
  n: number,
  run: () => Promise<void>,
  between?: () => Promise<void>,
): Promise<{ p50: number; p99: number; mean: number }> {
  for (let i = 0; i < 3; i++) {
    await between?.();
    await run();
  }
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    await between?.();
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

const SUBMISSION = {
  'solution.py':
    'def stair_ways(n):\n    ways = [1] + [0] * n\n    for i in range(1, n + 1):\n        ways[i] = sum(ways[i - s] for s in (1, 2, 3) if s <= i)\n    return ways[n]\n',
  'tests.py':
    'from solution import stair_ways\nassert stair_ways(0) == 1\nassert stair_ways(3) == 4\nassert stair_ways(10) == 274\nprint("ok")\n',
};

async function throughput(
  n: number,
  submit: () => Promise<void>,
): Promise<{ seconds: number; perSecond: number }> {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, submit));
  const seconds = (performance.now() - t) / 1000;
  return { seconds, perSecond: n / seconds };
}

const rows: Array<{ path: string; p50: number; p99: number; mean: number }> = [];
const fmt = (x: number) => x.toFixed(1).padStart(8);

const bare = await latencies(runs, bareRun);
rows.push({ path: "bare python3 -c 'print(1)'", ...bare });

const cold = createBubblewrapSandbox({ poolSize: 0 });
rows.push({ path: 'bubblewrap cold', ...(await latencies(runs, () => sandboxRun(cold))) });
await cold.close();

const warm = createBubblewrapSandbox({ poolSize: 2 });
rows.push({
  path: 'bubblewrap warm pool',
  ...(await latencies(
    runs,
    () => sandboxRun(warm),
    () => warm.warmUp(),
  )),
});
rows.push({ path: 'bubblewrap warm pool, back-to-back', ...(await latencies(runs, () => sandboxRun(warm))) });

let engine: DockerEngine | undefined;
let dockerNote = '';
// A failing bench must still stop the engine it started.
process.on('uncaughtException', async (error) => {
  console.error(error);
  await engine?.stop();
  process.exit(1);
});
process.on('unhandledRejection', async (error) => {
  console.error(error);
  await engine?.stop();
  process.exit(1);
});
if (withDocker) {
  try {
    engine = await startDockerEngine();
    ensurePythonImage(engine);
  } catch (error) {
    dockerNote = `docker skipped: ${error instanceof Error ? error.message : String(error)}`;
    await engine?.stop();
    engine = undefined;
  }
}
let dockerSandbox: Sandbox | undefined;
if (engine) {
  dockerSandbox = createDockerSandbox({ docker: engine.docker, poolSize: 2 });
  const dockerRuns = Math.max(10, Math.round(runs / 3));
  rows.push({
    path: 'docker warm pool',
    ...(await latencies(
      dockerRuns,
      () => sandboxRun(dockerSandbox!),
      () => dockerSandbox!.warmUp(),
    )),
  });
  const dockerCold = createDockerSandbox({ docker: engine.docker, poolSize: 0 });
  rows.push({
    path: 'docker cold',
    ...(await latencies(Math.max(5, Math.round(runs / 10)), () => sandboxRun(dockerCold))),
  });
  await dockerCold.close();
}

console.log(
  `\nprint(1) latency, ms (${runs} sequential runs; warm-pool rows let the pool refill between runs, untimed)\n`,
);
console.log(`${'path'.padEnd(38)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'mean'.padStart(8)}  p50 vs bare`);
for (const row of rows) {
  console.log(
    `${row.path.padEnd(38)}${fmt(row.p50)}${fmt(row.p99)}${fmt(row.mean)}  ${(row.p50 / bare.p50).toFixed(2)}×`,
  );
}
const warmRow = rows.find((r) => r.path === 'bubblewrap warm pool')!;
const ratio = warmRow.p50 / bare.p50;
console.log(
  `\ntarget: bubblewrap warm-pool p50 < 2× bare python → ${ratio.toFixed(2)}× ${ratio < 2 ? 'MET' : 'NOT MET'}`,
);
if (dockerNote) console.log(dockerNote);

// Throughput: 100 concurrent submissions (write the solution and its tests, run them) on this machine's cores.
const submissions = 100;
const submitBare = () =>
  new Promise<void>((resolve, reject) => {
    const code = `${SUBMISSION['solution.py']}\nassert stair_ways(0) == 1\nassert stair_ways(3) == 4\nassert stair_ways(10) == 274\nprint("ok")\n`;
    const child = spawn(PYTHON, ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`exit ${c}`))));
  });
const submitTo = (sandbox: Sandbox) => async () => {
  const r = await sandbox.run({
    cmd: ['python3', 'tests.py'],
    files: SUBMISSION,
    limits: { wallMs: 60_000 },
  });
  if (r.stdout !== 'ok\n') throw new Error(`submission failed: ${JSON.stringify(r)}`);
};
const tRows: Array<[string, { seconds: number; perSecond: number }]> = [];
tRows.push(['bare python3 (no isolation)', await throughput(submissions, submitBare)]);
const pool4 = createBubblewrapSandbox({ poolSize: 4 });
await pool4.warmUp();
tRows.push(['bubblewrap, warm pool of 4', await throughput(submissions, submitTo(pool4))]);
await pool4.close();
if (dockerSandbox) {
  await dockerSandbox.warmUp();
  tRows.push(['docker, warm pool of 2', await throughput(submissions, submitTo(dockerSandbox))]);
}
console.log(`\n${submissions} concurrent submissions (${(await import('node:os')).cpus().length} cores)\n`);
console.log(`${'path'.padEnd(38)}${'seconds'.padStart(9)}${'runs/s'.padStart(9)}  vs bare`);
for (const [name, t] of tRows) {
  console.log(
    `${name.padEnd(38)}${t.seconds.toFixed(2).padStart(9)}${t.perSecond.toFixed(1).padStart(9)}  ${(t.perSecond / tRows[0]![1].perSecond).toFixed(2)}×`,
  );
}

await warm.close();
await dockerSandbox?.close();
await engine?.stop();

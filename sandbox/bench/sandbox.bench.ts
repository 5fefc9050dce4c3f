/**
 * `pnpm bench sandbox` — `print(1)` through bubblewrap and Docker against a bare
 * `python3 -c 'print(1)'` measured in the same run:
 *  - latency of one run at a time (cold, warm pool, back-to-back);
 *  - throughput of 100 concurrent runs, with the pool at the size it chose after one burst
 *    ("burst": the pool's ready sandboxes serve the first runs) and over back-to-back bursts
 *    ("sustained": every run pays for its sandbox), in interleaved rounds, median ratio.
 * Where this process may make a cpuacct cgroup, CPU per run (every process it starts, the
 * kernel's work for them included; for Docker, the engine it started and its containers'
 * cgroups) is shown too: on a shared machine throughput also follows the CPU share each path
 * gets from the scheduler, CPU per run does not. Targets: 100 concurrent runs at ≥ 0.8× bare
 * throughput on bubblewrap and ≥ 0.4× on Docker; a warm single run ≤ 1.23× bare latency.
 *
 *   pnpm bench sandbox [--runs 100] [--rounds 3] [--no-docker]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import {
  createBubblewrapSandbox,
  createDockerSandbox,
  type DockerEngine,
  ensurePythonImage,
  type PoolState,
  type Sandbox,
  startDockerEngine,
} from '../src/index.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const runs = option('--runs', 100);
const rounds = option('--rounds', 3);
const withDocker = !args.includes('--no-docker');
const CONCURRENT = 100;
const PYTHON = '/usr/bin/python3';

/** CPU time of this process and everything it starts, from a cpuacct cgroup of its own (cgroup v1). */
const cpu = (() => {
  const dir = `/sys/fs/cgroup/cpuacct/toolgym-bench-${process.pid}`;
  try {
    mkdirSync(dir);
    writeFileSync(`${dir}/cgroup.procs`, String(process.pid));
  } catch {
    return undefined;
  }
  return {
    ms: () => Number(readFileSync(`${dir}/cpuacct.usage`, 'utf8')) / 1e6,
    release: () => {
      writeFileSync('/sys/fs/cgroup/cpuacct/cgroup.procs', String(process.pid));
      rmdirSync(dir);
    },
  };
})();

/**
 * Bare python3 in a session of its own (`detached`), as every sandbox is: the kernel's
 * autogroup scheduler gives each session an equal share, so the baseline must not run in one.
 */
function bareRun(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', 'print(1)'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
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
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

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

/**
 * CPU ms of each of this process's sandbox containers, from their cpuacct cgroups (a local
 * cgroupfs engine on cgroup v1; empty elsewhere). The engine itself, started by this process,
 * is in this process's cgroup already.
 */
async function containerCpu(): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  if (!engine?.owned) return usage;
  const containers = await engine.docker.listContainers({
    filters: { label: [`toolgym.sandbox=${process.pid}`] },
  });
  for (const { Id } of containers) {
    try {
      usage.set(Id, Number(readFileSync(`/sys/fs/cgroup/cpuacct/${Id}/cpuacct.usage`, 'utf8')) / 1e6);
    } catch {
      // not a cgroupfs v1 engine, or removed meanwhile
    }
  }
  return usage;
}

/** `bursts` bursts of 100 concurrent runs, back to back: runs/s and CPU ms per run. */
async function bursts(
  count: number,
  run: () => Promise<void>,
  containers = false,
): Promise<{ perSecond: number; cpuMs?: number }> {
  const before = containers ? await containerCpu() : new Map<string, number>();
  const cpu0 = cpu?.ms();
  const t = performance.now();
  for (let b = 0; b < count; b++) await Promise.all(Array.from({ length: CONCURRENT }, run));
  const perSecond = (count * CONCURRENT) / ((performance.now() - t) / 1000);
  const cpu1 = cpu?.ms();
  let inContainers = 0;
  for (const [id, ms] of containers ? await containerCpu() : []) inContainers += ms - (before.get(id) ?? 0);
  return {
    perSecond,
    cpuMs: cpu0 === undefined ? undefined : (cpu1! - cpu0 + inContainers) / (count * CONCURRENT),
  };
}

let engine: DockerEngine | undefined;
const cleanup = async () => {
  await engine?.stop();
  cpu?.release();
};
// A failing bench must still stop the engine it started.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, async (error) => {
    console.error(error);
    await cleanup();
    process.exit(1);
  });
}

// --- latency, one run at a time
const latencyRows: Array<{ path: string; p50: number; p99: number; mean: number }> = [];
const bare = await latencies(runs, bareRun);
latencyRows.push({ path: "bare python3 -c 'print(1)'", ...bare });

const cold = createBubblewrapSandbox({ poolSize: 0 });
latencyRows.push({ path: 'bubblewrap cold (no pool)', ...(await latencies(runs, () => sandboxRun(cold))) });
await cold.close();

// The pools keep the size they choose for the whole bench (each backend idles while the other runs).
const KEEP_SIZE = { shrinkAfterMs: 600_000 };
const bwrap = createBubblewrapSandbox({ poolSize: 2, ...KEEP_SIZE });
latencyRows.push({
  path: 'bubblewrap warm pool',
  ...(await latencies(
    runs,
    () => sandboxRun(bwrap),
    () => bwrap.warmUp(),
  )),
});
latencyRows.push({
  path: 'bubblewrap warm pool, back-to-back',
  ...(await latencies(runs, () => sandboxRun(bwrap))),
});

let dockerNote = '';
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
let docker: Sandbox | undefined;
if (engine) {
  docker = createDockerSandbox({ docker: engine.docker, poolSize: 2, ...KEEP_SIZE });
  const d = docker;
  latencyRows.push({
    path: 'docker warm pool',
    ...(await latencies(
      Math.max(10, Math.round(runs / 3)),
      () => sandboxRun(d),
      () => d.warmUp(),
    )),
  });
  const dockerCold = createDockerSandbox({ docker: engine.docker, poolSize: 0 });
  latencyRows.push({
    path: 'docker cold (no pool)',
    ...(await latencies(Math.max(5, Math.round(runs / 10)), () => sandboxRun(dockerCold))),
  });
  await dockerCold.close();
}

// --- 100 concurrent runs
const poolOf = (s: Sandbox): PoolState | undefined => s.poolState?.();
const sandboxes: Array<[string, Sandbox]> = [
  ['bubblewrap', bwrap],
  ...(docker ? [['docker', docker] as [string, Sandbox]] : []),
];
// One burst lets each pool choose its size; then it refills to it.
for (const [, s] of sandboxes) {
  await Promise.all(Array.from({ length: CONCURRENT }, () => sandboxRun(s)));
  await s.warmUp();
}
const chosen = new Map(sandboxes.map(([name, s]) => [name, poolOf(s)]));
const samples = new Map<string, Array<{ perSecond: number; cpuMs?: number; ratio: number }>>();
const record = (name: string, r: { perSecond: number; cpuMs?: number }, bareRate: number) =>
  samples.set(name, [...(samples.get(name) ?? []), { ...r, ratio: r.perSecond / bareRate }]);
for (let round = 0; round < rounds; round++) {
  const base = await bursts(1, bareRun);
  record('bare python3', base, base.perSecond);
  for (const [name, s] of sandboxes) {
    const containers = name === 'docker';
    record(`${name}, burst`, await bursts(1, () => sandboxRun(s), containers), base.perSecond);
    record(`${name}, sustained`, await bursts(2, () => sandboxRun(s), containers), base.perSecond);
    await s.warmUp();
  }
}

const fmt = (x: number, width = 8, digits = 1) => x.toFixed(digits).padStart(width);
console.log(
  `\nprint(1) latency, ms (${runs} sequential runs; warm-pool rows let the pool refill between runs, untimed)\n`,
);
console.log(`${'path'.padEnd(38)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'mean'.padStart(8)}  p50 vs bare`);
for (const row of latencyRows) {
  console.log(
    `${row.path.padEnd(38)}${fmt(row.p50)}${fmt(row.p99)}${fmt(row.mean)}  ${(row.p50 / bare.p50).toFixed(2)}×`,
  );
}

console.log(
  `\n${CONCURRENT} concurrent print(1) runs (${os.cpus().length} cores), median of ${rounds} interleaved rounds; ` +
    'burst = the pool at its chosen size serves the first runs, sustained = 2 bursts back to back\n',
);
console.log(
  `${'path'.padEnd(38)}${'runs/s'.padStart(8)}${'vs bare'.padStart(9)}${cpu ? '  CPU ms/run' : ''}  pool`,
);
const cpuOf = (name: string) =>
  median((samples.get(name) ?? []).flatMap((x) => (x.cpuMs === undefined ? [] : [x.cpuMs])));
for (const [name, xs] of samples) {
  const backend = name.split(',')[0]!;
  const pool = chosen.get(backend);
  const partial = backend === 'docker' && !engine?.owned;
  const cpuText = cpu ? `${fmt(cpuOf(name), 11)}${partial ? '*' : ' '}` : '';
  console.log(
    `${name.padEnd(38)}${fmt(median(xs.map((x) => x.perSecond)))}${fmt(median(xs.map((x) => x.ratio)), 8, 2)}×${cpuText}  ${pool ? `ready ${pool.target}, peak ${pool.peak}, max ${pool.max}` : ''}`,
  );
}
if (cpu && docker && !engine?.owned)
  console.log(
    "\n* only this process's share: the engine was not started here, so neither it nor its containers' cgroups are counted",
  );

const ratioOf = (name: string) => median((samples.get(name) ?? []).map((x) => x.ratio));
const warmRatio = latencyRows.find((r) => r.path === 'bubblewrap warm pool')!.p50 / bare.p50;
const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
console.log('\ntargets');
console.log(
  `  bubblewrap warm single run ≤ 1.23× bare: ${warmRatio.toFixed(2)}× ${verdict(warmRatio <= 1.23)}`,
);
for (const kind of ['burst', 'sustained']) {
  const b = ratioOf(`bubblewrap, ${kind}`);
  console.log(`  bubblewrap 100 concurrent ≥ 0.8× bare (${kind}): ${b.toFixed(2)}× ${verdict(b >= 0.8)}`);
  if (docker) {
    const d = ratioOf(`docker, ${kind}`);
    console.log(`  docker 100 concurrent ≥ 0.4× bare (${kind}): ${d.toFixed(2)}× ${verdict(d >= 0.4)}`);
  }
}
if (cpu) {
  // Throughput on a shared machine also follows the CPU share the scheduler gives each path;
  // with the machine to itself, throughput would follow CPU per run instead.
  console.log("  bare CPU per run ÷ the path's (the throughput ratio on a machine of its own):");
  for (const [name] of sandboxes) {
    if (name === 'docker' && !engine?.owned) continue;
    const ratio = cpuOf('bare python3') / cpuOf(`${name}, sustained`);
    console.log(`    ${name}, sustained: ${ratio.toFixed(2)}×`);
  }
}
if (dockerNote) console.log(dockerNote);
console.log(
  `load average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (shared machine)`,
);

await bwrap.close();
await docker?.close();
await cleanup();

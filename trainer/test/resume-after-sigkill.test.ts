/**
 * `toolgym train` killed with SIGKILL at random moments, then `toolgym train --resume`, several
 * times over: the continuation's per-step metrics equal those of a run never killed (same seed),
 * and no kill ever leaves a checkpoint that fails verification.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { serveLearner } from '../src/api/learner-server.ts';
import { readLatestCheckpoint } from '../src/checkpoint/checkpoint.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const toolgym = path.join(root, 'cli/bin/toolgym.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A tiny run (~1 s per RL step here): a short oracle warm-up so that RL groups have reward variance. */
const configYaml = (outDir: string) => `
run: { name: tiny, seed: 3, outDir: ${JSON.stringify(outDir)} }
environment:
  id: compose
  options: { functions: [reverse, upper, double], depths: [1, 2], tasksPerDepth: 20, alphabet: abc, minLength: 3, maxLength: 4, heldOutPairFraction: 0.25, maxTurns: 3 }
policy:
  model: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxPositions: 160 }
template:
  kind: compact
  dropFromPrompt: [' Use the tools, then call answer with the final string.']
warmup:
  tasks: { split: train, meta: { depth: 1 } }
  steps: 40
  batchSize: 8
  adam: { learningRate: 0.01 }
rl:
  tasks: { split: train, meta: { depth: 1 } }
  steps: 6
  tasksPerStep: 2
  groupSize: 3
  demoCoef: 0.5
  sampling: { temperature: 1.0, maxTokens: 32 }
eval:
  tasks: { split: test, meta: { depth: 2 }, limit: 2 }
  every: 3
maxTurns: 3
`;

/** Wall-clock and throughput figures differ run to run by nature, and each invocation has its own run id; everything else must match. */
const TIMING = new Set([
  'runId',
  'time',
  'tokens_per_s',
  'sampled_tokens_per_s',
  'rollout_s',
  'learner_s',
  'step_s',
]);
async function metricsOf(outDir: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path.join(outDir, 'tiny-seed3', 'metrics.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(Object.entries(JSON.parse(line)).filter(([k]) => !TIMING.has(k))));
}

function runTrain(
  configFile: string,
  resume: boolean,
  killWhen?: (output: string) => boolean,
  env: Record<string, string> = {},
): Promise<{ output: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [toolgym, 'train', configFile, ...(resume ? ['--resume'] : [])], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    let killed = false;
    const check = () => {
      if (!killed && child.exitCode === null && killWhen?.(output)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      check();
    };
    const timer = setInterval(check, 25);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      if (killed && signal === 'SIGKILL') resolve({ output, killed });
      else if (code === 0) resolve({ output, killed: false });
      else reject(new Error(`toolgym train exited with ${code ?? signal}:\n${output}`));
    });
  });
}

let referenceMetrics: Array<Record<string, unknown>> | undefined;

describe('toolgym train --resume after SIGKILL', () => {
  it('continues identically to a run never killed, after several kills at random moments', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-resume-'));
    dirs.push(dir);
    const refConfig = path.join(dir, 'reference.yaml');
    const chainConfig = path.join(dir, 'chain.yaml');
    await writeFile(refConfig, configYaml(path.join(dir, 'reference')));
    await writeFile(chainConfig, configYaml(path.join(dir, 'chain')));
    const reference = runTrain(refConfig, false);

    const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
    const trials: Array<{ kill: string; resumedAfter: number | null }> = [];
    // Trial 0 dies during the warm-up or the first steps; later trials a random time after a random step.
    const plans = [
      { name: 'random time after start', when: () => timeKill(rand(4_000, 14_000)) },
      { name: 'after step 1', when: () => stepKill(1, rand(0, 700)) },
      { name: 'after step 3', when: () => stepKill(3, rand(0, 700)) },
      { name: 'after step 4', when: () => stepKill(4, rand(0, 700)) },
    ];
    let started = 0;
    let resume = false;
    for (const plan of plans) {
      started = Date.now();
      const killer = plan.when();
      const { output, killed } = await runTrain(chainConfig, resume, killer);
      const resumedAfter = /resume: continuing after RL step (\d+)/.exec(output);
      trials.push({
        kill: killed ? plan.name : `${plan.name} (finished first)`,
        resumedAfter: resumedAfter ? Number(resumedAfter[1]) : null,
      });
      const checkpoint = await readLatestCheckpoint(path.join(dir, 'chain', 'tiny-seed3', 'checkpoints'));
      expect(checkpoint?.skipped ?? [], `a kill (${plan.name}) left a damaged checkpoint`).toEqual([]);
      resume = true;
      if (!killed) break;
    }
    const { output } = await runTrain(chainConfig, true);
    trials.push({
      kill: 'none (runs to the end)',
      resumedAfter: Number(/resume: continuing after RL step (\d+)/.exec(output)?.[1] ?? Number.NaN),
    });
    process.stderr.write(`SIGKILL trials: ${JSON.stringify(trials)}\n`);
    // At least one resume continued mid-RL (not only from the start).
    expect(trials.some((t) => (t.resumedAfter ?? 0) >= 1)).toBe(true);

    await reference;
    const expected = await metricsOf(path.join(dir, 'reference'));
    referenceMetrics = expected;
    const got = await metricsOf(path.join(dir, 'chain'));
    expect(expected.filter((m) => m.phase === 'rl')).toHaveLength(6);
    expect(got).toEqual(expected);

    function timeKill(ms: number) {
      return () => Date.now() - started >= ms;
    }
    function stepKill(n: number, delayMs: number) {
      let seenAt = 0;
      return (out: string) => {
        const steps = Math.max(0, ...[...out.matchAll(/^step (\d+)\/\d+/gm)].map((m) => Number(m[1])));
        if (steps >= n && seenAt === 0) seenAt = Date.now();
        return seenAt > 0 && Date.now() - seenAt >= delayMs;
      };
    }
  }, 240_000);

  it('the same run with `learner: http://…` (the learner API server) gives the same per-step metrics', async () => {
    if (!referenceMetrics) throw new Error('needs the reference run of the previous test');
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-remote-run-'));
    dirs.push(dir);
    const server = await serveLearner({
      port: 0,
      token: 'run-token',
      stateDir: path.join(dir, 'learner-state'),
    });
    try {
      const config = path.join(dir, 'remote.yaml');
      await writeFile(config, `${configYaml(path.join(dir, 'remote'))}learner: ${server.url}\n`);
      await runTrain(config, false, undefined, { TOOLGYM_LEARNER_TOKEN: 'run-token' });
      expect(await metricsOf(path.join(dir, 'remote'))).toEqual(referenceMetrics);
    } finally {
      await server.close();
    }
  }, 120_000);
});

/**
 * `toolgym train` killed with SIGKILL at random moments, then `toolgym train --resume`, several
 * times over: the continuation's per-step metrics equal those of a run never killed (same seed),
 * and no kill ever leaves a checkpoint that fails verification. Again with `rl.asyncLevel: 1` and
 * two data-parallel learner workers: there a checkpoint holds the batch that was playing during the
 * learner's step, played again on resume, and every replica takes the checkpoint's state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { serveLearner } from '../src/api/learner-server.ts';
import { readLatestCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { deterministicMetrics } from './fixtures/deterministic-metrics.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const toolgym = path.join(root, 'cli/bin/toolgym.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * A tiny run (~1 s per RL step here): a short pretraining on two other functions (a second
 * environment the CLI makes), then a short oracle warm-up so that RL groups have reward variance.
 */
const configYaml = (outDir: string, asyncLevel = 0) => `
run: { name: tiny, seed: 3, outDir: ${JSON.stringify(outDir)} }${asyncLevel > 0 ? '\nlearner: { workers: 2 }' : ''}
environment:
  id: compose
  options: { functions: [reverse, upper, double], depths: [1, 2], tasksPerDepth: 20, alphabet: abc, minLength: 3, maxLength: 4, heldOutPairFraction: 0.25, maxTurns: 3 }
policy:
  model: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxPositions: 160 }
template:
  kind: compact
  dropFromPrompt: [' Use the tools, then call answer with the final string.']
pretrain:
  options: { functions: [rotate_left, drop_first] }
  tasks: { split: train }
  steps: 10
  batchSize: 8
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
  demos: { warmup: 0.5, pretrain: 0.5 }
  asyncLevel: ${asyncLevel}
  sampling: { temperature: 1.0, maxTokens: 32 }
eval:
  tasks: { split: test, meta: { depth: 2 }, limit: 2 }
  every: 3
maxTurns: 3
`;

const metricsOf = (outDir: string) => deterministicMetrics(path.join(outDir, 'tiny-seed3', 'metrics.jsonl'));

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
  it.each([0, 1])(
    'continues identically to a run never killed, after several kills at random moments (rl.asyncLevel %i; with 1, two learner workers)',
    async (asyncLevel) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-resume-'));
      dirs.push(dir);
      const refConfig = path.join(dir, 'reference.yaml');
      const chainConfig = path.join(dir, 'chain.yaml');
      await writeFile(refConfig, configYaml(path.join(dir, 'reference'), asyncLevel));
      await writeFile(chainConfig, configYaml(path.join(dir, 'chain'), asyncLevel));
      const reference = runTrain(refConfig, false);

      const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
      const trials: Array<{ kill: string; resumedAfter: number | null }> = [];
      // Trial 0 dies during the warm-up or the first steps; later trials a random time after a random
      // step (the run takes ~12 s here, of which RL ~2 s: kills are timed from the output, not the start).
      const plans = [
        { name: 'random time after the warm-up starts', when: () => afterLine(/^warm-up:/m, rand(0, 2_000)) },
        { name: 'after step 1', when: () => stepKill(1, rand(0, 300)) },
        { name: 'after step 3', when: () => stepKill(3, rand(0, 300)) },
        { name: 'after step 5', when: () => stepKill(5, rand(0, 300)) },
      ];
      let resume = false;
      for (const plan of plans) {
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
      // At least one run resumed mid-RL (not from the start, nor after the last step).
      expect(trials.some((t) => t.resumedAfter !== null && t.resumedAfter >= 1 && t.resumedAfter < 6)).toBe(
        true,
      );

      await reference;
      const expected = await metricsOf(path.join(dir, 'reference'));
      if (asyncLevel === 0) referenceMetrics = expected;
      const got = await metricsOf(path.join(dir, 'chain'));
      const rlSteps = expected.filter((m) => m.phase === 'rl');
      expect(rlSteps).toHaveLength(6);
      // Asynchronous: each batch after the first was played one optimiser step behind the learner,
      // unless the step before had nothing to train (no step then).
      const lags = rlSteps.map((_, i) =>
        i > 0 && (rlSteps[i - 1]!['batch/trained_sequences'] as number) > 0 ? asyncLevel : 0,
      );
      expect(rlSteps.map((m) => m['policy/lag'])).toEqual(lags);
      if (asyncLevel > 0) expect(lags).toContain(1);
      expect(got).toEqual(expected);

      function afterLine(line: RegExp, delayMs: number) {
        let seenAt = 0;
        return (out: string) => {
          if (seenAt === 0 && line.test(out)) seenAt = Date.now();
          return seenAt > 0 && Date.now() - seenAt >= delayMs;
        };
      }
      function stepKill(n: number, delayMs: number) {
        return afterLine(new RegExp(`^step ${n}/\\d+`, 'm'), delayMs);
      }
    },
    240_000,
  );

  it.each(['onnx', 'tinker'])(
    'the same run through `learner: { kind: tinker }` against `toolgym learner serve` (policy.kind %s), killed and resumed, gives the same per-step metrics',
    async (policyKind) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-tinker-run-'));
      dirs.push(dir);
      if (!referenceMetrics) {
        // Run alone (-t): the embedded learner's run, never killed, is the reference.
        const refConfig = path.join(dir, 'reference.yaml');
        await writeFile(refConfig, configYaml(path.join(dir, 'reference')));
        await runTrain(refConfig, false);
        referenceMetrics = await metricsOf(path.join(dir, 'reference'));
      }
      const server = await serveLearner({
        port: 0,
        token: 'tml-run-key',
        stateDir: path.join(dir, 'learner-state'),
      });
      try {
        const config = path.join(dir, 'tinker.yaml');
        // policy.kind tinker: the episodes are sampled by the server (asample) from its sampler saves.
        const yaml = configYaml(path.join(dir, 'tinker')).replace(
          'policy:\n',
          `policy:\n  kind: ${policyKind}\n`,
        );
        await writeFile(config, `${yaml}learner: { kind: tinker, url: ${JSON.stringify(server.url)} }\n`);
        const env = { TINKER_API_KEY: 'tml-run-key' };
        // Killed a while after RL step 2: the resumed run loads the service's checkpoint (a tinker:// path) into a new model.
        const killed = await runTrain(config, false, (out) => /^step 3\/\d+/m.test(out), env);
        expect(killed.killed).toBe(true);
        const { output } = await runTrain(config, true, undefined, env);
        expect(output).toMatch(/resume: continuing after RL step [1-5]\b/);
        const checkpoint = await readLatestCheckpoint<{ learnerPath?: string }>(
          path.join(dir, 'tinker', 'tiny-seed3', 'checkpoints'),
        );
        expect(checkpoint?.state.learnerPath).toMatch(/^tinker:\/\/model_\w+\/weights\/state-\d+$/);
        const got = await metricsOf(path.join(dir, 'tinker'));
        const want = referenceMetrics!;
        expect(got.length).toBe(want.length);
        // Every figure equal to the embedded learner's to 1e-4 (they are computed by the same TF.js code).
        got.forEach((line, i) => {
          const expected = want[i]!;
          expect(Object.keys(line).sort()).toEqual(Object.keys(expected).sort());
          for (const [k, v] of Object.entries(line))
            if (typeof v === 'number')
              expect(Math.abs(v - (expected[k] as number)), `line ${i} ${k}`).toBeLessThanOrEqual(1e-4);
            else expect(v).toEqual(expected[k]);
        });
      } finally {
        await server.close();
      }
    },
    480_000,
  );
});

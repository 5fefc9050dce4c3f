/**
 * A run is identical for a given seed and config on one machine type: the same short run, trained
 * twice with the next step's episodes playing during each learner step (`rl.asyncLevel` 1) and a
 * time budget that is only a safety stop, writes equal metrics.jsonl lines (timing fields, `time`
 * and the run id left out: they differ by nature), the same `metricsDigest` in result.json, and the
 * same best checkpoint, chosen by the validation tasks. Every tool call waits a random time first,
 * different in each run, so the episodes' requests reach the policy in other orders and share its
 * batched decoding steps with other rows, as they do on a loaded machine.
 */
import { readFile, rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readDecoderModelDir } from '@toolgym/agents';
import { defineEnvironment, discoverEnvironments, Environment } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../src/train/config.ts';
import { train } from '../src/train/train.ts';
import type { TrainResult } from '../src/train/train-result.ts';
import { deterministicMetrics } from './fixtures/deterministic-metrics.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const configOf = (outDir: string) =>
  parseTrainConfig({
    run: { name: 'twice', seed: 3, outDir },
    environment: {
      id: 'compose',
      options: {
        functions: ['reverse', 'upper', 'double'],
        depths: [1, 2],
        tasksPerDepth: 20,
        alphabet: 'abc',
        minLength: 3,
        maxLength: 4,
        maxTurns: 3,
      },
    },
    policy: { model: { dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, maxPositions: 160, positions: 'rope' } },
    template: {
      kind: 'compact',
      dropFromPrompt: [' Use the tools, then call answer with the final string.'],
      toolTokens: true,
    },
    learner: { workers: 2 },
    warmup: { tasks: { split: 'train', meta: { depth: 1 } }, steps: 30, batchSize: 8 },
    rl: {
      tasks: { split: 'train', meta: { depth: 2 } },
      steps: 5,
      timeBudgetMinutes: 60,
      tasksPerStep: 3,
      groupSize: 4,
      asyncLevel: 1,
      sampling: { temperature: 1.0, maxTokens: 24, exploreToolNames: 0.3, exploreAmong: 'untried' },
      adam: { learningRate: 0.003, schedule: 'wsd' },
    },
    eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 4 }, every: 2, validationTasks: 4 },
    maxTurns: 3,
  });

/** Compose, each tool call delayed by 0–`maxDelayMs` ms drawn from `Math.random` (not the run's seed). */
async function jitteryCompose(options: unknown): Promise<Environment> {
  const compose = (await discoverEnvironments()).resolve('compose');
  const maxDelayMs = 15;
  const definition = defineEnvironment({
    ...compose,
    tools: Object.fromEntries(
      Object.entries(compose.tools).map(([name, tool]) => [
        name,
        {
          ...tool,
          // On the event loop, where the delay can be awaited (a pure tool runs in a worker).
          pure: false,
          run: async (args: never, ctx: never) => {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * maxDelayMs));
            return tool.run(args, ctx);
          },
        },
      ]),
    ),
  });
  return new Environment(definition, definition.parseConfig(options));
}

async function trainOnce(): Promise<TrainResult> {
  const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-twice-'));
  dirs.push(outDir);
  const config = configOf(outDir);
  const environment = await jitteryCompose(config.environment.options);
  return train({ config, environment, log: () => {} });
}

/** result.json without what differs by nature: wall times, the run's id and directory. */
const comparable = ({ runId, outDir, rlSeconds, evals, warmup, config, ...rest }: TrainResult) => ({
  ...rest,
  evals: evals.map(({ seconds, ...e }) => e),
  warmup: { ...warmup, seconds: 0 },
  config: { ...config, run: { ...config.run, outDir: '' } },
});

describe('a run, trained twice', () => {
  it('writes the same metrics line for line, the same result and the same best checkpoint', async () => {
    const first = await trainOnce();
    const second = await trainOnce();
    const lines = await deterministicMetrics(path.join(first.outDir, 'metrics.jsonl'));
    expect(lines.filter((l) => l.phase === 'rl')).toHaveLength(5);
    expect(await deterministicMetrics(path.join(second.outDir, 'metrics.jsonl'))).toEqual(lines);
    expect(first.metricsDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(comparable(second)).toEqual(comparable(first));
    expect(first.stoppedBy).toBe('steps');

    // result.json is the returned result, as written.
    const written = JSON.parse(await readFile(path.join(first.outDir, 'result.json'), 'utf8'));
    expect(written.metricsDigest).toBe(first.metricsDigest);
    expect(written.config.rl.steps).toBe(5);

    // The best checkpoint is the first evaluation with the highest validation accuracy, never test's choice.
    const validation = first.evals.map((e) => e.validation!.accuracy);
    const bestStep = first.evals[validation.indexOf(Math.max(...validation))]!.step;
    expect(first.best).toEqual({
      step: bestStep,
      validation: Math.max(...validation),
      accuracy: first.evals.find((e) => e.step === bestStep)!.accuracy,
    });
    const weight = async (r: TrainResult) =>
      (await readDecoderModelDir(path.join(r.outDir, 'best-model'))).weights['layers.0.attn.q.weight'];
    expect(await weight(second)).toEqual(await weight(first));
  }, 400_000);
});

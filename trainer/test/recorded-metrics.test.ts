/**
 * The same seed and config give the same metrics: a short run through every phase (pretraining and
 * a warm-up with stop checks, RL with `rl.demos`, a KL reference, turn credit, dynamic sampling,
 * played and trained in turn or overlapped) reproduces, number for number, the metrics recorded in
 * `fixtures/recorded-metrics-async<level>.jsonl`. Timing and memory fields (`timing/`,
 * `memory/`, `time`) and the run id differ by nature and are left out.
 *
 * The fixtures were first recorded by the training loop as it was before it was split into phase
 * files, with its metric names mapped onto today's, and recorded again when the wasm learner's own
 * kernels (SIMD batched products, RoPE as a product) changed float rounding: every value then moved
 * by under 1.3e-4 relative, and with asynchronous overlap one sampled token at RL step 4. A turn that
 * ends on the model's second end token (`<|endoftext|>`) once failed the episode (`template_mismatch`)
 * and now continues it, which adds one trained episode at async0's RL step 2. The learner's heap
 * kernels (GELU and layer norm in SIMD, causal halves skipped) moved values by under 1e-5 relative
 * and, without overlap, flipped one sampled token at RL step 2; both fixtures were recorded again. A change that is meant to change training (a new
 * default, different sampling, other float rounding in the learner) records them again:
 *   toolgym train <this config as YAML> && keep each line of <run>/metrics.jsonl without runId, time, timing/ and memory/
 * Recorded on x86-64 with onnxruntime's CPU kernels; another CPU's kernels may round logits in the
 * last bit, which the tolerance below absorbs unless it changes a sampled token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverEnvironments } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../src/train/config.ts';
import { train } from '../src/train/train.ts';
import { deterministicMetrics } from './fixtures/deterministic-metrics.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const configOf = (outDir: string, asyncLevel: number) =>
  parseTrainConfig({
    run: { name: 'golden', seed: 5, outDir },
    environment: {
      id: 'compose',
      options: {
        functions: ['reverse', 'upper', 'double'],
        depths: [1, 2],
        tasksPerDepth: 20,
        alphabet: 'abc',
        minLength: 3,
        maxLength: 4,
        heldOutPairFraction: 0.25,
        maxTurns: 3,
      },
    },
    policy: { model: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxPositions: 160, positions: 'rope' } },
    template: {
      kind: 'compact',
      dropFromPrompt: [' Use the tools, then call answer with the final string.'],
      toolTokens: true,
    },
    pretrain: {
      options: { functions: ['rotate_left', 'drop_first'] },
      tasks: { split: 'train' },
      steps: 6,
      batchSize: 4,
      pack: 2,
      until: { passRate: 1, every: 3, limit: 3 },
    },
    warmup: {
      tasks: { split: 'train', meta: { depth: 1 } },
      steps: 100,
      batchSize: 8,
      adam: { learningRate: 0.01, schedule: 'cosine' },
      until: { passRate: 1, every: 50, limit: 4 },
    },
    rl: {
      tasks: { split: 'train', meta: { depth: 1 } },
      steps: 6,
      tasksPerStep: 2,
      groupSize: 3,
      asyncLevel,
      dynamicSamplingRounds: 1,
      demos: { warmup: 0.5, pretrain: 0.5 },
      kl: { coef: 0.05 },
      turnCredit: { coef: 0.5, returns: 'min' },
      sampling: { temperature: 1.0, maxTokens: 32, exploreToolNames: 0.3, exploreAmong: 'untried' },
      adam: { learningRate: 0.001, schedule: 'wsd' },
    },
    eval: { tasks: { split: 'test', meta: { depth: 2 }, limit: 4 }, every: 2 },
    maxTurns: 3,
  });

describe('recorded metrics', () => {
  it.each([0, 1])(
    'rl.asyncLevel %i: the run reproduces the recorded metrics',
    async (asyncLevel) => {
      const outDir = await mkdtemp(path.join(tmpdir(), 'toolgym-recorded-'));
      dirs.push(outDir);
      const config = configOf(outDir, asyncLevel);
      const environments = await discoverEnvironments();
      const options = config.environment.options;
      const result = await train({
        config,
        environment: environments.make('compose', options),
        pretrainEnvironment: environments.make('compose', { ...options, ...config.pretrain!.options }),
        log: () => {},
      });
      const got = await deterministicMetrics(path.join(result.outDir, 'metrics.jsonl'));
      const recorded = await deterministicMetrics(
        path.join(fixtures, `recorded-metrics-async${asyncLevel}.jsonl`),
      );
      expect(got.map((l) => `${l.phase} ${l.step}`)).toEqual(recorded.map((l) => `${l.phase} ${l.step}`));
      got.forEach((line, i) => {
        expect(Object.keys(line).sort()).toEqual(Object.keys(recorded[i]!).sort());
        for (const [key, value] of Object.entries(recorded[i]!)) {
          const where = `line ${i + 1} (${line.phase} step ${line.step}) ${key}`;
          if (typeof value === 'number' && !Number.isInteger(value))
            expect(Math.abs((line[key] as number) - value), where).toBeLessThanOrEqual(
              1e-5 * Math.max(1, Math.abs(value)),
            );
          else expect(line[key], where).toEqual(value);
        }
      });
    },
    240_000,
  );
});

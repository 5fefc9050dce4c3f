/**
 * The feedback recipes on the built-in model, end to end through `train()`: Try Again (UFO) on
 * compose and Agent-RLVR's guided re-attempt on sql, a few RL steps each, and the configs in
 * `configs/` that run them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrainConfig, parseTrainConfig } from '../src/train/config.ts';
import { train } from '../src/train/train.ts';
import { TINY_COMPOSE_RUN } from './fixtures/tiny-compose-run.ts';
import type { TrainResult } from '../src/train/train-result.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Recorded {
  result: TrainResult;
  rl: Trajectory[];
  evals: Trajectory[];
  metrics: Array<Record<string, number | string>>;
}

async function run(name: string, config: Record<string, unknown>): Promise<Recorded> {
  const outDir = await mkdtemp(path.join(tmpdir(), `toolgym-${name}-`));
  dirs.push(outDir);
  const parsed = parseTrainConfig({ ...config, run: { name, seed: 1, outDir } });
  const environment = (await discoverEnvironments()).make(parsed.environment.id, parsed.environment.options);
  const groups: TrajectoryGroup[] = [];
  const result = await train({
    config: parsed,
    environment,
    log: () => {},
    sink: { onGroup: (g) => void groups.push(g) },
  });
  const metrics = (await readFile(path.join(result.outDir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const all = groups.flatMap((g) => g.trajectories);
  return {
    result,
    rl: all.filter((t) => t.runId === result.runId),
    evals: all.filter((t) => t.runId === `${result.runId}-eval`),
    metrics,
  };
}

/** Sequences the learner trained on over RL's steps. */
const trainedSequences = (r: Recorded) =>
  r.metrics
    .filter((m) => m.phase === 'rl')
    .reduce((n, m) => n + Number(m['batch/trained_sequences'] ?? 0), 0);

/** The turns after which the environment answered with `message`. */
const feedbackTurns = (t: Trajectory, message: string) =>
  t.turns.filter((turn) => turn.toolResults.some((r) => r.content.startsWith(message)));

describe('Try Again (UFO) on compose', () => {
  it('continues a wrong answer with "try again" as its own turns, decays the reward as γ^t, and trains', async () => {
    const recorded = await run('try-again', {
      ...TINY_COMPOSE_RUN,
      environment: {
        id: 'compose',
        options: {
          ...TINY_COMPOSE_RUN.environment.options,
          maxTurns: 6,
          weights: { correct: 0, composed: 1, valid_calls: 0.1 },
        },
        feedback: { tryAgain: 2, correct: 'composed' },
      },
      policy: { model: { ...TINY_COMPOSE_RUN.policy.model, maxPositions: 192 } },
      maxTurns: 6,
    });
    expect(recorded.result.rlSteps).toBe(2);
    const played = recorded.rl.filter((t) => t.status !== 'failed');
    expect(played.length).toBe(2 * 3 * 4);
    // Some episode answered wrong and went on: the feedback is the answer's result, and turns follow it.
    const retried = played.filter((t) => feedbackTurns(t, "Let's try again.").length > 0);
    expect(retried.length).toBeGreaterThan(0);
    const continued = retried.filter(
      (t) => t.turns.at(-1)!.index > feedbackTurns(t, "Let's try again.").at(-1)!.index,
    );
    expect(continued.length).toBeGreaterThan(0);
    for (const t of retried) {
      // Feedback in the last turn: a limit ended the episode there.
      if (!continued.includes(t)) expect(t.status).toBe('truncated');
      // Each answer through the tool is a turn of its own; `attempts` counts them.
      expect(t.turns.filter((turn) => turn.toolCalls.some((c) => c.name === 'answer')).length).toBe(
        t.reward.components.attempts,
      );
    }
    // Every episode's reward: γ^t × its last grade's weighted sum, less the repetition penalty.
    for (const t of played) {
      const { components, weights, info } = t.reward;
      const grade = Object.entries(components).reduce((s, [name, v]) => s + (weights[name] ?? 0) * v, 0);
      const failed = (info.failedAttempts as unknown[]).length;
      expect(t.reward.total).toBeCloseTo(0.5 ** failed * grade - (components.repetition_penalty ?? 0), 9);
    }
    // The policy trained on them, and evaluation played with the same feedback.
    expect(trainedSequences(recorded)).toBeGreaterThan(0);
    expect(recorded.evals.length).toBeGreaterThan(0);
    expect(recorded.evals.every((t) => t.status === 'failed' || 'attempts' in t.reward.components)).toBe(
      true,
    );
  }, 600_000);

  it('configs/compose-try-again.yaml is the main job with one re-attempt, composition as the verdict', async () => {
    const config = await loadTrainConfig(
      fileURLToPath(new URL('../../configs/compose-try-again.yaml', import.meta.url)),
    );
    expect(config.environment.feedback).toMatchObject({
      tryAgain: 1,
      correct: 'composed',
      decay: 0.5,
      repetitionPenalty: 0.5,
      inEval: true,
    });
    expect(config.rl.steps).toBe(230);
    expect(config.maxTurns).toBe(6);
  });
});

describe('Agent-RLVR guidance on sql', () => {
  const message = 'The query is not right. Guidance for another attempt:';

  it('answers a wrong submission with guidance, trains on the re-attempt, and evaluates without guidance', async () => {
    const recorded = await run('agent-rlvr', {
      environment: {
        id: 'sql',
        options: { maxTurns: 4 },
        feedback: {
          tryAgain: 1,
          message,
          correct: 'execution',
          guidance: true,
          decay: 1,
          repetitionPenalty: 0,
          inEval: false,
          trainOn: 'last-attempt',
        },
      },
      policy: {
        model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxPositions: 1024, positions: 'rope' },
      },
      // One short question type (`SELECT capital FROM countries WHERE name = …`), its instructions
      // learnt from the demonstrations, so the small policy writes a submission within a few steps.
      template: {
        toolTokens: true,
        dropFromPrompt: [
          ' Explore the schema with list_tables and describe_table, try queries with execute_sql, then call submit_answer with one SQL query whose result answers the question.',
        ],
      },
      warmup: {
        tasks: { split: 'train', meta: { template: 'capital-of' }, limit: 8 },
        steps: 60,
        batchSize: 4,
        adam: { learningRate: 0.01 },
      },
      rl: {
        tasks: { split: 'train', meta: { template: 'capital-of' } },
        steps: 2,
        tasksPerStep: 3,
        groupSize: 4,
        sampling: { temperature: 1, maxTokens: 80 },
      },
      eval: {
        tasks: { split: 'train', meta: { template: 'capital-of' }, limit: 2 },
        alsoOn: [],
        every: 100,
        sampling: { temperature: 0, maxTokens: 80 },
      },
      maxTurns: 4,
    });
    expect(recorded.result.rlSteps).toBe(2);
    // Every demonstration's turns fit the turns RL and evaluation sample: the policy can write them.
    expect(recorded.result.demonstrations?.warmup).toEqual({
      kept: 8,
      overContext: 0,
      longTurns: { rl: 0, eval: 0 },
    });
    const guided = recorded.rl.filter((t) => t.status !== 'failed' && feedbackTurns(t, message).length > 0);
    expect(guided.length).toBeGreaterThan(0);
    for (const t of guided) {
      const guidance = feedbackTurns(t, message)[0]!.toolResults.find((r) =>
        r.content.startsWith(message),
      )!.content;
      expect(guidance).toMatch(/The submitted query (did not run|ran and returned)/);
      expect(guidance).toMatch(/The answer uses (this table|these \d+ tables):\n\w+\(/);
    }
    expect(trainedSequences(recorded)).toBeGreaterThan(0);
    // Each step logs what the re-attempts did: some episode was guided.
    const steps = recorded.metrics.filter((m) => m.phase === 'rl');
    expect(steps.every((m) => typeof m['feedback/retry_correct'] === 'number')).toBe(true);
    expect(Math.max(...steps.map((m) => Number(m['feedback/retried'])))).toBeGreaterThan(0);
    // Evaluation: one attempt, no guidance.
    expect(recorded.evals.length).toBeGreaterThan(0);
    for (const t of recorded.evals) {
      expect(feedbackTurns(t, message)).toEqual([]);
      if (t.status !== 'failed') expect(t.reward.components.attempts).toBeUndefined();
    }
  }, 900_000);

  it('configs/sql-agent-rlvr.yaml and configs/code-agent-rlvr.yaml guide one re-attempt and train on it', async () => {
    for (const [file, correct] of [
      ['sql-agent-rlvr.yaml', 'execution'],
      ['code-agent-rlvr.yaml', 'all_pass'],
    ] as const) {
      const config = await loadTrainConfig(fileURLToPath(new URL(`../../configs/${file}`, import.meta.url)));
      expect(config.environment.feedback).toMatchObject({
        tryAgain: 1,
        correct,
        guidance: true,
        decay: 1,
        inEval: false,
        trainOn: 'last-attempt',
      });
      // The evaluated policy gets RL's room per turn: a query or a program is one turn's tool call,
      // and with the schema's default (48 tokens) no evaluation could ever pass.
      expect(config.eval.sampling).toMatchObject({ temperature: 0, maxTokens: config.rl.sampling.maxTokens });
    }
  });
});

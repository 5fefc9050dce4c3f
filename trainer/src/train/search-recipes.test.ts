/**
 * ZeroSearch and Search Self-play end to end on the built-in model: `train` for two steps each,
 * on the search environment, with the policy being trained as the environment's model.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOnnxPolicy } from '@toolgym/agents';
import { discoverEnvironments } from '@toolgym/env-kit';
import type { ChatTextModel, Trajectory } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrainConfig, parseTrainConfig } from './config.ts';
import { train } from './train.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const tempDir = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'toolgym-search-recipes-'));
  dirs.push(d);
  return d;
};

const world = (dataDir: string) => ({ corpus: { kind: 'world', distractors: 20, questionsPerType: 2 }, dataDir, maxTurns: 2 });

const config = (outDir: string, options: Record<string, unknown>, rl: Record<string, unknown>) =>
  parseTrainConfig({
    run: { name: 'search-recipe-smoke', seed: 1, outDir },
    environment: { id: 'search', options, model: 'policy' },
    policy: { model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxPositions: 512, positions: 'rope' } },
    template: { kind: 'compact', toolTokens: true },
    learner: { backend: 'wasm' },
    rl: { tasks: { split: 'train' }, steps: 2, tasksPerStep: 2, groupSize: 2, sampling: { temperature: 1, maxTokens: 16 }, ...rl },
    eval: { tasks: { split: 'test', limit: 2 }, every: 2 },
    maxTurns: 2,
  });

/** Every RL episode the sink saw (evaluation's left out), failed ones included. */
function recorder() {
  const played: Trajectory[] = [];
  return {
    played,
    sink: {
      onGroup: (g: { trajectories: Trajectory[] }) => {
        if (!g.trajectories[0]?.runId?.endsWith('-eval')) played.push(...g.trajectories);
      },
    },
  };
}

/** The run's metrics lines (`{runId, phase, step, time, …metrics}`). */
const metricsOf = async (outDir: string) =>
  (await readFile(path.join(outDir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);

describe('ZeroSearch on the built-in model', () => {
  it('trains with backend simulated: every episode is told how far training is, and the noise probability follows the curriculum', async () => {
    const dataDir = await tempDir();
    const options = { ...world(dataDir), backend: { kind: 'simulated', maxTokens: 32 }, weights: { exact_match: 0, f1: 1, format: 0, citation: 0 } };
    const environment = (await discoverEnvironments()).make('search', options);
    const { played, sink } = recorder();
    const result = await train({ config: config(await tempDir(), options, {}), environment, log: () => {}, sink });
    expect(result.rlSteps).toBe(2);
    // Graded episodes (a random model's episode may fail, e.g. template_mismatch, and has no grade).
    const graded = played.filter((t) => t.status !== 'failed');
    const noise = (step: number) => [...new Set(graded.filter((t) => t.step === step).map((t) => t.reward.info.noiseProbability))];
    // Two steps: progress 0 then 1, so p_s then p_e (ZeroSearch's 0.25 and 0.5).
    expect(noise(1)).toEqual([0.25]);
    expect(noise(2)).toEqual([0.5]);
  }, 300_000);

  it('the built-in model writes the documents: its output, parsed, is what search returns', async () => {
    const dataDir = await tempDir();
    const outDir = await tempDir();
    const options = { ...world(dataDir), backend: { kind: 'simulated', maxTokens: 48, temperature: 1 } };
    const environment = (await discoverEnvironments()).make('search', options);
    const result = await train({
      config: config(outDir, options, { steps: 1, tasksPerStep: 1 }),
      environment,
      log: () => {},
    });
    const policy = await createOnnxPolicy({ model: path.join(result.outDir, 'model'), executionProvider: 'cpu', threads: 1 });
    const outputs: string[] = [];
    const prompts: string[] = [];
    const counted: ChatTextModel = {
      async generate(request) {
        prompts.push(request.messages.at(-1)!.content);
        const out = await policy.generate(request);
        outputs.push(out.text);
        return out;
      },
    };
    const fresh = (await discoverEnvironments()).make('search', options);
    fresh.useModel(counted);
    const task = (await fresh.tasks())[0]!;
    const episode = await fresh.openEpisode({ taskId: task.id, progress: 1 });
    const searched = await episode.callTool('search', { query: 'who founded it', k: 3 });
    await episode.close();
    await policy.close();
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatch(/^You are the Google search engine\.\n/);
    expect(searched.isError).toBe(false);
    const docs = outputs[0]!
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    // What the random model wrote, one document a line, at most 3; or nothing usable.
    if (docs.length === 0) expect(searched.content).toMatch(/^No documents match/);
    else {
      expect(searched.content.startsWith(`Results for "who founded it":\n[1] ${docs[0]!.slice(0, 10)}`)).toBe(true);
      expect(searched.content.match(/^\[\d\] /gm)?.length).toBe(Math.min(3, docs.length));
    }
  }, 300_000);

  it('configs/zerosearch.yaml is a valid ZeroSearch config: simulated backend, the policy as its model, F1 reward', async () => {
    const zs = await loadTrainConfig(fileURLToPath(new URL('../../../configs/zerosearch.yaml', import.meta.url)));
    expect(zs.environment).toMatchObject({ id: 'search', model: 'policy' });
    expect(zs.environment.options).toMatchObject({ backend: { kind: 'simulated' }, weights: { f1: 1, exact_match: 0 } });
  });
});

it('environment.model is for environments in this process: with endpoints the config is refused, naming the fix', () => {
  expect(() =>
    parseTrainConfig({
      run: { name: 'x', outDir: '/tmp' },
      environment: { id: 'search', model: 'policy', endpoints: ['http://127.0.0.1:9/mcp'] },
      rl: { tasks: { split: 'train' } },
      eval: { tasks: { split: 'test' } },
    }),
  ).toThrow(/environment\.model: environment\.model gives the policy to environments in this process.*leave endpoints empty/s);
});

describe('Search Self-play on the built-in model', () => {
  it('self-play seats one proposer and its solver per match; a discarded question is counted and its solver left out of training', async () => {
    const dataDir = await tempDir();
    const outDir = await tempDir();
    const options = { ...world(dataDir), selfPlay: { solvers: 1, matches: 4, verify: 'rag' } };
    const environment = (await discoverEnvironments()).make('search', options);
    const { played, sink } = recorder();
    const result = await train({
      config: config(outDir, options, { selfPlay: true, algorithm: 'rae', tasks: { split: 'train' } }),
      environment,
      log: () => {},
      sink,
    });
    expect(result.rlSteps).toBe(2);
    const proposers = played.filter((t) => t.taskId.endsWith('/proposer'));
    const solvers = played.filter((t) => t.taskId.endsWith('/solver-1'));
    // Two matches a step, each played by groupSize pairs of sessions.
    expect(proposers).toHaveLength(2 * 2 * 2);
    expect(solvers).toHaveLength(2 * 2 * 2);
    // A random model's episode may fail on its own (its sampled end-of-text is no turn end the
    // template renders back: template_mismatch); a graded proposer says whether it was verified.
    const randomFailure = (t: Trajectory) => t.status === 'failed' && t.failure?.code === 'template_mismatch';
    for (const p of proposers.filter((t) => !randomFailure(t))) {
      expect(p.status, JSON.stringify(p.failure)).not.toBe('failed');
      expect(p.reward.components).toHaveProperty('verified');
      expect(p.reward.total).toBe(p.reward.components.verified === 1 ? p.reward.components.proposer : 0);
    }
    // The random model proposes nothing that passes the checks: every solver is left without a question.
    const discarded = solvers.filter((s) => s.failure?.code === 'question_discarded').length;
    expect(discarded).toBeGreaterThan(0);
    expect(solvers.every((s) => s.failure?.code === 'question_discarded' || randomFailure(s))).toBe(true);
    const counted = (await metricsOf(result.outDir)).reduce((a, m) => a + (m['batch/failed/question_discarded'] ?? 0), 0);
    expect(counted).toBe(discarded);
  }, 300_000);

  it('configs/search-self-play.yaml is a valid Search Self-play config: self-play seats with RAE, the RAG check by the policy', async () => {
    const ssp = await loadTrainConfig(fileURLToPath(new URL('../../../configs/search-self-play.yaml', import.meta.url)));
    expect(ssp.environment).toMatchObject({ id: 'search', model: 'policy' });
    expect(ssp.environment.options).toMatchObject({ selfPlay: { verify: 'rag' } });
    expect(ssp.rl).toMatchObject({ selfPlay: true, algorithm: 'rae' });
  });
});

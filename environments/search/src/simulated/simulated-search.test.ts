import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, Environment } from '@toolgym/env-kit';
import type { ChatTextModel } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import searchEnvironment, { closeSearchResources } from '../index.ts';
import type { SearchAnswer, SearchTaskMeta } from '../tasks/search-answer.ts';
import { noiseProbability } from './noise-curriculum.ts';
import { parseSimulatedDocuments, simulationPrompt } from './simulation-prompt.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-simulated-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

describe('ZeroSearch noise curriculum (Eq. 1)', () => {
  const paper = { start: 0.25, end: 0.5, base: 4 };
  it('rises from p_s to p_e along (b^(i/m) − 1) / (b − 1)', () => {
    expect(noiseProbability(0, paper)).toBe(0.25);
    expect(noiseProbability(1, paper)).toBe(0.5);
    // Halfway: (4^0.5 − 1) / 3 = 1/3 of the rise.
    expect(noiseProbability(0.5, paper)).toBeCloseTo(0.25 + 0.25 / 3, 12);
    // Exponential: slower than linear early on.
    expect(noiseProbability(0.25, paper)).toBeCloseTo(0.25 + ((Math.SQRT2 - 1) / 3) * 0.25, 12);
    expect(noiseProbability(0.25, paper)).toBeLessThan(0.25 + 0.25 * 0.25);
  });
  it('is linear at b = 1, clamps progress to [0, 1], and may fall', () => {
    expect(noiseProbability(0.3, { start: 0, end: 1, base: 1 })).toBeCloseTo(0.3, 12);
    expect(noiseProbability(-2, paper)).toBe(0.25);
    expect(noiseProbability(7, paper)).toBe(0.5);
    expect(noiseProbability(1, { start: 0.8, end: 0.2, base: 4 })).toBeCloseTo(0.2, 12);
  });
});

describe('ZeroSearch simulation prompt (Table 2)', () => {
  it('writes the paper’s template, useful or noisy by one word', () => {
    const request = { query: 'capital of France', question: 'What is the capital of France?', answer: 'Paris', documents: 5, wordsPerDocument: 30 };
    expect(simulationPrompt({ ...request, useful: true })).toBe(
      'You are the Google search engine.\n' +
        'Given a query, you need to generate five useful documents for the query.\n\n' +
        'The user is trying to answer the question: "What is the capital of France?" whose answer is Paris.\n' +
        'Each document should contain about 30 words, and these documents should contain useful information.\n\n' +
        'Query: capital of France\nUseful Output:',
    );
    const noisy = simulationPrompt({ ...request, useful: false });
    expect(noisy).toContain('generate five noisy documents');
    expect(noisy).toContain('should contain noisy information');
    expect(noisy.endsWith('Noisy Output:')).toBe(true);
  });
  it('parses numbered documents (over several lines), plain lines, and caps count and length', () => {
    expect(parseSimulatedDocuments('Doc 1: Paris is\nthe capital.\nDoc 2: Lyon.\n\nDoc 3: Nice.', 2, 100)).toEqual([
      'Paris is the capital.',
      'Lyon.',
    ]);
    expect(parseSimulatedDocuments('**Document 1:** A\r\ndoc 2) B', 5, 100)).toEqual(['A', 'B']);
    expect(parseSimulatedDocuments('first\n\nsecond\n', 5, 100)).toEqual(['first', 'second']);
    expect(parseSimulatedDocuments('x'.repeat(50), 5, 10)).toEqual([`${'x'.repeat(10)}…`]);
    expect(parseSimulatedDocuments('   \n\n', 5, 10)).toEqual([]);
  });
});

/** A scripted simulator (a test double of a policy): numbered documents, every prompt kept. */
function scriptedSimulator(): ChatTextModel & { prompts: string[] } {
  const prompts: string[] = [];
  return {
    prompts,
    async generate({ messages }) {
      const prompt = messages.at(-1)!.content;
      prompts.push(prompt);
      const kind = prompt.includes('Useful Output:') ? 'useful' : 'noisy';
      return { text: `Doc 1: a ${kind} document.\nDoc 2: another ${kind} one.\nDoc 3: a third.` };
    },
  };
}

const world = { corpus: { kind: 'world', distractors: 20, questionsPerType: 2 }, dataDir: dir };

function simulatedEnvironment(backend: Record<string, unknown>): Environment {
  return new Environment(
    searchEnvironment,
    searchEnvironment.parseConfig({ ...world, backend: { kind: 'simulated', ...backend } }),
  );
}

describe('search backend: simulated', () => {
  it('a scripted policy writes the documents with the task’s question and answer; the curriculum sets the noisy share', async () => {
    const env = simulatedEnvironment({ noiseStart: 0, noiseEnd: 1, documents: 2 });
    const model = scriptedSimulator();
    env.useModel(model);
    const task = (await env.tasks()).find((t) => t.split === 'train')!;
    const gold = task.answer as SearchAnswer;
    const meta = task.meta as unknown as SearchTaskMeta;

    const early = await env.openEpisode({ taskId: task.id, progress: 0 });
    const result = await early.callTool('search', { query: 'who founded it', k: 5 });
    expect(result.isError).toBe(false);
    // At most `documents` of them, numbered as results, from the model's text.
    expect(result.content).toBe('Results for "who founded it":\n[1] a useful document.\n[2] another useful one.');
    expect(model.prompts[0]).toContain('Query: who founded it\nUseful Output:');
    expect(model.prompts[0]).toContain(`the question: "${meta.question}" whose answer is ${gold.answers[0]}.`);
    expect(model.prompts[0]).toContain('generate two useful documents');
    const grade = await early.end();
    expect(grade.reward.info).toMatchObject({ simulatedSearches: 1, noisySearches: 0, noiseProbability: 0 });

    const late = await env.openEpisode({ taskId: task.id, progress: 1 });
    await late.callTool('search', { query: 'who founded it' });
    await late.callTool('search', { query: 'where' });
    expect(model.prompts.slice(1).every((p) => p.endsWith('Noisy Output:'))).toBe(true);
    expect((await late.end()).reward.info).toMatchObject({ simulatedSearches: 2, noisySearches: 2, noiseProbability: 1 });
  });

  it('draws useful or noisy per search with the episode’s seed: about p_i of them noisy, the same again for the same seed', async () => {
    const env = simulatedEnvironment({ noiseStart: 0.5, noiseEnd: 0.5 });
    const model = scriptedSimulator();
    env.useModel(model);
    const task = (await env.tasks())[0]!;
    const kinds = async (seed: number) => {
      const episode = await env.openEpisode({ taskId: task.id, seed, progress: 0.5 });
      const before = model.prompts.length;
      for (let i = 0; i < 40; i++) await episode.callTool('search', { query: `q${i}` });
      await episode.close();
      return model.prompts.slice(before).map((p) => (p.endsWith('Useful Output:') ? 'u' : 'n')).join('');
    };
    const a = await kinds(1);
    expect(await kinds(1)).toBe(a);
    const noisy = [...a].filter((c) => c === 'n').length;
    expect(noisy).toBeGreaterThan(8);
    expect(noisy).toBeLessThan(32);
  });

  it('a model failure is a tool error the episode survives; no model at all is a configuration error naming the fix', async () => {
    const env = simulatedEnvironment({});
    env.useModel({
      async generate() {
        throw new Error('simulator down');
      },
    });
    const task = (await env.tasks())[0]!;
    const episode = await env.openEpisode({ taskId: task.id });
    const failed = await episode.callTool('search', { query: 'anything' });
    expect(failed).toMatchObject({ isError: true, errorCode: 'tool_failed' });
    expect(failed.content).toContain('simulator down');
    expect((await episode.callTool('answer', { answer: 'x' })).isError).toBe(false);
    await episode.close();

    const bare = simulatedEnvironment({});
    const start = bare.openEpisode({ taskId: task.id });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toMatchObject({ hint: expect.stringContaining('environment.model: policy') });
  });

  it('a progress outside [0, 1] is refused at start', async () => {
    const env = simulatedEnvironment({});
    env.useModel(scriptedSimulator());
    const task = (await env.tasks())[0]!;
    await expect(env.openEpisode({ taskId: task.id, progress: 1.5 })).rejects.toThrow(/progress/);
  });

  it('BM25 stays the default backend', () => {
    expect(searchEnvironment.parseConfig({}).backend).toEqual({ kind: 'bm25' });
  });
});

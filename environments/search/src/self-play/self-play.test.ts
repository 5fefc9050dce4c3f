import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkSplits, ConfigError, Environment, EnvironmentClient } from '@toolgym/env-kit';
import type { ChatTextModel, Task } from '@toolgym/protocol';
import { DocumentCollection } from '@toolgym/tools';
import { afterAll, describe, expect, it } from 'vitest';
import searchEnvironment, { closeSearchResources, loadSearchData } from '../index.ts';
import { promptFor } from '../tasks/search-answer.ts';
import { PROPOSER_ROLE, type SeatAnswer, seatOf, SOLVER_ROLE } from './self-play-tasks.ts';
import { verifyQuestion } from './verify-question.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-self-play-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

const world = { corpus: { kind: 'world', distractors: 20, questionsPerType: 3 }, dataDir: dir };
const selfPlay = (settings: Record<string, unknown> = {}) =>
  new Environment(
    searchEnvironment,
    searchEnvironment.parseConfig({ ...world, selfPlay: { solvers: 2, matches: 6, verify: 'documents', ...settings } }),
  );

/** A scripted RAG reader (a test double of a policy): replies `reply`, keeps every prompt. */
function scriptedReader(reply: string): ChatTextModel & { prompts: string[] } {
  const prompts: string[] = [];
  return {
    prompts,
    async generate({ messages }) {
      prompts.push(messages.map((m) => m.content).join('\n'));
      return { text: reply };
    },
  };
}

const docs = new DocumentCollection([
  { id: 'a', title: 'Kuvinor', url: 'u:a', text: 'Kuvinor was founded by Ada Lemm in 1901.' },
  { id: 'b', title: 'Salver', url: 'u:b', text: 'A salver is a tray.' },
]);
const check = (question: string, found: string[], rag?: { model: ChatTextModel; maxDocuments: number }) =>
  verifyQuestion({ question, answers: ['Ada Lemm'], found, documents: docs, maxQuestionChars: 100, ...(rag ? { rag } : {}) });

describe('verifying a proposed question', () => {
  it('discards a question that names its answer, in any case, punctuation or order', async () => {
    for (const question of [
      'Who founded Kuvinor, Ada Lemm?',
      'who is ADA-LEMM founder of Kuvinor',
      'Is Lemm, Ada the founder of Kuvinor?',
      'Is A.D.A L.E.M.M the founder of Kuvinor?',
      // Letter by letter: SQuAD normalisation would drop each lone "a" as an article.
      'Is A d a L e m m the founder of Kuvinor?',
      'Is Àda Lémm the founder of Kuvinor?',
    ])
      expect(await check(question, ['a'])).toMatchObject({ verified: false, check: 'names_answer' });
  });
  it('discards a question too short or too long, one from no search, and one no document found states the answer of', async () => {
    expect(await check('Founder?', ['a'])).toMatchObject({ verified: false, check: 'too_short' });
    expect(await check(`Who founded ${'very '.repeat(30)}old Kuvinor?`, ['a'])).toMatchObject({ check: 'too_long' });
    expect(await check('Who founded Kuvinor?', [])).toMatchObject({ check: 'no_documents' });
    // The answer is in the corpus, but not among what the proposer found.
    expect(await check('Who founded Kuvinor?', ['b'])).toMatchObject({ check: 'answer_not_found' });
    expect(await check('Who founded Kuvinor?', ['missing-id'])).toMatchObject({ check: 'answer_not_found' });
    expect(await check('Who founded Kuvinor?', ['b', 'a'])).toEqual({ verified: true });
  });
  it('the RAG check: the model answers from the documents found alone, and must give the answer', async () => {
    const right = scriptedReader('Ada Lemm\nbecause document 1 says so');
    expect(await check('Who founded Kuvinor?', ['b', 'a'], { model: right, maxDocuments: 1 })).toEqual({ verified: true });
    // It read the documents in the order found, at most maxDocuments, then the question.
    expect(right.prompts[0]).toContain('Document 1 (b):\nSalver\nA salver is a tray.');
    expect(right.prompts[0]).not.toContain('Kuvinor was founded');
    expect(right.prompts[0]).toContain('Question: Who founded Kuvinor?');
    const wrong = scriptedReader('Kuvinor');
    expect(await check('Who founded Kuvinor?', ['a'], { model: wrong, maxDocuments: 5 })).toMatchObject({
      verified: false,
      check: 'rag_failed',
    });
    // The rule checks come first: a question naming its answer never reaches the model.
    const unused = scriptedReader('Ada Lemm');
    await check('Was it Ada Lemm who founded Kuvinor?', ['a'], { model: unused, maxDocuments: 5 });
    expect(unused.prompts).toEqual([]);
  });
});

describe('Search Self-play seats (search@1 with selfPlay)', () => {
  it('train becomes matches of a proposer and its solvers, one per distinct answer; test stays; splits hold out as before', async () => {
    const env = selfPlay();
    const tasks = await env.tasks();
    const train = tasks.filter((t) => t.split === 'train');
    expect(train).toHaveLength(6 * 3);
    const matches = new Map<string, Task[]>();
    for (const t of train) matches.set(seatOf(t)!.match, [...(matches.get(seatOf(t)!.match) ?? []), t]);
    expect(matches.size).toBe(6);
    for (const seats of matches.values()) {
      expect(seats.map((t) => [seatOf(t)!.seat, seatOf(t)!.role])).toEqual([
        [0, PROPOSER_ROLE],
        [1, SOLVER_ROLE],
        [2, SOLVER_ROLE],
      ]);
      // The proposer's listed prompt does not show its answer; the task's answer (trainer-only) does.
      expect(seats[0]!.prompt).not.toContain((seats[0]!.answer as SeatAnswer).answers[0]);
    }
    expect(new Set(train.map((t) => (t.answer as SeatAnswer).answers[0])).size).toBe(6);
    const plain = new Environment(searchEnvironment, searchEnvironment.parseConfig(world));
    const tests = async (e: Environment) => (await e.tasks()).filter((t) => t.split !== 'train').map((t) => t.id);
    expect(await tests(env)).toEqual(await tests(plain));
    const splits = await checkSplits(env);
    expect(splits.ok).toBe(true);
  });

  it('a self-play config lists five tools over MCP, propose among them; a plain config four, and refuses propose as unknown', async () => {
    const names = async (env: Environment) => {
      const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
      try {
        return (await client.listTools()).map((t) => t.name).sort();
      } finally {
        await client.close();
      }
    };
    expect(await names(selfPlay())).toEqual(['answer', 'find', 'open', 'propose', 'search']);
    const plain = new Environment(searchEnvironment, searchEnvironment.parseConfig(world));
    expect(await names(plain)).toEqual(['answer', 'find', 'open', 'search']);
    const client = await EnvironmentClient.connect({ kind: 'in-process', environment: plain });
    try {
      await client.start({ split: 'train', seed: 0 });
      const refused = await client.callTool('propose', { question: 'Who founded Kuvinor?', citations: [] });
      expect(refused).toMatchObject({ isError: true, errorCode: 'unknown_tool' });
      expect(refused.content).toMatch(/Available tools: search, open, find, answer\./);
    } finally {
      await client.close();
    }
  });

  async function seats(env: Environment) {
    const tasks = await env.tasks();
    const proposer = tasks.find((t) => seatOf(t)?.role === PROPOSER_ROLE)!;
    const match = seatOf(proposer)!.match;
    const solvers = tasks.filter((t) => seatOf(t)?.match === match && seatOf(t)?.role === SOLVER_ROLE);
    const gold = proposer.answer as SeatAnswer;
    const data = await loadSearchData(env.config);
    // The document that states the answer: the last of the chain.
    const answerDoc = data.documents.get(gold.supportingDocs.at(-1)!)!;
    return { proposer, solvers, gold, answerDoc };
  }

  it('a verified question: the solvers get it, and the proposer earns 1 − their share of right answers', async () => {
    const env = selfPlay();
    const { proposer, solvers, gold, answerDoc } = await seats(env);
    // The solvers wait at their start for the proposer's question.
    const starting = solvers.map((s) => env.openEpisode({ taskId: s.id, match: 'm1' }));
    const p = await env.openEpisode({ taskId: proposer.id, match: 'm1' });
    expect(p.prompt).toContain(`The answer is: ${gold.answers[0]}`);
    expect((await p.callTool('answer', { answer: 'x' })).errorCode).toBe('not_a_solver');
    const found = await p.callTool('search', { query: answerDoc.title, k: 3 });
    expect(found.content).toContain(answerDoc.id);
    const proposed = await p.callTool('propose', { question: gold.question, citations: [answerDoc.id] });
    expect(proposed.content).toBe('Question accepted.');
    const [right, wrong] = await Promise.all(starting);
    expect(right!.prompt).toBe(promptFor(gold.question));
    expect((await right!.callTool('propose', { question: 'Who is it that we seek?' })).errorCode).toBe('not_a_proposer');
    await right!.callTool('answer', { answer: gold.answers[0]!, citations: [answerDoc.id] });
    await wrong!.callTool('answer', { answer: 'nobody', citations: [] });
    expect((await right!.end()).reward.components.exact_match).toBe(1);
    expect((await wrong!.end()).reward.components.exact_match).toBe(0);
    const graded = await p.end();
    expect(graded.reward.total).toBe(0.5);
    expect(graded.reward.components).toEqual({ proposer: 0.5, verified: 1, solver_pass_rate: 0.5 });
  });

  it('a discarded question: the solvers cannot start (question_discarded), the proposer earns 0, and the check is recorded', async () => {
    const env = selfPlay();
    const { proposer, solvers, gold, answerDoc } = await seats(env);
    const starting = solvers.map((s) => env.openEpisode({ taskId: s.id, match: 'm2' }));
    const p = await env.openEpisode({ taskId: proposer.id, match: 'm2' });
    await p.callTool('search', { query: answerDoc.title });
    const proposed = await p.callTool('propose', { question: `Is the answer ${gold.answers[0]}?` });
    expect(proposed.content).toMatch(/^Question discarded: the question names its answer/);
    for (const s of starting) await expect(s).rejects.toMatchObject({ code: 'question_discarded' });
    const graded = await p.end();
    expect(graded.reward.total).toBe(0);
    expect(graded.reward.components).toEqual({ proposer: 0, verified: 0 });
    expect(graded.reward.info).toMatchObject({ check: 'names_answer' });
  });

  it('a proposer that leaves without a question releases its solvers; alone, a verified question earns 1 and a solver answers the original question', async () => {
    const env = selfPlay();
    const { proposer, solvers, gold, answerDoc } = await seats(env);
    const starting = env.openEpisode({ taskId: solvers[0]!.id, match: 'm3' });
    const p = await env.openEpisode({ taskId: proposer.id, match: 'm3' });
    await p.close();
    await expect(starting).rejects.toMatchObject({ code: 'question_discarded' });

    const alone = await env.openEpisode({ taskId: proposer.id });
    await alone.callTool('search', { query: answerDoc.title });
    await alone.callTool('propose', { question: gold.question });
    expect((await alone.end()).reward.components).toEqual({ proposer: 1, verified: 1 });
    const solver = await env.openEpisode({ taskId: solvers[0]!.id });
    expect(solver.prompt).toBe(solvers[0]!.prompt);
    await solver.callTool('answer', { answer: gold.answers[0]! });
    expect((await solver.end()).reward.components.exact_match).toBe(1);
  });

  it('a solver waits no longer than seatTimeoutMs for its question; a proposer waits as long for its solvers', async () => {
    const env = selfPlay({ seatTimeoutMs: 300 });
    const { proposer, solvers, gold, answerDoc } = await seats(env);
    const started = Date.now();
    await expect(env.openEpisode({ taskId: solvers[0]!.id, match: 'late' })).rejects.toMatchObject({
      code: 'question_discarded',
      message: expect.stringContaining('no question within 300 ms'),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    // Its solvers never start: the proposer's kept question is graded with no results, so it earns nothing.
    const p = await env.openEpisode({ taskId: proposer.id, match: 'deserted' });
    await p.callTool('search', { query: answerDoc.title });
    await p.callTool('propose', { question: gold.question });
    const graded = await p.end();
    expect(graded.reward.components).toEqual({ proposer: 0, verified: 1, solver_pass_rate: 0 });
    expect(graded.reward.info).toMatchObject({ solvers: 0 });
  });

  it('refuses self-play on the simulated backend, whose documents cannot verify a question', async () => {
    const env = new Environment(
      searchEnvironment,
      searchEnvironment.parseConfig({ ...world, backend: { kind: 'simulated' }, selfPlay: { verify: 'documents' } }),
    );
    env.useModel(scriptedReader('x'));
    const task = (await env.tasks()).find((t) => seatOf(t)?.role === PROPOSER_ROLE)!;
    await expect(env.openEpisode({ taskId: task.id })).rejects.toMatchObject({ hint: 'use backend bm25 with selfPlay' });
  });

  it('verify rag uses the environment’s model, and refuses to start a proposer without one', async () => {
    const env = selfPlay({ verify: 'rag' });
    const { proposer, gold, answerDoc } = await seats(env);
    await expect(env.openEpisode({ taskId: proposer.id })).rejects.toBeInstanceOf(ConfigError);
    const reader = scriptedReader('someone else');
    env.useModel(reader);
    const p = await env.openEpisode({ taskId: proposer.id });
    await p.callTool('search', { query: answerDoc.title });
    const proposed = await p.callTool('propose', { question: gold.question });
    expect(proposed.content).toMatch(/^Question discarded: answering from the documents found gave "someone else"/);
    expect(reader.prompts[0]).toContain(`Question: ${gold.question}`);
    expect((await p.end()).reward.info).toMatchObject({ check: 'rag_failed' });
  });
});

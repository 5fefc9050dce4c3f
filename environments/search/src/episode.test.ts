import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import searchEnvironment, { closeSearchResources } from './index.ts';
import type { SearchAnswer, SearchTaskMeta } from './tasks/search-answer.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-episode-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

const env = new Environment(
  searchEnvironment,
  searchEnvironment.parseConfig({
    corpus: { kind: 'countries', wordnetDocuments: 50 },
    dataDir: dir,
    pageChars: 300,
  }),
);
const taskOfType = async (type: string) =>
  (await env.tasks()).find((t) => (t.meta as unknown as SearchTaskMeta).type === type)!;

describe('search@1 episodes (in process, real Chromium)', () => {
  it('search returns ranked ids, titles, URLs and snippets', async () => {
    const episode = await env.openEpisode({ taskId: (await taskOfType('capital_of')).id });
    const result = await episode.callTool('search', { query: 'capital city of France', k: 3 });
    expect(result.isError).toBe(false);
    expect(result.content).toMatch(/^Results for "capital city of France":/);
    expect(result.content).toMatch(
      /\[\d\] city\/fra-paris — Paris\n {4}http:\/\/corpus\.toolgym\.test\/doc\/city\/fra-paris\n {4}Paris is the capital city of France\./,
    );
    expect(result.content.match(/^\[\d\]/gm)).toHaveLength(3);
    const none = await episode.callTool('search', { query: 'qwertyuiop' });
    expect(none.content).toMatch(/No documents match/);
    const bad = await episode.callTool('search', { query: '', k: 99 });
    expect(bad).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
    expect(bad.content).toMatch(/'query'.*'k'/s);
    await episode.close();
  });

  it('open renders the document in the browser, pages it, and find searches it', async () => {
    const episode = await env.openEpisode({ taskId: (await taskOfType('currency_of')).id });
    const first = await episode.callTool('open', { target: 'language/fra' });
    expect(first.isError).toBe(false);
    expect(first.content).toMatch(
      /^Document: language\/fra — French language\nURL: http:\/\/corpus\.toolgym\.test\/doc\/language\/fra\nPage 1 of (\d+)/,
    );
    const pageCount = Number(/Page 1 of (\d+)/.exec(first.content)![1]);
    expect(pageCount).toBeGreaterThan(1);
    // The article's text, not the site chrome around it.
    expect(first.content).toContain('French is a language (ISO 639-3 code fra, ISO 639-1 code fr).');
    expect(first.content).not.toContain('ToolGym corpus');
    expect(first.content).toContain('open the same target with page 2');
    const second = await episode.callTool('open', {
      target: 'http://corpus.toolgym.test/doc/language/fra',
      page: 2,
    });
    expect(second.content).toMatch(/Page 2 of/);
    const beyond = await episode.callTool('open', { target: 'language/fra', page: pageCount + 1 });
    expect(beyond).toMatchObject({ isError: true, errorCode: 'no_such_page' });
    expect(beyond.content).toMatch(new RegExp(`has ${pageCount} page`));

    const found = await episode.callTool('find', { pattern: 'SENEGAL' });
    expect(found.content).toMatch(/^1 match\(es\) for "SENEGAL" in French language:\n\[page \d+\] .*Senegal/);
    expect((await episode.callTool('find', { pattern: 'zzz' })).content).toMatch(/No match for "zzz"/);
    await episode.close();
  });

  it('turns unknown ids, missing pages (404), off-list hosts and find-before-open into tool errors; the episode goes on', async () => {
    const episode = await env.openEpisode({ taskId: (await taskOfType('currency_of')).id });
    expect(await episode.callTool('find', { pattern: 'x' })).toMatchObject({
      isError: true,
      errorCode: 'no_open_page',
    });
    const unknown = await episode.callTool('open', { target: 'country/atlantis' });
    expect(unknown).toMatchObject({ isError: true, errorCode: 'unknown_document' });
    expect(unknown.content).toMatch(/Use an id from search results/);
    const missing = await episode.callTool('open', {
      target: 'http://corpus.toolgym.test/doc/country/atlantis',
    });
    expect(missing).toMatchObject({ isError: true, errorCode: 'http_status' });
    expect(missing.content).toMatch(/HTTP 404/);
    expect(missing.content).not.toMatch(/127\.0\.0\.1/); // the local port never leaks into the trajectory
    const web = await episode.callTool('open', { target: 'https://en.wikipedia.org/wiki/Paris' });
    expect(web).toMatchObject({ isError: true, errorCode: 'url_not_allowed' });
    const ok = await episode.callTool('open', { target: 'country/fra' });
    expect(ok.isError).toBe(false);
    expect(episode.calls.filter((c) => c.isError)).toHaveLength(4);
    await episode.close();
  });

  it('the oracle (search, open the supporting documents, answer with citations) earns every component', async () => {
    const task = await taskOfType('language_code_via_capital');
    const calls = searchEnvironment.oracle!(task, env.config);
    expect(calls.map((c) => c.name)).toEqual(['search', 'open', 'open', 'open', 'answer']);
    const episode = await env.openEpisode({ taskId: task.id });
    for (const call of calls) expect((await episode.callTool(call.name, call.arguments)).isError).toBe(false);
    expect(episode.terminated).toBe(true);
    const { reward, terminated } = await episode.end();
    expect(terminated).toBe(true);
    expect(reward.components).toEqual({ exact_match: 1, f1: 1, cover_em: 1, format: 1, citation: 1 });
    expect(reward.total).toBeCloseTo(1.3, 10);
    expect(reward.info).toMatchObject({ hops: 3, answeredWithTool: true });
  });

  it('grades wrong, partial and tool-less answers by their components', async () => {
    const task = await taskOfType('currency_via_capital');
    const gold = task.answer as SearchAnswer;

    const wrong = await env.openEpisode({ taskId: task.id });
    await wrong.callTool('answer', {
      answer: 'Atlantean drachma',
      citations: [gold.supportingDocs[0]!, 'no/such-doc'],
    });
    // Only the first answer counts: the episode has ended, a second one is refused.
    const again = await wrong.callTool('answer', {
      answer: gold.answers[0]!,
      citations: gold.supportingDocs,
    });
    expect(again).toMatchObject({ isError: true, errorCode: 'episode_ended' });
    const w = (await wrong.end()).reward;
    expect(w.components).toMatchObject({ exact_match: 0, format: 0, citation: 0.5 });
    expect(w.total).toBeCloseTo(0.1, 10);

    const wordy = await env.openEpisode({ taskId: task.id });
    await wordy.callTool('answer', {
      answer: `They pay with the ${gold.answers[0]} there`,
      citations: ['http://corpus.toolgym.test/doc/' + gold.supportingDocs[1]],
    });
    const p = (await wordy.end()).reward;
    expect(p.components.exact_match).toBe(0);
    expect(p.components.cover_em).toBe(1);
    expect(p.components.f1).toBeGreaterThan(0);
    expect(p.components.f1).toBeLessThan(1);
    // A corpus URL counts as its id; one of the two supporting documents, and nothing else: F1 2/3.
    expect(p.components.citation).toBeCloseTo(2 / 3, 10);
    expect(p.components.format).toBe(1);

    // A hedge covers the gold but commits to nothing: no cover-EM, no F1.
    const hedge = await env.openEpisode({ taskId: task.id });
    await hedge.callTool('answer', { answer: `${gold.answers[0]} or the dollar`, citations: gold.supportingDocs });
    const h = (await hedge.end()).reward;
    expect(h.components).toMatchObject({ exact_match: 0, cover_em: 0, f1: 0, citation: 1, format: 1 });
    expect(h.info.listsAlternatives).toBe(true);

    const toolless = await env.openEpisode({ taskId: task.id });
    const t = (await toolless.end(gold.answers[0])).reward;
    expect(t.components).toMatchObject({ exact_match: 1, format: 0, citation: 0 });
    expect(t.info.answeredWithTool).toBe(false);
  });

  it('gives the same episode for the same seed, and rewards within the declared range', async () => {
    const a = await env.openEpisode({ split: 'test', seed: 7 });
    const b = await env.openEpisode({ split: 'test', seed: 7 });
    expect(a.task.id).toBe(b.task.id);
    const ra = await a.callTool('search', { query: (a.task.meta as unknown as SearchTaskMeta).question });
    const rb = await b.callTool('search', { query: (b.task.meta as unknown as SearchTaskMeta).question });
    expect(ra.content).toBe(rb.content);
    for (const episode of [a, b]) {
      const { total } = (await episode.end()).reward;
      expect(total).toBeGreaterThanOrEqual(searchEnvironment.rewardRange[0]);
      expect(total).toBeLessThanOrEqual(searchEnvironment.rewardRange[1]);
    }
  });

  it('rejects bad options at once, naming the field', () => {
    expect(() => searchEnvironment.parseConfig({ weights: { exact_match: 3 } })).toThrow(
      /'weights\.exact_match'/,
    );
    expect(() => searchEnvironment.parseConfig({ corpus: { kind: 'wiki' } })).toThrow(/'corpus\.kind'/);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkSplits, Environment } from '@toolgym/env-kit';
import { foldText, normalizeAnswer } from '@toolgym/tools';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_HELD_OUT_TYPES, SearchConfigSchema } from './config.ts';
import searchEnvironment from './index.ts';
import { closeSearchResources, loadSearchData } from './runtime.ts';
import type { SearchAnswer, SearchTaskMeta } from './tasks/search-answer.ts';
import { generateWorld } from './world/world.ts';
import { WorldDocuments } from './world/world-documents.ts';
import { QUESTION_TYPES } from './world/world-questions.ts';
import { worldTasks } from './world/world-tasks.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-world-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

/** The test's own mention check (independent of the generator's): whole words, folded. */
const words = (text: string) => ` ${normalizeAnswer(foldText(text))} `;

const config = SearchConfigSchema.parse({ dataDir: dir });
const data = await loadSearchData(config);
const tasks = data.tasks;
const allDocs = [...data.documents.all()];
const gold = (t: (typeof tasks)[number]) => t.answer as SearchAnswer;
const meta = (t: (typeof tasks)[number]) => t.meta as unknown as SearchTaskMeta;

describe('the fictional world (the default corpus)', () => {
  it('is the same world for the same seed and another world for another seed', () => {
    expect(generateWorld(0)).toEqual(generateWorld(0));
    const other = generateWorld(1);
    expect(other.people[0]!.name).not.toBe(generateWorld(0).people[0]!.name);
    expect(other.countries.map((c) => c.name)).not.toEqual(generateWorld(0).countries.map((c) => c.name));
  });

  it('states each relation in its subject document only: a founder page never names the company', () => {
    const world = new WorldDocuments(generateWorld(0));
    const company = world.world.companies[0]!;
    const founder = world.world.people.find((p) => p.id === company.founder)!;
    const companyDoc = data.documents.get(world.docId(company.id))!;
    const founderDoc = data.documents.get(world.docId(founder.id))!;
    expect(companyDoc.text).toContain(`by ${founder.name}`);
    expect(words(founderDoc.text).includes(words(company.name))).toBe(
      founder.employer === company.id, // only when the founder also works there
    );
  });
});

describe('the world questions', () => {
  it('has at least 30 question types, 1 to 4 hops, at least 3 distinct phrasings each, every type asked', () => {
    expect(QUESTION_TYPES.length).toBeGreaterThanOrEqual(30);
    for (const type of QUESTION_TYPES) {
      const asked = type.phrasings.map((p) => p('Alpha', 'Beta'));
      expect(new Set(asked).size, type.id).toBeGreaterThanOrEqual(3);
    }
    const types = new Set(tasks.map((t) => meta(t).type));
    expect([...types].sort()).toEqual(QUESTION_TYPES.map((t) => t.id).sort());
    expect([...new Set(tasks.map((t) => meta(t).hops))].sort()).toEqual([1, 2, 3, 4]);
    for (const t of tasks) expect(gold(t).supportingDocs, t.id).toHaveLength(meta(t).hops);
    // Every phrasing of every type is used by some question.
    const used = new Set(tasks.map((t) => `${meta(t).type}#${meta(t).phrasing}`));
    for (const type of QUESTION_TYPES)
      for (let i = 0; i < type.phrasings.length; i++)
        expect(used.has(`${type.id}#${i}`), `${type.id}#${i}`).toBe(true);
  });

  it('grounds every answer: the supporting documents exist, the first names the entity, the last states the answer', () => {
    for (const t of tasks) {
      const docs = gold(t).supportingDocs.map((id) => data.documents.get(id));
      expect(docs.every(Boolean), t.id).toBe(true);
      const text = (i: number) => words(`${docs[i]!.title}\n${docs[i]!.text}`);
      expect(text(0).includes(words(meta(t).entity!)), t.id).toBe(true);
      const statedIn = meta(t).type === 'earlier_founded' ? docs.map((_, i) => i) : [docs.length - 1];
      expect(
        gold(t).answers.some((a) => statedIn.some((i) => text(i).includes(words(a)))),
        `${t.id}: ${gold(t).answers[0]}`,
      ).toBe(true);
    }
  });

  it('multi-hop questions need every document: no document mentions a named entity and an answer together', () => {
    const texts = allDocs.map((d) => words(`${d.title}\n${d.text}`));
    const multi = tasks.filter((t) => meta(t).hops > 1);
    expect(multi.length).toBeGreaterThan(1000);
    for (const t of multi) {
      for (const entity of meta(t).entities!) {
        const answers = gold(t)
          .answers.filter((a) => a !== entity)
          .map(words);
        const e = words(entity);
        const joining = texts.findIndex((text) => text.includes(e) && answers.some((a) => text.includes(a)));
        expect(joining, `${t.id}: ${allDocs[joining]?.id} has ${entity} and the answer`).toBe(-1);
      }
    }
  });

  it('holds out whole question types for test; test-iid holds out questions of train types', async () => {
    const types = (split: string) => new Set(tasks.filter((t) => t.split === split).map((t) => meta(t).type));
    expect([...types('test')].sort()).toEqual([...DEFAULT_HELD_OUT_TYPES].sort());
    for (const type of types('train')) expect(types('test').has(type), type).toBe(false);
    for (const type of types('test-iid')) expect(types('train').has(type), type).toBe(true);
    const held = DEFAULT_HELD_OUT_TYPES.map((id) => QUESTION_TYPES.find((q) => q.id === id)!);
    expect(
      new Set(held.map((q) => tasks.find((t) => meta(t).type === q.id)!).map((t) => meta(t).hops)),
    ).toEqual(new Set([1, 2, 3, 4]));
    const report = await checkSplits(new Environment(searchEnvironment, config));
    expect(report.unit).toBe('question-type');
    expect(report.ok).toBe(true);
    expect(report.splits.test.tasks).toBeGreaterThan(300);
  });

  it('is deterministic, and refuses a held-out type that does not exist', () => {
    const world = new WorldDocuments(generateWorld(0));
    const options = {
      questionsPerType: 60,
      heldOutTypes: [...DEFAULT_HELD_OUT_TYPES],
      testIidFraction: 0.15,
    };
    expect(worldTasks(world, allDocs, options).kept).toEqual(tasks);
    expect(() => worldTasks(world, allDocs, { ...options, heldOutTypes: ['capital_of_mars'] })).toThrow(
      /capital_of_mars/,
    );
  });

  it('drops a multi-hop question when one document gives its answer, and says which', () => {
    const world = new WorldDocuments(generateWorld(0));
    const task = tasks.find((t) => meta(t).type === 'founder_birthplace')!;
    const documents = allDocs.map((d) =>
      d.id === gold(task).supportingDocs[0]
        ? { ...d, text: `${d.text} Its founder was born in ${gold(task).answers[0]}.` }
        : d,
    );
    const { kept, dropped } = worldTasks(world, documents, {
      questionsPerType: 60,
      heldOutTypes: [],
      testIidFraction: 0,
    });
    expect(kept.map((t) => t.id)).not.toContain(task.id);
    expect(dropped[task.id]).toMatch(/one document \(.+\) mentions both/);
  });
});

describe('a world episode (in process, real Chromium)', () => {
  it('the oracle earns every component on a 4-hop held-out question; a guess from one hop does not', async () => {
    const env = new Environment(searchEnvironment, config);
    const task = tasks.find((t) => meta(t).type === 'publisher_country')!;
    expect(task.split).toBe('test');
    const calls = searchEnvironment.oracle!(task, env.config);
    expect(calls.map((c) => c.name)).toEqual(['search', 'open', 'open', 'open', 'open', 'answer']);
    const episode = await env.openEpisode({ taskId: task.id });
    for (const call of calls) expect((await episode.callTool(call.name, call.arguments)).isError).toBe(false);
    const { reward } = await episode.end();
    expect(reward.components).toEqual({ exact_match: 1, f1: 1, cover_em: 1, format: 1, citation: 1 });

    const hop1 = await env.openEpisode({ taskId: task.id });
    const found = await hop1.callTool('search', { query: meta(task).entity! });
    expect(found.content).toContain(gold(task).supportingDocs[0]!);
    expect(found.content).not.toContain(gold(task).answers[0]!);
    await hop1.callTool('answer', { answer: 'Atlantis', citations: [gold(task).supportingDocs[0]!] });
    const guess = (await hop1.end()).reward;
    // Citation F1 of 1 right document of 4: precision 1, recall 1/4, F1 = 2·1·0.25 / 1.25 = 0.4.
    expect(guess.components).toMatchObject({ exact_match: 0, citation: 0.4 });
  });
});

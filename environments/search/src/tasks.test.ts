import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { foldText, normalizeAnswer } from '@toolgym/tools';
import { afterAll, describe, expect, it } from 'vitest';
import { SearchConfigSchema } from './config.ts';
import { generateCorpus } from './corpus/generate-corpus.ts';
import { worldFacts } from './corpus/world-facts.ts';
import { closeSearchResources, loadSearchData } from './runtime.ts';
import { generateTasks } from './tasks/generate-tasks.ts';
import type { SearchAnswer, SearchTaskMeta } from './tasks/search-answer.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-tasks-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

/** The test's own mention check (independent of the generator's): whole words, folded. */
const words = (text: string) => ` ${normalizeAnswer(foldText(text))} `;

describe('the real-countries corpus and its questions', async () => {
  const data = await loadSearchData(SearchConfigSchema.parse({ corpus: { kind: 'countries' } }));
  const docs = [...data.documents.all()];
  const tasks = data.tasks;
  const gold = (t: (typeof tasks)[number]) => t.answer as SearchAnswer;
  const meta = (t: (typeof tasks)[number]) => t.meta as unknown as SearchTaskMeta;

  it('has thousands of documents and at least 500 questions in both splits, single- and multi-hop', () => {
    expect(docs.length).toBeGreaterThan(3000);
    expect(tasks.length).toBeGreaterThanOrEqual(500);
    const test = tasks.filter((t) => t.split === 'test').length;
    expect(test).toBeGreaterThan(tasks.length * 0.1);
    expect(test).toBeLessThan(tasks.length * 0.3);
    const hops = new Set(tasks.map((t) => meta(t).hops));
    expect([...hops].sort()).toEqual([1, 2, 3]);
    for (const t of tasks) expect(gold(t).supportingDocs).toHaveLength(meta(t).hops);
  });

  it('grounds every gold answer: the last supporting document states it, and the documents exist', () => {
    for (const t of tasks) {
      const g = gold(t);
      const last = data.documents.get(g.supportingDocs[g.supportingDocs.length - 1]!);
      expect(last, t.id).toBeDefined();
      const text = words(`${last!.title}\n${last!.text}`);
      expect(
        g.answers.some((a) => text.includes(words(a))),
        `${t.id}: ${g.answers.join('|')} in ${last!.id}`,
      ).toBe(true);
    }
  });

  it('multi-hop questions really need two documents: none mentions both the entity and an answer', () => {
    const texts = docs.map((d) => words(`${d.title}\n${d.text}`));
    const multi = tasks.filter((t) => meta(t).hops > 1);
    expect(multi.length).toBeGreaterThan(500);
    for (const t of multi) {
      const entity = words(meta(t).entity!);
      const answers = gold(t).answers.map(words);
      const joining = texts.findIndex(
        (text) => text.includes(entity) && answers.some((a) => text.includes(a)),
      );
      expect(joining, `${t.id}: ${docs[joining]?.id} has both`).toBe(-1);
      // And the question's entity is in its first supporting document (the first hop is findable).
      expect(words(data.documents.get(gold(t).supportingDocs[0]!)!.text).includes(entity), t.id).toBe(true);
    }
  });

  it('keeps every question about one country in one split', () => {
    const splitByCountry = new Map<string, string>();
    for (const t of tasks) {
      const country = gold(t).supportingDocs.find((d) => d.startsWith('country/'));
      if (!country) continue;
      const seen = splitByCountry.get(country);
      if (seen) expect(t.split, t.id).toBe(seen);
      else splitByCountry.set(country, t.split);
    }
  });

  it('is deterministic: generating again gives the same tasks', () => {
    const again = generateTasks(worldFacts(), docs, { testFraction: 0.2 }).kept;
    expect(again).toEqual(tasks);
  });
});

describe('building and caching', () => {
  it('builds the corpus, index and tasks once, then loads them without rebuilding', async () => {
    const config = SearchConfigSchema.parse({
      corpus: { kind: 'countries', wordnetDocuments: 50 },
      dataDir: dir,
    });
    const first = await loadSearchData(config);
    expect(first.built).toEqual({ corpus: true, index: true, tasks: true });
    await closeSearchResources(); // forget the in-memory copy; the disk cache stays
    const second = await loadSearchData(config);
    expect(second.built).toEqual({ corpus: false, index: false, tasks: false });
    expect(second.tasks).toEqual(first.tasks);
    expect(second.documents.size).toBe(first.documents.size);
    const query = 'capital city of Peru';
    expect(await second.retriever.search(query, { k: 5 })).toEqual(
      await first.retriever.search(query, { k: 5 }),
    );
  });

  it('spreads facts so that country articles never name their capital', () => {
    const facts = worldFacts();
    const docs = generateCorpus(facts, { wordnetDocuments: 0 });
    const france = docs.find((d) => d.id === 'country/fra')!;
    expect(france.text).toContain('Euro');
    expect(france.text).not.toContain('Paris');
    expect(france.text).not.toContain('EUR ');
    expect(docs.find((d) => d.id === 'city/fra-paris')!.text).toContain('capital city of France');
  });
});

import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze, sStem } from './analyzer.ts';
import { Bm25Index } from './bm25-index.ts';
import { createBm25Retriever } from './bm25-retriever.ts';
import { scanBm25 } from './bm25-scan.ts';
import { bestSnippet } from './snippet.ts';
import { DocumentCollection, type RetrievalDocument } from './types.ts';

const doc = (id: string, title: string, text: string): RetrievalDocument => ({
  id,
  title,
  url: `http://x/${id}`,
  text,
});

// Ranks below are worked out by hand from the BM25 formula: see the comments at each assertion.
const SMALL: RetrievalDocument[] = [
  doc('a', 'Lyon', 'Lyon is a city in France. It is known for food.'),
  doc('b', 'Paris', 'Paris is the capital of France. Paris is large. Paris has museums.'),
  doc('c', 'Berlin', 'Berlin is the capital of Germany.'),
  doc('d', 'Cheese', 'France makes many cheeses, and cheese is eaten daily.'),
  doc(
    'e',
    'Rivers',
    'The Rhine flows through Germany and the Netherlands into the North Sea, a long river journey.',
  ),
];

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-bm25-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('analyze', () => {
  it('folds case and diacritics, drops stop words, stems plurals', () => {
    expect(analyze('The Cities of Côte d’Ivoire are LARGE')).toEqual([
      'city',
      'cote',
      'd',
      'ivoire',
      'large',
    ]);
    expect(sStem('cheeses')).toBe('cheese');
    expect(sStem('glass')).toBe('glass');
    expect(sStem('virus')).toBe('virus');
    // Only the first rule that applies fires: "oes" is exempt from es→e, so s→'' applies.
    expect(sStem('shoes')).toBe('shoe');
  });
});

describe('Bm25Index', () => {
  const index = Bm25Index.build(SMALL);
  const ids = (query: string, k = 5) => index.search(query, k).map((r) => SMALL[r.index]!.id);

  it('ranks a small corpus in the order the formula gives', () => {
    // "paris": only b contains it (tf=4 with the title).
    expect(ids('paris')).toEqual(['b']);
    // "capital germany": c has both terms; b (capital) and e (germany) one each with equal df,
    // so the shorter document wins: |b| = 9 terms, |e| = 11.
    expect(ids('capital germany')).toEqual(['c', 'b', 'e']);
    // "france": a, b, d contain it once each; shorter documents first: |a| = 6, |d| = 8, |b| = 9.
    expect(ids('france')).toEqual(['a', 'd', 'b']);
    // Rare terms beat common ones: "cheese france" puts d (both, cheese twice) first.
    expect(ids('cheese france')[0]).toBe('d');
  });

  it('returns nothing for unknown or stop-word-only queries and respects k', () => {
    expect(ids('zebra')).toEqual([]);
    expect(ids('the of and')).toEqual([]);
    expect(ids('france', 2)).toHaveLength(2);
    expect(ids('france', 0)).toEqual([]);
  });

  it('agrees with the brute-force scan on every query', async () => {
    const queries = [
      'paris',
      'capital germany',
      'france',
      'cheese france',
      'river north sea',
      'city food capital',
    ];
    const scans = await scanBm25(SMALL, queries, { k: 5, scoring: { ...index.params, idf: 'lucene' } });
    queries.forEach((query, q) => {
      const fast = index.search(query, 5);
      const slow = scans[q]!.top;
      expect(fast.map((r) => r.index)).toEqual(slow.map((r) => r.index));
      fast.forEach((r, i) => {
        expect(r.score).toBeCloseTo(slow[i]!.score, 9);
      });
    });
  });

  it('ranks like wink-bm25-text-search (a maintained library) given the same analyzer and parameters', () => {
    const require = createRequire(import.meta.url);
    const winkFactory = require('wink-bm25-text-search') as () => {
      defineConfig(c: unknown): void;
      definePrepTasks(tasks: Array<(s: string) => string[]>): void;
      addDoc(d: Record<string, string>, id: string): void;
      consolidate(precision?: number): void;
      search(q: string, limit: number): Array<[string, number]>;
    };
    const docs = makeSyntheticCorpus(300);
    const ours = Bm25Index.build(docs, { k1: 1.2, b: 0.75 });
    const wink = winkFactory();
    wink.defineConfig({ fldWeights: { body: 1 }, bm25Params: { k1: 1.2, b: 0.75, k: 1 } });
    wink.definePrepTasks([analyze]);
    docs.forEach((d, i) => {
      wink.addDoc({ body: `${d.title}\n${d.text}` }, String(i));
    });
    wink.consolidate(9);
    for (const query of [
      'alpha bravo',
      'charlie delta echo',
      'golf',
      'hotel india juliet kilo',
      'word17 alpha',
    ]) {
      const theirs = wink.search(query, 10);
      const mine = ours.search(query, 10);
      expect(mine.map((r) => r.score)).toEqual(theirs.map(([, s]) => expect.closeTo(s, 5)));
      // Ids agree wherever scores are not tied.
      mine.forEach((r, i) => {
        const [id, score] = theirs[i]!;
        const tied = theirs.filter(([, s]) => Math.abs(s - score) < 1e-6).length > 1;
        if (!tied) expect(String(r.index)).toBe(id);
      });
    }
  });

  it('saves, loads without rebuilding, and searches the same', () => {
    const dir = tempDir();
    const first = Bm25Index.loadOrBuild(SMALL, dir);
    expect(first.built).toBe(true);
    const second = Bm25Index.loadOrBuild(SMALL, dir);
    expect(second.built).toBe(false);
    expect(second.index.vocabularySize).toBe(first.index.vocabularySize);
    for (const query of ['capital germany', 'france', 'cheese']) {
      expect(second.index.search(query, 5)).toEqual(first.index.search(query, 5));
    }
    // A changed collection invalidates the cache.
    const changed = [...SMALL, doc('f', 'Rome', 'Rome is the capital of Italy.')];
    expect(Bm25Index.loadOrBuild(changed, dir).built).toBe(true);
    // So do changed parameters.
    expect(Bm25Index.loadOrBuild(changed, dir, { k1: 1.2, b: 0.75 }).built).toBe(true);
  });

  it('refuses a corrupt or foreign index file with a message naming the fix', () => {
    const dir = tempDir();
    Bm25Index.build(SMALL).save(dir);
    truncateSync(path.join(dir, 'bm25.bin'), 10);
    expect(() => Bm25Index.load(dir)).toThrow(
      expect.objectContaining({
        code: 'index_corrupt',
        message: expect.stringMatching(/bm25\.bin has 10 bytes/),
        hint: 'delete it to rebuild',
      }),
    );
    writeFileSync(path.join(dir, 'bm25.json'), JSON.stringify({ format: 'other' }));
    expect(() => Bm25Index.load(dir)).toThrow(/not a toolgym-bm25 v2 index/);
    expect(Bm25Index.load(tempDir())).toBeUndefined();
  });

  it('treats an index of an older format version as a stale cache: absent, and rebuilt', () => {
    const dir = tempDir();
    Bm25Index.build(SMALL).save(dir);
    const header = JSON.parse(readFileSync(path.join(dir, 'bm25.json'), 'utf8'));
    writeFileSync(path.join(dir, 'bm25.json'), JSON.stringify({ ...header, version: 1 }));
    expect(Bm25Index.load(dir)).toBeUndefined();
    expect(Bm25Index.open(dir)).toBeUndefined();
    expect(Bm25Index.loadOrBuild(SMALL, dir).built).toBe(true);
    expect(Bm25Index.load(dir)?.search('france', 5)).toEqual(Bm25Index.build(SMALL).search('france', 5));
  });

  it('rejects out-of-range parameters', () => {
    expect(() => Bm25Index.build(SMALL, { k1: 1, b: 2 })).toThrow(
      expect.objectContaining({ code: 'bm25_params', hint: 'use k1 ≥ 0 and 0 ≤ b ≤ 1' }),
    );
  });
});

describe('Bm25 retriever', () => {
  it('returns ranked hits with ids, titles, urls and a snippet that shows the match', async () => {
    const collection = new DocumentCollection(SMALL);
    const retriever = createBm25Retriever(collection, Bm25Index.build(SMALL));
    const hits = await retriever.search('rhine river', { k: 3 });
    expect(hits[0]).toMatchObject({ rank: 1, id: 'e', title: 'Rivers', url: 'http://x/e' });
    expect(hits[0]!.snippet).toContain('Rhine');
    expect(() =>
      createBm25Retriever(new DocumentCollection(SMALL.slice(0, 2)), Bm25Index.build(SMALL)),
    ).toThrow(/index has 5 documents but the collection has 2/);
  });

  it('picks the sentence with the most query terms for the snippet and cuts long ones', () => {
    const text = 'First line about nothing. The second sentence names Paris and France. Third.';
    expect(bestSnippet(text, 'paris france')).toBe('The second sentence names Paris and France.');
    expect(bestSnippet('x'.repeat(500), 'x', 50)).toHaveLength(50);
  });
});

function makeSyntheticCorpus(n: number): RetrievalDocument[] {
  const words = [
    'alpha',
    'bravo',
    'charlie',
    'delta',
    'echo',
    'foxtrot',
    'golf',
    'hotel',
    'india',
    'juliet',
    'kilo',
  ];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: n }, (_, i) => {
    const length = 5 + Math.floor(rand() * 40);
    const body = Array.from({ length }, () =>
      rand() < 0.1 ? `word${Math.floor(rand() * 50)}` : words[Math.floor(rand() * words.length)]!,
    );
    return doc(String(i), `doc ${i}`, body.join(' '));
  });
}

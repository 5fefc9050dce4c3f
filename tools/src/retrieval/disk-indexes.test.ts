import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '@toolgym/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { Bm25Index, Bm25IndexWriter } from './bm25-index.ts';
import { createBm25Retriever } from './bm25-retriever.ts';
import { agreesUpToTies, FTS5_BM25_SCORING, scanBm25 } from './bm25-scan.ts';
import { Fts5Bm25Index, fts5Token } from './fts5-index.ts';
import { SqliteDocumentStore } from './sqlite-document-store.ts';
import { DocumentCollection, type RetrievalDocument } from './types.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-disk-indexes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * 3,000 passages over a Zipf-like vocabulary of 2,000 words, with accented, non-Latin and
 * numeric words (the analyser's edge cases) and repeated passages (exact ties).
 */
function corpus(): RetrievalDocument[] {
  const rng = new Rng(11);
  const special = ['café', 'Zürich', 'naïve', '東京', 'Ελλάδα', '1984', 'x²', 'straße'];
  const vocabulary = Array.from({ length: 2000 }, (_, i) => (i < special.length ? special[i]! : `w${i}s`));
  const word = () => vocabulary[Math.min(vocabulary.length - 1, Math.floor(1 / (rng.next() + 0.0005)) - 1)]!;
  const docs: RetrievalDocument[] = [];
  for (let i = 0; i < 3000; i++) {
    const text =
      i % 500 === 499
        ? docs[i - 1]!.text
        : Array.from({ length: rng.int(20, 120) }, () =>
            rng.next() < 0.7 ? word() : rng.pick(vocabulary),
          ).join(' ');
    docs.push({
      id: `p${i}`,
      title: i % 500 === 499 ? docs[i - 1]!.title : `T ${rng.pick(vocabulary)}`,
      url: `http://x/p${i}`,
      text,
    });
  }
  return docs;
}

const docs = corpus();
const queries = Array.from({ length: 200 }, (_, q) => {
  const rng = new Rng(1000 + q);
  return Array.from(
    { length: rng.int(1, 6) },
    () => docs[rng.int(0, docs.length - 1)]!.text.split(' ')[rng.int(0, 10)],
  ).join(' ');
});
queries.push('Café ZURICH', 'the of and', '東京 x²', 'nothingmatchesthis');

describe('BM25 indexes agree with the brute-force scan (top 10, up to ties)', async () => {
  const memory = Bm25Index.build(docs);
  memory.save(dir);
  const disk = Bm25Index.open(dir)!;
  const lucene = await scanBm25(docs, queries, {
    k: 10,
    scoring: { ...memory.params, idf: 'lucene' },
    score: queries.map((q) => [...memory.search(q, 10), ...disk.search(q, 10)].map((r) => r.index)),
  });

  it('the in-memory index and the disk-backed one (postings read on demand) on every query', () => {
    queries.forEach((query, q) => {
      const fromMemory = memory.search(query, 10);
      expect(disk.search(query, 10)).toEqual(fromMemory);
      expect(
        agreesUpToTies(
          fromMemory.map((r) => r.index),
          lucene[q]!,
        ),
        query,
      ).toBe(true);
    });
    expect(lucene.filter((r) => r.top.length === 10).length).toBeGreaterThan(150);
    expect(lucene.at(-1)!.top).toEqual([]);
  });

  it('block-max MaxScore finds the exact top k for any k, long queries and repeated terms', async () => {
    // The commonest words have thousands of postings (many blocks), so lists are skipped in blocks.
    const common = ['w8s', 'w9s', 'w10s', 'w11s', 'w12s', 'w13s'];
    expect(memory.search('w8s', 3000).length).toBeGreaterThan(4 * 128);
    const long = Array.from({ length: 30 }, (_, q) => {
      const rng = new Rng(5000 + q);
      const words = Array.from({ length: rng.int(6, 16) }, () =>
        rng.next() < 0.5
          ? rng.pick(common)
          : docs[rng.int(0, docs.length - 1)]!.text.split(' ')[rng.int(0, 10)]!,
      );
      return words.join(' ');
    });
    long.push('w8s w8s w8s w9s', `${docs[498]!.text}`);
    for (const k of [1, 3, 10, 100]) {
      const results = long.map((q) => disk.search(q, k));
      const scans = await scanBm25(docs, long, {
        k,
        scoring: { ...memory.params, idf: 'lucene' },
        score: results.map((r) => r.map((x) => x.index)),
      });
      long.forEach((query, q) => {
        expect(results[q]).toEqual(memory.search(query, k));
        expect(
          agreesUpToTies(
            results[q]!.map((r) => r.index),
            scans[q]!,
          ),
          `k=${k}: ${query}`,
        ).toBe(true);
        results[q]!.forEach((r) => {
          expect(r.score).toBeCloseTo(scans[q]!.scoreOf.get(r.index)!, 9);
        });
      });
    }
  });

  it('SQLite FTS5 bm25() on pre-analysed text, against the scan with FTS5 scoring', async () => {
    const file = path.join(dir, 'fts5.sqlite');
    const writer = Fts5Bm25Index.writer(file);
    for (const d of docs) writer.add(d);
    writer.finish();
    const fts = Fts5Bm25Index.open(file);
    const results = queries.map((q) => fts.search(q, 10));
    const scans = await scanBm25(docs, queries, {
      k: 10,
      scoring: FTS5_BM25_SCORING,
      score: results.map((r) => r.map((x) => x.index)),
    });
    queries.forEach((query, q) => {
      expect(
        agreesUpToTies(
          results[q]!.map((r) => r.index),
          scans[q]!,
        ),
        query,
      ).toBe(true);
    });
    // The same ranking as FTS5 is not the same ranking as Lucene's BM25: the formulas differ.
    expect(
      queries.some(
        (_, q) =>
          !agreesUpToTies(
            results[q]!.map((r) => r.index),
            lucene[q]!,
          ),
      ),
    ).toBe(true);
    fts.close();
  });

  it('agreement fails on a wrong top 10 and tolerates only ties', async () => {
    const q = lucene.findIndex((r) => r.top.length === 10 && r.top[9]!.score > r.top.at(-1)!.score * 0.5);
    const right = lucene[q]!.top.map((r) => r.index);
    expect(agreesUpToTies(right, lucene[q]!)).toBe(true);
    expect(agreesUpToTies([...right].reverse(), lucene[q]!)).toBe(true); // the same documents, any order
    const outsider = docs.findIndex((_, i) => !right.includes(i));
    const scored = (
      await scanBm25(docs, [queries[q]!], {
        k: 10,
        scoring: { ...memory.params, idf: 'lucene' },
        score: [[outsider]],
      })
    )[0]!;
    expect(agreesUpToTies([...right.slice(0, 9), outsider], scored)).toBe(false);
    expect(agreesUpToTies(right.slice(0, 9), lucene[q]!)).toBe(false);
    // Passage 499 repeats passage 498: both score the same for every query, so either may be 10th.
    const tie = (
      await scanBm25(docs, [docs[498]!.text], {
        k: 2,
        scoring: { ...memory.params, idf: 'lucene' },
        score: [[498, 499]],
      })
    )[0]!;
    expect(tie.scoreOf.get(498)).toBe(tie.scoreOf.get(499));
  });

  it('streams: a writer fed one document at a time builds the same index', () => {
    const writer = new Bm25IndexWriter();
    for (const d of docs) writer.add(d);
    const streamed = writer.finish();
    expect(streamed.fingerprint).toBe(memory.fingerprint);
    for (const query of queries.slice(0, 20))
      expect(streamed.search(query, 10)).toEqual(memory.search(query, 10));
  });

  it('maps every analysed term to an FTS5 token of [a-z0-9_] that no plain term can be', () => {
    expect(fts5Token('cafe')).toBe('cafe');
    expect(fts5Token('東京')).toMatch(/^_[0-9a-f]+$/);
    expect(fts5Token('x²')).toBe(`_${Buffer.from('x²').toString('hex')}`);
  });
});

describe('SqliteDocumentStore', () => {
  it('serves documents by position and id from disk, and hits through a retriever', async () => {
    const file = path.join(dir, 'docs.sqlite');
    const writer = SqliteDocumentStore.writer(file);
    for (const d of docs) writer.add(d);
    writer.finish();
    const store = SqliteDocumentStore.open(file);
    expect(store.size).toBe(docs.length);
    expect(store.at(42)).toEqual(docs[42]);
    expect(store.get('p7')).toEqual(docs[7]);
    expect(store.indexOf('p7')).toBe(7);
    expect(store.get('nope')).toBeUndefined();
    expect(() => store.at(docs.length)).toThrow(/no document at position 3000/);
    const index = Bm25Index.open(dir)!;
    const fromDisk = await createBm25Retriever(store, index).search(queries[3]!, { k: 5 });
    const fromMemory = await createBm25Retriever(new DocumentCollection(docs), Bm25Index.build(docs)).search(
      queries[3]!,
      { k: 5 },
    );
    expect(fromDisk).toEqual(fromMemory);
    expect([...store.all()].length).toBe(docs.length);
    store.close();
  });

  it('refuses repeated ids and leaves no file behind', () => {
    const file = path.join(dir, 'dup.sqlite');
    const writer = SqliteDocumentStore.writer(file);
    writer.add(docs[0]!);
    writer.add({ ...docs[1]!, id: docs[0]!.id });
    expect(() => writer.finish()).toThrow(expect.objectContaining({ code: 'duplicate_document' }));
    expect(() => SqliteDocumentStore.open(file)).toThrow(expect.objectContaining({ code: 'store_missing' }));
  });
});

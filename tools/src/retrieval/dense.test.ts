import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDenseRetriever, DenseIndex, type TextEmbedder } from './dense-index.ts';
import { createOnnxEmbedder } from './onnx-embedder.ts';
import { buildTinyEmbeddingModel, embeddingTable, hashedTokenIds } from './tiny-embedding-model.ts';
import { DocumentCollection, type RetrievalDocument } from './types.ts';

const V = 4096;
const D = 256;
const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-dense-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const doc = (id: string, title: string, text: string): RetrievalDocument => ({
  id,
  title,
  url: `http://x/${id}`,
  text,
});
const DOCS: RetrievalDocument[] = [
  doc('rhine', 'Rhine', 'The Rhine flows through Germany and the Netherlands into the North Sea.'),
  doc('paris', 'Paris', 'Paris is the capital of France, on the Seine.'),
  doc('cheese', 'Cheese', 'France makes many cheeses; cheese is eaten daily.'),
  doc('yen', 'Yen', 'The yen is the currency of Japan, with code JPY.'),
  doc('andes', 'Andes', 'The Andes are mountains along the west of South America.'),
];

const table = embeddingTable(V, D, 7);
const modelPath = path.join(dir, 'tiny-embedder.onnx');
writeFileSync(modelPath, buildTinyEmbeddingModel(table, V, D));
const embedderPromise = createOnnxEmbedder({ modelPath, tokenize: (t) => hashedTokenIds(t, V) });

/** The same maths in plain JS: mean of the token rows, L2-normalised. */
function referenceEmbedding(text: string): Float32Array {
  const ids = hashedTokenIds(text, V);
  const v = new Float32Array(D);
  for (const id of ids) for (let j = 0; j < D; j++) v[j]! += table[id * D + j]! / ids.length;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

describe('dense retrieval with an ONNX embedding model built here (onnxruntime-node, CPU)', () => {
  it('the ONNX model computes the masked mean the reference computes, for a padded batch', async () => {
    const embedder = await embedderPromise;
    expect(embedder.dimension).toBe(D);
    const texts = ['capital of France', 'The Rhine flows through Germany and the Netherlands', 'yen'];
    const vectors = await embedder.embed(texts);
    vectors.forEach((v, i) => {
      const ref = referenceEmbedding(texts[i]!);
      for (let j = 0; j < D; j++) expect(v[j]).toBeCloseTo(ref[j]!, 5);
    });
    const [empty] = await embedder.embed(['the of and']);
    expect([...empty!].every((x) => x === 0)).toBe(true);
  });

  it('ranks the document that shares the query terms first, through the Retriever interface', async () => {
    const embedder = await embedderPromise;
    const collection = new DocumentCollection(DOCS);
    const retriever = createDenseRetriever(
      collection,
      await DenseIndex.build(DOCS, embedder, { batchSize: 2 }),
      embedder,
    );
    expect(retriever.kind).toBe('dense');
    const cases: Array<[string, string]> = [
      ['Rhine North Sea Netherlands', 'rhine'],
      ['capital of France', 'paris'],
      ['currency of Japan', 'yen'],
      ['mountains of South America', 'andes'],
    ];
    for (const [query, expected] of cases) {
      const hits = await retriever.search(query, { k: 3 });
      expect(hits[0]!.id, query).toBe(expected);
      expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
      expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
    }
  });

  it('saves and loads the index without re-embedding; a different embedder or corpus rebuilds', async () => {
    const embedder = await embedderPromise;
    let calls = 0;
    const counting: TextEmbedder = {
      id: embedder.id,
      dimension: embedder.dimension,
      embed: (texts, signal) => {
        calls++;
        return embedder.embed(texts, signal);
      },
    };
    const cacheDir = path.join(dir, 'cache');
    expect((await DenseIndex.loadOrBuild(DOCS, counting, cacheDir)).built).toBe(true);
    const embedCalls = calls;
    const again = await DenseIndex.loadOrBuild(DOCS, counting, cacheDir);
    expect(again.built).toBe(false);
    expect(calls).toBe(embedCalls);
    const q = (await embedder.embed(['capital of France']))[0]!;
    expect(again.index.search(q, 2)).toEqual((await DenseIndex.build(DOCS, embedder)).search(q, 2));
    const other: TextEmbedder = { ...counting, id: 'other-model' };
    expect((await DenseIndex.loadOrBuild(DOCS, other, cacheDir)).built).toBe(true);
    expect((await DenseIndex.loadOrBuild(DOCS.slice(1), other, cacheDir)).built).toBe(true);
    expect(() => createDenseRetriever(new DocumentCollection(DOCS), again.index, other)).toThrow(
      /built with onnx:/,
    );
  });

  it('fails at once, naming the fix, for a missing model', async () => {
    await expect(
      createOnnxEmbedder({ modelPath: path.join(dir, 'none.onnx'), tokenize: () => [] }),
    ).rejects.toMatchObject({
      code: 'embedding_model',
      message: expect.stringMatching(/no embedding model at .*none\.onnx/),
      hint: 'build or copy an ONNX model there',
    });
  });
});

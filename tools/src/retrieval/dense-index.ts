import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { collectionFingerprint, indexedText, type ScoredDocument, topK } from './bm25-index.ts';
import {
  type DocumentStore,
  RetrievalConfigError,
  type RetrievalDocument,
  type RetrievalHit,
  type Retriever,
  type SearchOptions,
} from './types.ts';

/**
 * Turns texts into unit-length vectors (what a dense retriever ranks by inner product). The ONNX
 * backend is `createOnnxEmbedder`; anything with this shape works (a remote embedding server, …).
 */
export interface TextEmbedder {
  /** Names the model (and its weights); part of a dense index's cache key. */
  readonly id: string;
  readonly dimension: number;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

const FORMAT = 'toolgym-dense';
const FORMAT_VERSION = 1;

interface DenseHeader {
  format: typeof FORMAT;
  version: number;
  fingerprint: string;
  embedder: string;
  dimension: number;
  documentCount: number;
}

/**
 * Exact nearest-neighbour search by inner product over L2-normalised document embeddings
 * (cosine similarity), the scoring of dense passage retrieval (Karpukhin et al. 2020, DPR) and of
 * the E5 retriever Search-R1 uses. A flat scan: exact, and fast enough for corpora of this size.
 */
export class DenseIndex {
  private constructor(
    readonly fingerprint: string,
    readonly embedderId: string,
    readonly dimension: number,
    /** Row-major, one unit vector per document. */
    private readonly vectors: Float32Array,
  ) {}

  get documentCount(): number {
    return this.vectors.length / this.dimension;
  }

  static async build(
    documents: readonly RetrievalDocument[],
    embedder: TextEmbedder,
    options: { batchSize?: number; signal?: AbortSignal } = {},
  ): Promise<DenseIndex> {
    const batchSize = options.batchSize ?? 32;
    const dim = embedder.dimension;
    const vectors = new Float32Array(documents.length * dim);
    for (let start = 0; start < documents.length; start += batchSize) {
      const batch = documents.slice(start, start + batchSize);
      const embedded = await embedder.embed(batch.map(indexedText), options.signal);
      embedded.forEach((v, i) => {
        if (v.length !== dim) {
          throw new RetrievalConfigError(
            'embedding_dimension',
            `embedder ${embedder.id} returned ${v.length} dimensions, declared ${dim}`,
          );
        }
        vectors.set(v, (start + i) * dim);
      });
    }
    return new DenseIndex(collectionFingerprint(documents), embedder.id, dim, vectors);
  }

  /** The top `k` documents for an embedded query, best first. */
  search(query: Float32Array, k: number): ScoredDocument[] {
    if (query.length !== this.dimension) {
      throw new RetrievalConfigError(
        'embedding_dimension',
        `query has ${query.length} dimensions, the index ${this.dimension}`,
      );
    }
    const n = this.documentCount;
    const scores = new Float32Array(n);
    const all: number[] = new Array(n);
    for (let d = 0; d < n; d++) {
      let dot = 0;
      const base = d * this.dimension;
      for (let j = 0; j < this.dimension; j++) dot += this.vectors[base + j]! * query[j]!;
      scores[d] = dot;
      all[d] = d;
    }
    return topK(all, scores, k);
  }

  save(dir: string, name = 'dense'): void {
    mkdirSync(dir, { recursive: true });
    const header: DenseHeader = {
      format: FORMAT,
      version: FORMAT_VERSION,
      fingerprint: this.fingerprint,
      embedder: this.embedderId,
      dimension: this.dimension,
      documentCount: this.documentCount,
    };
    const tmp = `.tmp-${process.pid}-${Date.now()}`;
    const bin = path.join(dir, `${name}.bin`);
    const json = path.join(dir, `${name}.json`);
    writeFileSync(
      `${bin}${tmp}`,
      Buffer.from(this.vectors.buffer, this.vectors.byteOffset, this.vectors.byteLength),
    );
    writeFileSync(`${json}${tmp}`, JSON.stringify(header));
    renameSync(`${bin}${tmp}`, bin);
    renameSync(`${json}${tmp}`, json);
  }

  static load(dir: string, name = 'dense'): DenseIndex | undefined {
    const json = path.join(dir, `${name}.json`);
    const bin = path.join(dir, `${name}.bin`);
    if (!existsSync(json) || !existsSync(bin)) return undefined;
    const header = JSON.parse(readFileSync(json, 'utf8')) as DenseHeader;
    if (header.format !== FORMAT || header.version !== FORMAT_VERSION) {
      throw new RetrievalConfigError(
        'index_format',
        `${json} is not a ${FORMAT} v${FORMAT_VERSION} index`,
        'delete it to rebuild',
      );
    }
    const bytes = readFileSync(bin);
    const expected = header.documentCount * header.dimension * 4;
    if (bytes.byteLength !== expected) {
      throw new RetrievalConfigError(
        'index_corrupt',
        `${bin} has ${bytes.byteLength} bytes, expected ${expected}`,
        'delete it to rebuild',
      );
    }
    const vectors = new Float32Array(expected / 4);
    new Uint8Array(vectors.buffer).set(bytes);
    return new DenseIndex(header.fingerprint, header.embedder, header.dimension, vectors);
  }

  /** The index cached in `dir` when it was built from these documents with this embedder; else built and saved. */
  static async loadOrBuild(
    documents: readonly RetrievalDocument[],
    embedder: TextEmbedder,
    dir: string,
  ): Promise<{ index: DenseIndex; built: boolean }> {
    const cached = DenseIndex.load(dir);
    if (
      cached &&
      cached.fingerprint === collectionFingerprint(documents) &&
      cached.embedderId === embedder.id
    ) {
      return { index: cached, built: false };
    }
    const index = await DenseIndex.build(documents, embedder);
    index.save(dir);
    return { index, built: true };
  }
}

/** The dense backend of `Retriever`: embeds the query, ranks by inner product, snippets as BM25 does. */
export function createDenseRetriever(
  documents: DocumentStore,
  index: DenseIndex,
  embedder: TextEmbedder,
): Retriever {
  if (index.documentCount !== documents.size) {
    throw new RetrievalConfigError(
      'index_mismatch',
      `the dense index has ${index.documentCount} documents but the collection has ${documents.size}`,
      'build the index from this collection (DenseIndex.loadOrBuild)',
    );
  }
  if (index.embedderId !== embedder.id) {
    throw new RetrievalConfigError(
      'index_mismatch',
      `the dense index was built with ${index.embedderId}, not ${embedder.id}`,
    );
  }
  return {
    kind: 'dense',
    documents,
    async search(query: string, options: SearchOptions): Promise<RetrievalHit[]> {
      const [vector] = await embedder.embed([query], options.signal);
      return documents.hits(index.search(vector!, options.k), query);
    },
  };
}

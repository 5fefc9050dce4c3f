import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { analyze } from './analyzer.ts';
import { RetrievalConfigError, type RetrievalDocument } from './types.ts';

/** BM25 free parameters; defaults are Pyserini's (the BM25 baselines of DPR and Search-R1). */
export interface Bm25Params {
  /** Term-frequency saturation. */
  k1: number;
  /** Document-length normalisation (0 = none, 1 = full). */
  b: number;
}

export const DEFAULT_BM25_PARAMS: Bm25Params = { k1: 0.9, b: 0.4 };

/** A scored position in the indexed collection. */
export interface ScoredDocument {
  index: number;
  score: number;
}

const FORMAT = 'toolgym-bm25';
const FORMAT_VERSION = 1;

interface IndexHeader {
  format: typeof FORMAT;
  version: number;
  /** sha256 of the indexed documents (ids, titles, texts): a stale index is rebuilt, never used. */
  fingerprint: string;
  params: Bm25Params;
  documentCount: number;
  postingCount: number;
  terms: string[];
}

/** What text of a document is indexed: title and body, so a title word matches its page. */
export function indexedText(doc: RetrievalDocument): string {
  return `${doc.title}\n${doc.text}`;
}

/** Identifies a collection's content; the cache key of its index. */
export function collectionFingerprint(documents: readonly RetrievalDocument[]): string {
  const hash = createHash('sha256');
  for (const doc of documents) hash.update(`${doc.id}\u0000${doc.title}\u0000${doc.text}\u0001`);
  return hash.digest('hex');
}

/**
 * Okapi BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
 * Beyond") over an inverted index held in typed arrays, so it saves to and loads from disk as
 * two files without a rebuild. IDF is Lucene's non-negative variant:
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
 *   score(d, q) = Σ_{t ∈ q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 - b + b·|d| / avgdl))
 * Query terms count with their multiplicity (as in Lucene and wink-bm25-text-search).
 */
export class Bm25Index {
  private readonly termIds: Map<string, number>;
  private readonly idf: Float64Array;
  /** k1·(1 - b + b·|d|/avgdl) per document: the length part of the denominator, precomputed. */
  private readonly lengthNorm: Float64Array;

  private constructor(
    readonly params: Bm25Params,
    readonly fingerprint: string,
    private readonly terms: string[],
    private readonly docLengths: Uint32Array,
    /** Postings of term t are at [termOffsets[t], termOffsets[t+1]). */
    private readonly termOffsets: Uint32Array,
    private readonly postingDocs: Uint32Array,
    private readonly postingTfs: Uint32Array,
  ) {
    this.termIds = new Map(terms.map((t, i) => [t, i]));
    const n = docLengths.length;
    this.idf = new Float64Array(terms.length);
    for (let t = 0; t < terms.length; t++) {
      const df = (termOffsets[t + 1] ?? 0) - (termOffsets[t] ?? 0);
      this.idf[t] = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    }
    let total = 0;
    for (const length of docLengths) total += length;
    const avgdl = n === 0 ? 1 : total / n || 1;
    this.lengthNorm = new Float64Array(n);
    for (let d = 0; d < n; d++)
      this.lengthNorm[d] = params.k1 * (1 - params.b + (params.b * (docLengths[d] ?? 0)) / avgdl);
  }

  static build(documents: readonly RetrievalDocument[], params: Bm25Params = DEFAULT_BM25_PARAMS): Bm25Index {
    validateParams(params);
    const termIds = new Map<string, number>();
    const terms: string[] = [];
    // Per term, a flat list of (doc, tf) pairs in document order.
    const postings: number[][] = [];
    const docLengths = new Uint32Array(documents.length);
    documents.forEach((doc, d) => {
      const tokens = analyze(indexedText(doc));
      docLengths[d] = tokens.length;
      const counts = new Map<string, number>();
      for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
      for (const [term, tf] of counts) {
        let id = termIds.get(term);
        if (id === undefined) {
          id = terms.length;
          termIds.set(term, id);
          terms.push(term);
          postings.push([]);
        }
        postings[id]!.push(d, tf);
      }
    });
    const postingCount = postings.reduce((sum, list) => sum + list.length / 2, 0);
    const termOffsets = new Uint32Array(terms.length + 1);
    const postingDocs = new Uint32Array(postingCount);
    const postingTfs = new Uint32Array(postingCount);
    let at = 0;
    postings.forEach((list, t) => {
      termOffsets[t] = at;
      for (let i = 0; i < list.length; i += 2) {
        postingDocs[at] = list[i]!;
        postingTfs[at] = list[i + 1]!;
        at++;
      }
    });
    termOffsets[terms.length] = at;
    return new Bm25Index(
      params,
      collectionFingerprint(documents),
      terms,
      docLengths,
      termOffsets,
      postingDocs,
      postingTfs,
    );
  }

  get documentCount(): number {
    return this.docLengths.length;
  }

  get vocabularySize(): number {
    return this.terms.length;
  }

  /** The top `k` documents for `query`, best first; ties go to the earlier document. */
  search(query: string, k: number): ScoredDocument[] {
    const scores = new Float64Array(this.documentCount);
    const touched: number[] = [];
    for (const term of analyze(query)) {
      const t = this.termIds.get(term);
      if (t === undefined) continue;
      const idf = this.idf[t]!;
      const k1 = this.params.k1;
      for (let p = this.termOffsets[t]!, end = this.termOffsets[t + 1]!; p < end; p++) {
        const d = this.postingDocs[p]!;
        const tf = this.postingTfs[p]!;
        if (scores[d] === 0) touched.push(d);
        scores[d]! += (idf * tf * (k1 + 1)) / (tf + this.lengthNorm[d]!);
      }
    }
    return topK(touched, scores, k);
  }

  /** Writes `<dir>/<name>.json` (header, vocabulary) and `<dir>/<name>.bin` (arrays), atomically. */
  save(dir: string, name = 'bm25'): void {
    mkdirSync(dir, { recursive: true });
    const header: IndexHeader = {
      format: FORMAT,
      version: FORMAT_VERSION,
      fingerprint: this.fingerprint,
      params: this.params,
      documentCount: this.documentCount,
      postingCount: this.postingDocs.length,
      terms: this.terms,
    };
    const arrays = [this.docLengths, this.termOffsets, this.postingDocs, this.postingTfs];
    const binary = Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
    // Write to temporary names and rename: a crash never leaves a half-written index that loads.
    const binPath = path.join(dir, `${name}.bin`);
    const jsonPath = path.join(dir, `${name}.json`);
    // Unique temporary names: two processes building the same index never write one file.
    const tmp = `.tmp-${process.pid}-${Date.now()}`;
    writeFileSync(`${binPath}${tmp}`, binary);
    writeFileSync(`${jsonPath}${tmp}`, JSON.stringify(header));
    renameSync(`${binPath}${tmp}`, binPath);
    renameSync(`${jsonPath}${tmp}`, jsonPath);
  }

  /** Loads an index saved by `save`; `undefined` when none is there. A corrupt one fails at once. */
  static load(dir: string, name = 'bm25'): Bm25Index | undefined {
    const jsonPath = path.join(dir, `${name}.json`);
    const binPath = path.join(dir, `${name}.bin`);
    if (!existsSync(jsonPath) || !existsSync(binPath)) return undefined;
    const header = JSON.parse(readFileSync(jsonPath, 'utf8')) as IndexHeader;
    if (header.format !== FORMAT || header.version !== FORMAT_VERSION) {
      throw new RetrievalConfigError(
        'index_format',
        `${jsonPath} is not a ${FORMAT} v${FORMAT_VERSION} index`,
        'delete it to rebuild',
      );
    }
    const binary = readFileSync(binPath);
    const n = header.documentCount;
    const t = header.terms.length;
    const p = header.postingCount;
    const expectedBytes = 4 * (n + t + 1 + 2 * p);
    if (binary.byteLength !== expectedBytes) {
      throw new RetrievalConfigError(
        'index_corrupt',
        `${binPath} has ${binary.byteLength} bytes, expected ${expectedBytes}`,
        'delete it to rebuild',
      );
    }
    // Copy into an aligned buffer: Buffer pools may hand out unaligned offsets.
    const words = new Uint32Array(expectedBytes / 4);
    new Uint8Array(words.buffer).set(binary);
    let at = 0;
    const take = (count: number) => {
      const view = words.subarray(at, at + count);
      at += count;
      return view;
    };
    return new Bm25Index(
      header.params,
      header.fingerprint,
      header.terms,
      take(n),
      take(t + 1),
      take(p),
      take(p),
    );
  }

  /**
   * The index of `documents` cached in `dir`: loaded when its fingerprint and params match,
   * otherwise built and saved.
   */
  static loadOrBuild(
    documents: readonly RetrievalDocument[],
    dir: string,
    params: Bm25Params = DEFAULT_BM25_PARAMS,
  ): { index: Bm25Index; built: boolean } {
    const cached = Bm25Index.load(dir);
    const fingerprint = collectionFingerprint(documents);
    if (
      cached &&
      cached.fingerprint === fingerprint &&
      cached.params.k1 === params.k1 &&
      cached.params.b === params.b
    ) {
      return { index: cached, built: false };
    }
    const index = Bm25Index.build(documents, params);
    index.save(dir);
    return { index, built: true };
  }
}

function validateParams(params: Bm25Params): void {
  if (!(params.k1 >= 0) || !(params.b >= 0 && params.b <= 1)) {
    throw new RetrievalConfigError(
      'bm25_params',
      `BM25 parameters k1=${params.k1}, b=${params.b} are out of range`,
      'use k1 ≥ 0 and 0 ≤ b ≤ 1',
    );
  }
}

/** Best `k` of `candidates` by score (desc), ties by position (asc), via a bounded min-heap. */
export function topK(candidates: readonly number[], scores: ArrayLike<number>, k: number): ScoredDocument[] {
  if (k <= 0) return [];
  // worse(a, b): a ranks below b.
  const worse = (a: number, b: number) => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
  const heap: number[] = [];
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (const d of candidates) {
    if (heap.length < k) {
      heap.push(d);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (worse(heap[0]!, d)) {
      heap[0] = d;
      siftDown(0);
    }
  }
  return heap
    .sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0))
    .map((index) => ({ index, score: scores[index]! }));
}

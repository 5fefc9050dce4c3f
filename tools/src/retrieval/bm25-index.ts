import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
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
export function indexedText(doc: Pick<RetrievalDocument, 'title' | 'text'>): string {
  return `${doc.title}\n${doc.text}`;
}

/** Identifies a collection's content; the cache key of its index. */
export function collectionFingerprint(documents: readonly RetrievalDocument[]): string {
  const hash = createHash('sha256');
  for (const doc of documents) addToFingerprint(hash, doc);
  return hash.digest('hex');
}

function addToFingerprint(hash: Hash, doc: Pick<RetrievalDocument, 'id' | 'title' | 'text'>): void {
  hash.update(`${doc.id}\u0000${doc.title}\u0000${doc.text}\u0001`);
}

/**
 * Where an index reads a term's postings from: arrays in memory, or a file read on demand. The
 * two return the same numbers; only what stays in memory differs.
 */
interface PostingSource {
  /** Document positions and term frequencies of term `t`, in document order. */
  postings(t: number, from: number, to: number): { docs: Uint32Array; tfs: Uint32Array };
  close(): void;
}

function memoryPostings(postingDocs: Uint32Array, postingTfs: Uint32Array): PostingSource {
  return {
    postings: (_t, from, to) => ({
      docs: postingDocs.subarray(from, to),
      tfs: postingTfs.subarray(from, to),
    }),
    close() {},
  };
}

/** Postings read with pread from the `.bin` file: only lengths and offsets stay in memory. */
function filePostings(file: string, docsAt: number, tfsAt: number): PostingSource {
  const fd = openSync(file, 'r');
  let closed = false;
  const read = (byteOffset: number, count: number) => {
    const out = new Uint32Array(count);
    const bytes = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(fd, bytes, done, bytes.length - done, byteOffset + done);
      if (n === 0)
        throw new RetrievalConfigError('index_corrupt', `${file} ended early`, 'delete it to rebuild');
      done += n;
    }
    return out;
  };
  return {
    postings: (_t, from, to) => ({
      docs: read(docsAt + 4 * from, to - from),
      tfs: read(tfsAt + 4 * from, to - from),
    }),
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

/** Growable Uint32 storage: the writer's buffers without the overhead of JS arrays. */
class U32List {
  data = new Uint32Array(1024);
  length = 0;

  push(a: number, b: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = a;
    this.data[this.length++] = b;
  }
}

/**
 * Builds a BM25 index one document at a time, so a corpus need never be in memory at once: each
 * document becomes (term, tf) pairs in one flat buffer, and `finish` turns them into postings
 * grouped by term. Memory is about 16 bytes per distinct (document, term) pair at the peak.
 */
export class Bm25IndexWriter {
  private readonly termIds = new Map<string, number>();
  private readonly terms: string[] = [];
  private readonly documentFrequency = new U32List();
  private readonly pairs = new U32List();
  private readonly lengths = new U32List();
  private readonly hash = createHash('sha256');
  private documents = 0;

  constructor(private readonly params: Bm25Params = DEFAULT_BM25_PARAMS) {
    validateParams(params);
  }

  add(doc: Pick<RetrievalDocument, 'id' | 'title' | 'text'>): void {
    addToFingerprint(this.hash, doc);
    const tokens = analyze(indexedText(doc));
    const counts = new Map<number, number>();
    for (const token of tokens) {
      let id = this.termIds.get(token);
      if (id === undefined) {
        id = this.terms.length;
        this.termIds.set(token, id);
        this.terms.push(token);
        this.documentFrequency.push(0, 0);
      }
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [term, tf] of counts) {
      this.pairs.push(term, tf);
      this.documentFrequency.data[2 * term]!++;
    }
    this.lengths.push(tokens.length, counts.size);
    this.documents++;
  }

  /** The index of every document added, in memory. The writer cannot be used after this. */
  finish(): Bm25Index {
    const n = this.documents;
    const t = this.terms.length;
    const docLengths = new Uint32Array(n);
    for (let d = 0; d < n; d++) docLengths[d] = this.lengths.data[2 * d]!;
    const termOffsets = new Uint32Array(t + 1);
    for (let i = 0; i < t; i++) termOffsets[i + 1] = termOffsets[i]! + this.documentFrequency.data[2 * i]!;
    const total = termOffsets[t]!;
    const postingDocs = new Uint32Array(total);
    const postingTfs = new Uint32Array(total);
    const next = termOffsets.slice(0, t);
    let at = 0;
    for (let d = 0; d < n; d++) {
      const distinct = this.lengths.data[2 * d + 1]!;
      for (let j = 0; j < distinct; j++, at += 2) {
        const term = this.pairs.data[at]!;
        const slot = next[term]!++;
        postingDocs[slot] = d;
        postingTfs[slot] = this.pairs.data[at + 1]!;
      }
    }
    this.pairs.data = new Uint32Array(0);
    return new Bm25Index(
      this.params,
      this.hash.digest('hex'),
      this.terms,
      docLengths,
      termOffsets,
      memoryPostings(postingDocs, postingTfs),
      { postingDocs, postingTfs },
    );
  }
}

/**
 * Okapi BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
 * Beyond") over an inverted index held in typed arrays, so it saves to and loads from disk as
 * two files without a rebuild. IDF is Lucene's non-negative variant:
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
 *   score(d, q) = Σ_{t ∈ q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 - b + b·|d| / avgdl))
 * Query terms count with their multiplicity (as in Lucene and wink-bm25-text-search).
 * `load` reads a saved index into memory; `open` keeps its postings on disk and reads a query's
 * postings when it runs (for corpora whose postings should not live in memory).
 */
export class Bm25Index {
  private readonly termIds: Map<string, number>;
  private readonly idf: Float64Array;
  /** k1·(1 - b + b·|d|/avgdl) per document: the length part of the denominator, precomputed. */
  private readonly lengthNorm: Float64Array;
  /** Scratch for one query: scores by document, and which documents were touched. */
  private readonly scores: Float64Array;
  private readonly touched: Uint32Array;

  /** Use `Bm25Index.build`, `Bm25IndexWriter`, `load` or `open`. */
  constructor(
    readonly params: Bm25Params,
    readonly fingerprint: string,
    private readonly terms: string[],
    private readonly docLengths: Uint32Array,
    /** Postings of term t are at [termOffsets[t], termOffsets[t+1]). */
    private readonly termOffsets: Uint32Array,
    private readonly source: PostingSource,
    /** The posting arrays when they are in memory (what `save` writes). */
    private readonly inMemory?: { postingDocs: Uint32Array; postingTfs: Uint32Array },
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
    this.scores = new Float64Array(n);
    this.touched = new Uint32Array(n);
  }

  static build(documents: readonly RetrievalDocument[], params: Bm25Params = DEFAULT_BM25_PARAMS): Bm25Index {
    const writer = new Bm25IndexWriter(params);
    for (const doc of documents) writer.add(doc);
    return writer.finish();
  }

  get documentCount(): number {
    return this.docLengths.length;
  }

  get vocabularySize(): number {
    return this.terms.length;
  }

  get postingCount(): number {
    return this.termOffsets[this.terms.length] ?? 0;
  }

  /** The top `k` documents for `query`, best first; ties go to the earlier document. */
  search(query: string, k: number): ScoredDocument[] {
    const { scores, touched } = this;
    const k1 = this.params.k1;
    let touchedCount = 0;
    for (const term of analyze(query)) {
      const t = this.termIds.get(term);
      if (t === undefined) continue;
      const idf = this.idf[t]!;
      const { docs, tfs } = this.source.postings(t, this.termOffsets[t]!, this.termOffsets[t + 1]!);
      for (let p = 0; p < docs.length; p++) {
        const d = docs[p]!;
        const tf = tfs[p]!;
        if (scores[d] === 0) touched[touchedCount++] = d;
        scores[d]! += (idf * tf * (k1 + 1)) / (tf + this.lengthNorm[d]!);
      }
    }
    const candidates = touched.subarray(0, touchedCount);
    const top = topK(candidates, scores, k);
    for (const d of candidates) scores[d] = 0;
    return top;
  }

  /** Releases the file of an index from `open` (a no-op for one in memory). */
  close(): void {
    this.source.close();
  }

  /** Writes `<dir>/<name>.json` (header, vocabulary) and `<dir>/<name>.bin` (arrays), atomically. */
  save(dir: string, name = 'bm25'): void {
    if (!this.inMemory) {
      throw new RetrievalConfigError(
        'index_on_disk',
        'an index opened from disk is saved already',
        'save the index that was built',
      );
    }
    mkdirSync(dir, { recursive: true });
    const header: IndexHeader = {
      format: FORMAT,
      version: FORMAT_VERSION,
      fingerprint: this.fingerprint,
      params: this.params,
      documentCount: this.documentCount,
      postingCount: this.postingCount,
      terms: this.terms,
    };
    const arrays = [this.docLengths, this.termOffsets, this.inMemory.postingDocs, this.inMemory.postingTfs];
    // Write to temporary names and rename: a crash never leaves a half-written index that loads.
    // Unique temporary names: two processes building the same index never write one file.
    const binPath = path.join(dir, `${name}.bin`);
    const jsonPath = path.join(dir, `${name}.json`);
    const tmp = `.tmp-${process.pid}-${Date.now()}`;
    const fd = openSync(`${binPath}${tmp}`, 'w');
    try {
      for (const a of arrays) writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    } finally {
      closeSync(fd);
    }
    writeFileSync(`${jsonPath}${tmp}`, JSON.stringify(header));
    renameSync(`${binPath}${tmp}`, binPath);
    renameSync(`${jsonPath}${tmp}`, jsonPath);
  }

  /** Loads an index saved by `save` into memory; `undefined` when none is there. A corrupt one fails at once. */
  static load(dir: string, name = 'bm25'): Bm25Index | undefined {
    return Bm25Index.read(dir, name, 'memory');
  }

  /**
   * Opens an index saved by `save` with its postings left on disk: lengths, offsets and the
   * vocabulary are read now, a term's postings when a query has it. `close()` releases the file.
   */
  static open(dir: string, name = 'bm25'): Bm25Index | undefined {
    return Bm25Index.read(dir, name, 'disk');
  }

  private static read(dir: string, name: string, where: 'memory' | 'disk'): Bm25Index | undefined {
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
    const n = header.documentCount;
    const t = header.terms.length;
    const p = header.postingCount;
    const expectedBytes = 4 * (n + t + 1 + 2 * p);
    const actualBytes = statSync(binPath).size;
    if (actualBytes !== expectedBytes) {
      throw new RetrievalConfigError(
        'index_corrupt',
        `${binPath} has ${actualBytes} bytes, expected ${expectedBytes}`,
        'delete it to rebuild',
      );
    }
    const head = 4 * (n + t + 1);
    // Copy into aligned buffers: Buffer pools may hand out unaligned offsets.
    const readWords = (fd: number, byteOffset: number, count: number) => {
      const out = new Uint32Array(count);
      const bytes = new Uint8Array(out.buffer);
      for (let done = 0; done < bytes.length; )
        done += readSync(fd, bytes, done, bytes.length - done, byteOffset + done);
      return out;
    };
    const fd = openSync(binPath, 'r');
    let docLengths: Uint32Array;
    let termOffsets: Uint32Array;
    let source: PostingSource;
    let inMemory: { postingDocs: Uint32Array; postingTfs: Uint32Array } | undefined;
    try {
      docLengths = readWords(fd, 0, n);
      termOffsets = readWords(fd, 4 * n, t + 1);
      if (where === 'memory') {
        inMemory = { postingDocs: readWords(fd, head, p), postingTfs: readWords(fd, head + 4 * p, p) };
        source = memoryPostings(inMemory.postingDocs, inMemory.postingTfs);
      } else {
        source = filePostings(binPath, head, head + 4 * p);
      }
    } finally {
      closeSync(fd);
    }
    return new Bm25Index(
      header.params,
      header.fingerprint,
      header.terms,
      docLengths,
      termOffsets,
      source,
      inMemory,
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

/**
 * The best `k` documents offered, by score (desc), ties by position (asc), in a bounded
 * min-heap: O(log k) an offer.
 */
export class TopK {
  private readonly heap: number[] = [];
  private readonly score = new Map<number, number>();

  constructor(private readonly k: number) {}

  /** Whether document a ranks below document b. */
  private worse(a: number, b: number): boolean {
    const sa = this.score.get(a)!;
    const sb = this.score.get(b)!;
    return sa < sb || (sa === sb && a > b);
  }

  offer(index: number, score: number): void {
    if (this.k <= 0) return;
    const heap = this.heap;
    if (heap.length < this.k) {
      this.score.set(index, score);
      heap.push(index);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!this.worse(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
      return;
    }
    const min = heap[0]!;
    const minScore = this.score.get(min)!;
    if (score < minScore || (score === minScore && index > min)) return;
    this.score.delete(min);
    this.score.set(index, score);
    heap[0] = index;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }

  /** The documents kept, best first. */
  result(): ScoredDocument[] {
    return [...this.heap]
      .sort((a, b) => (this.worse(a, b) ? 1 : this.worse(b, a) ? -1 : 0))
      .map((index) => ({ index, score: this.score.get(index)! }));
  }
}

/** Best `k` of `candidates` by score (desc), ties by position (asc). */
export function topK(candidates: Iterable<number>, scores: ArrayLike<number>, k: number): ScoredDocument[] {
  const top = new TopK(k);
  for (const d of candidates) top.offer(d, scores[d]!);
  return top.result();
}

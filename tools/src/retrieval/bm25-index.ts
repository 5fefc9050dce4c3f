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
import {
  BLOCK_SIZE,
  END,
  filePostings,
  memoryPostings,
  PostingCursor,
  type PostingSource,
} from './posting-blocks.ts';
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

/**
 * Blocks read at once (1 KiB each at most) from a list walked posting by posting (an essential
 * term's), and from one only probed for some documents (a non-essential term's): successive
 * probes tend to land in nearby blocks, so a read of several saves reads more than it copies.
 */
const WALK_READ_AHEAD = 64;
const PROBE_READ_AHEAD = 16;

const FORMAT = 'toolgym-bm25';
const FORMAT_VERSION = 2;

interface IndexHeader {
  format: typeof FORMAT;
  version: number;
  /** sha256 of the indexed documents (ids, titles, texts): a stale index is rebuilt, never used. */
  fingerprint: string;
  params: Bm25Params;
  documentCount: number;
  postingCount: number;
  blockCount: number;
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
    if (this.documents === END) {
      throw new RetrievalConfigError(
        'index_too_large',
        `a BM25 index holds at most ${END} documents`,
        'split the corpus into shards of fewer documents',
      );
    }
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
    // Each posting goes straight to its place in its term's block: documents first, then tfs.
    const postings = new Uint32Array(2 * termOffsets[t]!);
    const next = termOffsets.slice(0, t);
    let at = 0;
    for (let d = 0; d < n; d++) {
      const distinct = this.lengths.data[2 * d + 1]!;
      for (let j = 0; j < distinct; j++, at += 2) {
        const term = this.pairs.data[at]!;
        const rank = next[term]!++ - termOffsets[term]!;
        const inBlock = rank % BLOCK_SIZE;
        const blockStart = rank - inBlock;
        const length = Math.min(BLOCK_SIZE, termOffsets[term + 1]! - termOffsets[term]! - blockStart);
        const words = 2 * (termOffsets[term]! + blockStart);
        postings[words + inBlock] = d;
        postings[words + length + inBlock] = this.pairs.data[at + 1]!;
      }
    }
    this.pairs.data = new Uint32Array(0);
    const blocks = blockMaxima(this.params, docLengths, termOffsets, postings);
    return new Bm25Index(
      this.params,
      this.hash.digest('hex'),
      this.terms,
      docLengths,
      termOffsets,
      blocks,
      memoryPostings(postings),
      postings,
    );
  }
}

/** Per block of postings: its last document, and the most one of its postings scores. */
interface BlockMaxima {
  lastDoc: Uint32Array;
  maxScore: Float32Array;
}

/** The per-document and per-term parts of BM25 that a collection fixes. */
function bm25Weights(params: Bm25Params, docLengths: Uint32Array, termOffsets: Uint32Array) {
  const n = docLengths.length;
  const t = termOffsets.length - 1;
  const idf = new Float64Array(t);
  for (let i = 0; i < t; i++) {
    const df = termOffsets[i + 1]! - termOffsets[i]!;
    idf[i] = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }
  let total = 0;
  for (const length of docLengths) total += length;
  const avgdl = n === 0 ? 1 : total / n || 1;
  // k1·(1 - b + b·|d|/avgdl): the length part of the denominator, per document.
  const lengthNorm = new Float64Array(n);
  for (let d = 0; d < n; d++)
    lengthNorm[d] = params.k1 * (1 - params.b + (params.b * docLengths[d]!) / avgdl);
  return { idf, lengthNorm };
}

/**
 * Each block's last document and highest posting score, the bound that lets a query skip it.
 * The score is stored as float32, rounded up by more than float32's rounding error, so it never
 * falls below the float64 score of a posting in the block.
 */
function blockMaxima(
  params: Bm25Params,
  docLengths: Uint32Array,
  termOffsets: Uint32Array,
  postings: Uint32Array,
): BlockMaxima {
  const { idf, lengthNorm } = bm25Weights(params, docLengths, termOffsets);
  const t = termOffsets.length - 1;
  let count = 0;
  for (let i = 0; i < t; i++) count += Math.ceil((termOffsets[i + 1]! - termOffsets[i]!) / BLOCK_SIZE);
  const lastDoc = new Uint32Array(count);
  const maxScore = new Float32Array(count);
  const k1 = params.k1;
  let block = 0;
  for (let i = 0; i < t; i++) {
    for (let start = termOffsets[i]!; start < termOffsets[i + 1]!; start += BLOCK_SIZE, block++) {
      const length = Math.min(BLOCK_SIZE, termOffsets[i + 1]! - start);
      const words = 2 * start;
      let max = 0;
      for (let j = 0; j < length; j++) {
        const d = postings[words + j]!;
        const tf = postings[words + length + j]!;
        max = Math.max(max, (idf[i]! * tf * (k1 + 1)) / (tf + lengthNorm[d]!));
      }
      lastDoc[block] = postings[words + length - 1]!;
      maxScore[block] = Math.fround(max * (1 + 1e-6));
    }
  }
  return { lastDoc, maxScore };
}

/**
 * Okapi BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
 * Beyond") over an inverted index held in typed arrays, so it saves to and loads from disk as
 * two files without a rebuild. IDF is Lucene's non-negative variant:
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
 *   score(d, q) = Σ_{t ∈ q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 - b + b·|d| / avgdl))
 * Query terms count with their multiplicity (as in Lucene and wink-bm25-text-search).
 * The top k is exact, found by block-max MaxScore (below), which scores only the documents that
 * can still enter it. `load` reads a saved index into memory; `open` keeps its postings on disk
 * and reads the blocks a query needs when it runs.
 */
export class Bm25Index {
  private readonly termIds: Map<string, number>;
  private readonly idf: Float64Array;
  /** k1·(1 - b + b·|d|/avgdl) per document: the length part of the denominator, precomputed. */
  private readonly lengthNorm: Float64Array;
  /** Term t's blocks are [firstBlock[t], firstBlock[t+1]) of the block maxima. */
  private readonly firstBlock: Uint32Array;
  /** The most one posting of term t scores (its best block's bound). */
  private readonly termMaxScore: Float64Array;

  /** Use `Bm25Index.build`, `Bm25IndexWriter`, `load` or `open`. */
  constructor(
    readonly params: Bm25Params,
    readonly fingerprint: string,
    private readonly terms: string[],
    private readonly docLengths: Uint32Array,
    /** Postings of term t are at [termOffsets[t], termOffsets[t+1]). */
    private readonly termOffsets: Uint32Array,
    private readonly blocks: BlockMaxima,
    private readonly source: PostingSource,
    /** The posting words when they are in memory (what `save` writes). */
    private readonly inMemory?: Uint32Array,
  ) {
    this.termIds = new Map(terms.map((term, i) => [term, i]));
    ({ idf: this.idf, lengthNorm: this.lengthNorm } = bm25Weights(params, docLengths, termOffsets));
    this.firstBlock = new Uint32Array(terms.length + 1);
    this.termMaxScore = new Float64Array(terms.length);
    for (let i = 0; i < terms.length; i++) {
      const first = this.firstBlock[i]!;
      const end = first + Math.ceil((termOffsets[i + 1]! - termOffsets[i]!) / BLOCK_SIZE);
      this.firstBlock[i + 1] = end;
      let max = 0;
      for (let b = first; b < end; b++) max = Math.max(max, blocks.maxScore[b]!);
      this.termMaxScore[i] = max;
    }
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

  /**
   * The top `k` documents for `query`, best first; ties go to the earlier document.
   *
   * Block-max MaxScore (Turtle & Flood 1995, "Query evaluation: strategies and optimizations";
   * with block bounds as in Ding & Suel 2011 and Mallia et al. 2019, "An Experimental Study of
   * Index Compression and DAAT Query Processing Methods"). Terms are ordered by their highest
   * score u_t. Once the top k is full with threshold θ (its k-th score), the terms whose summed
   * u_t ≤ θ are non-essential: a document they alone contain cannot enter, so documents are
   * visited only from the essential terms' lists. For each, the non-essential terms' block
   * bounds (in memory, nothing read) must lift its score above θ before their postings are
   * looked up, from the highest bound down, stopping as soon as what is left cannot. Documents
   * are visited in order, so a document that only ties θ is later than the k-th and never enters:
   * pruning at ≤ θ returns exactly the top k of scoring every document.
   */
  search(query: string, k: number): ScoredDocument[] {
    if (k <= 0) return [];
    const multiplicity = new Map<number, number>();
    for (const term of analyze(query)) {
      const t = this.termIds.get(term);
      if (t !== undefined) multiplicity.set(t, (multiplicity.get(t) ?? 0) + 1);
    }
    const terms = [...multiplicity]
      .map(([t, times]) => ({ t, weight: times * this.idf[t]!, bound: times * this.termMaxScore[t]! }))
      .sort((x, y) => x.bound - y.bound || x.t - y.t);
    const m = terms.length;
    const cursors = terms.map(
      ({ t }) =>
        new PostingCursor(
          this.source,
          this.termOffsets[t]!,
          this.termOffsets[t + 1]! - this.termOffsets[t]!,
          this.firstBlock[t]!,
          this.blocks.lastDoc,
          this.blocks.maxScore,
        ),
    );
    const weight = terms.map((x) => x.weight);
    const times = terms.map(({ t }) => multiplicity.get(t)!);
    // upper[i] = u_0 + … + u_i: the most the terms up to i add together.
    let sum = 0;
    const upper = terms.map((x) => (sum += x.bound));
    const blockUpper = new Float64Array(m);
    const k1 = this.params.k1;
    const lengthNorm = this.lengthNorm;
    const top = new TopK(k);
    let theta = Number.NEGATIVE_INFINITY;
    let essential = 0; // terms [essential, m) are essential
    let current = END;
    for (const c of cursors) {
      c.readAhead = WALK_READ_AHEAD;
      c.nextGEQ(0);
      current = Math.min(current, c.doc);
    }
    while (current < END && essential < m) {
      const d = current;
      let score = 0;
      let next = END;
      for (let i = essential; i < m; i++) {
        const c = cursors[i]!;
        if (c.doc === d) {
          const tf = c.tf();
          score += (weight[i]! * tf * (k1 + 1)) / (tf + lengthNorm[d]!);
          c.next();
        }
        if (c.doc < next) next = c.doc;
      }
      // The non-essential terms' bounds, cheapest first: whole terms, then their blocks at d.
      if (essential > 0 && score + upper[essential - 1]! <= theta) {
        current = next;
        continue;
      }
      // blockUpper[i]: the most the non-essential terms up to i add in their blocks at d.
      let blockSum = 0;
      for (let i = 0; i < essential; i++) {
        blockSum += times[i]! * cursors[i]!.blockMaxAt(d);
        blockUpper[i] = blockSum;
      }
      if (score + blockSum > theta) {
        for (let i = essential - 1; i >= 0; i--) {
          if (score + blockUpper[i]! <= theta) break;
          const c = cursors[i]!;
          c.nextGEQ(d);
          if (c.doc === d) {
            const tf = c.tf();
            score += (weight[i]! * tf * (k1 + 1)) / (tf + lengthNorm[d]!);
          }
        }
        if (score > theta) {
          top.offer(d, score);
          if (top.full) {
            theta = top.threshold;
            while (essential < m && upper[essential]! <= theta) {
              cursors[essential]!.readAhead = PROBE_READ_AHEAD;
              essential++;
            }
          }
        }
      }
      current = next;
    }
    return top.result();
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
      blockCount: this.blocks.lastDoc.length,
      terms: this.terms,
    };
    const arrays = [
      this.docLengths,
      this.termOffsets,
      this.blocks.lastDoc,
      this.blocks.maxScore,
      this.inMemory,
    ];
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

  /**
   * Loads an index saved by `save` into memory; `undefined` when none is there, or when it was
   * written by an older version of this code (a cache to rebuild). A corrupt one fails at once.
   */
  static load(dir: string, name = 'bm25'): Bm25Index | undefined {
    return Bm25Index.read(dir, name, 'memory');
  }

  /**
   * Opens an index saved by `save` with its postings left on disk: lengths, offsets, block
   * maxima and the vocabulary are read now, a term's blocks when a query needs them.
   * `close()` releases the file. `undefined` as for `load`.
   */
  static open(dir: string, name = 'bm25'): Bm25Index | undefined {
    return Bm25Index.read(dir, name, 'disk');
  }

  private static read(dir: string, name: string, where: 'memory' | 'disk'): Bm25Index | undefined {
    const jsonPath = path.join(dir, `${name}.json`);
    const binPath = path.join(dir, `${name}.bin`);
    if (!existsSync(jsonPath) || !existsSync(binPath)) return undefined;
    const header = JSON.parse(readFileSync(jsonPath, 'utf8')) as IndexHeader;
    if (header.format === FORMAT && header.version < FORMAT_VERSION) return undefined;
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
    const blocks = header.blockCount;
    const expectedBytes = 4 * (n + t + 1 + 2 * blocks + 2 * p);
    const actualBytes = statSync(binPath).size;
    if (actualBytes !== expectedBytes) {
      throw new RetrievalConfigError(
        'index_corrupt',
        `${binPath} has ${actualBytes} bytes, expected ${expectedBytes}`,
        'delete it to rebuild',
      );
    }
    // Copy into aligned buffers: Buffer pools may hand out unaligned offsets.
    const readWords = (fd: number, byteOffset: number, count: number) => {
      const out = new Uint32Array(count);
      const bytes = new Uint8Array(out.buffer);
      for (let done = 0; done < bytes.length; )
        done += readSync(fd, bytes, done, bytes.length - done, byteOffset + done);
      return out;
    };
    const fd = openSync(binPath, 'r');
    const postingsAt = 4 * (n + t + 1 + 2 * blocks);
    let docLengths: Uint32Array;
    let termOffsets: Uint32Array;
    let maxima: BlockMaxima;
    let source: PostingSource;
    let inMemory: Uint32Array | undefined;
    try {
      docLengths = readWords(fd, 0, n);
      termOffsets = readWords(fd, 4 * n, t + 1);
      maxima = {
        lastDoc: readWords(fd, 4 * (n + t + 1), blocks),
        maxScore: new Float32Array(readWords(fd, 4 * (n + t + 1 + blocks), blocks).buffer),
      };
      if (where === 'memory') {
        inMemory = readWords(fd, postingsAt, 2 * p);
        source = memoryPostings(inMemory);
      } else {
        source = filePostings(binPath, postingsAt);
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
      maxima,
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

  /** Whether `k` documents are kept. */
  get full(): boolean {
    return this.k > 0 && this.heap.length === this.k;
  }

  /** The score a document must beat to enter once full (the k-th best); −∞ before. */
  get threshold(): number {
    return this.full ? this.score.get(this.heap[0]!)! : Number.NEGATIVE_INFINITY;
  }

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

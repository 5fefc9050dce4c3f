import { analyze } from './analyzer.ts';
import { type Bm25Params, indexedText, type ScoredDocument, TopK } from './bm25-index.ts';
import type { RetrievalDocument } from './types.ts';

/**
 * Which inverse document frequency a BM25 uses. `lucene`: ln(1 + (N − df + 0.5)/(df + 0.5)),
 * never negative (Lucene, Pyserini, this package's index). `fts5`: SQLite FTS5's bm25(),
 * ln((N − df + 0.5)/(df + 0.5)), raised to 1e-6 where that is not positive (fts5_aux.c).
 */
export type Bm25Idf = 'lucene' | 'fts5';

/** A BM25 variant: its free parameters, its IDF, and what a document's length counts. */
export interface Bm25Scoring extends Bm25Params {
  idf: Bm25Idf;
  /** `terms` (default): every analysed term; `distinct-terms`: each term once (MiniSearch's choice). */
  documentLength?: 'terms' | 'distinct-terms';
}

/** SQLite FTS5's bm25(): k1 and b are compiled in (fts5_aux.c). */
export const FTS5_BM25_SCORING: Bm25Scoring = { k1: 1.2, b: 0.75, idf: 'fts5' };

export function inverseDocumentFrequency(variant: Bm25Idf, n: number, df: number): number {
  if (variant === 'lucene') return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  const idf = Math.log((n - df + 0.5) / (df + 0.5));
  return idf <= 0 ? 1e-6 : idf;
}

export interface ScanResult {
  /** The top k, best first; ties go to the earlier document. */
  top: ScoredDocument[];
  /** The exact score of each document asked for in `score` (0 when it matches nothing). */
  scoreOf: Map<number, number>;
}

/**
 * The brute-force BM25 baseline: every document is visited for every query, with no inverted
 * index — the reference that indexes are checked against and benches measure against. One pass
 * over the documents keeps, per document, its length and the counts of the queries' terms (so a
 * corpus need not fit in memory), then every document is scored against every query.
 * `score[q]` names documents whose exact score for query q is wanted as well (to check a
 * candidate's top k up to ties).
 */
export async function scanBm25(
  documents:
    | Iterable<Pick<RetrievalDocument, 'title' | 'text'>>
    | AsyncIterable<Pick<RetrievalDocument, 'title' | 'text'>>,
  queries: readonly string[],
  options: { k: number; scoring: Bm25Scoring; score?: ReadonlyArray<Iterable<number>> },
): Promise<ScanResult[]> {
  const { k1, b } = options.scoring;
  const distinct = options.scoring.documentLength === 'distinct-terms';
  // Query terms, each with the queries that have it and how often.
  const termIndex = new Map<string, number>();
  const users: Array<Array<{ query: number; times: number }>> = [];
  queries.forEach((query, q) => {
    const counts = new Map<string, number>();
    for (const term of analyze(query)) counts.set(term, (counts.get(term) ?? 0) + 1);
    for (const [term, times] of counts) {
      let t = termIndex.get(term);
      if (t === undefined) {
        t = users.length;
        termIndex.set(term, t);
        users.push([]);
      }
      users[t]!.push({ query: q, times });
    }
  });
  const lengths: number[] = [];
  const entryStart: number[] = [0];
  const entryTerm: number[] = [];
  const entryTf: number[] = [];
  const df = new Float64Array(users.length);
  for await (const doc of documents) {
    const tokens = analyze(indexedText(doc));
    lengths.push(distinct ? new Set(tokens).size : tokens.length);
    const counts = new Map<number, number>();
    for (const token of tokens) {
      const t = termIndex.get(token);
      if (t !== undefined) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const [t, tf] of counts) {
      entryTerm.push(t);
      entryTf.push(tf);
      df[t]!++;
    }
    entryStart.push(entryTerm.length);
  }
  const n = lengths.length;
  const avgdl = lengths.reduce((a, x) => a + x, 0) / Math.max(1, n) || 1;
  const idf = Array.from(df, (f) => inverseDocumentFrequency(options.scoring.idf, n, f));
  const tops = queries.map(() => new TopK(options.k));
  const wanted = queries.map((_, q) => new Set(options.score?.[q] ?? []));
  const scoreOf = queries.map(() => new Map<number, number>());
  const scores = new Float64Array(queries.length);
  for (let d = 0; d < n; d++) {
    const norm = k1 * (1 - b + (b * lengths[d]!) / avgdl);
    const hit: number[] = [];
    for (let e = entryStart[d]!; e < entryStart[d + 1]!; e++) {
      const t = entryTerm[e]!;
      const tf = entryTf[e]!;
      const part = (idf[t]! * tf * (k1 + 1)) / (tf + norm);
      for (const { query, times } of users[t]!) {
        if (scores[query] === 0) hit.push(query);
        scores[query]! += times * part;
      }
    }
    for (const q of hit) {
      tops[q]!.offer(d, scores[q]!);
      if (wanted[q]!.has(d)) scoreOf[q]!.set(d, scores[q]!);
      scores[q] = 0;
    }
  }
  return queries.map((_, q) => {
    for (const d of wanted[q]!) if (!scoreOf[q]!.has(d)) scoreOf[q]!.set(d, 0);
    return { top: tops[q]!.result(), scoreOf: scoreOf[q]! };
  });
}

/**
 * Whether a candidate's top k equals the scan's up to ties: the exact scores of the candidate's
 * documents, sorted, equal the scan's top-k scores within a relative `tolerance`. Documents of
 * equal score may come in any order and a tie at the k-th place may be broken either way; any
 * other difference is a disagreement.
 */
export function agreesUpToTies(candidate: readonly number[], scan: ScanResult, tolerance = 1e-9): boolean {
  if (candidate.length !== scan.top.length || new Set(candidate).size !== candidate.length) return false;
  const theirs = candidate.map((d) => scan.scoreOf.get(d) ?? Number.NaN).sort((a, b) => b - a);
  return theirs.every((s, i) => {
    const want = scan.top[i]!.score;
    return Math.abs(s - want) <= tolerance * Math.max(1, Math.abs(want));
  });
}

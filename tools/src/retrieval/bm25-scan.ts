import { analyze } from './analyzer.ts';
import {
  type Bm25Params,
  DEFAULT_BM25_PARAMS,
  indexedText,
  type ScoredDocument,
  topK,
} from './bm25-index.ts';
import type { RetrievalDocument } from './types.ts';

/**
 * The brute-force baseline: the same BM25 scores computed by visiting every document for every
 * query (no inverted index). Benches measure the index against it, tests check they agree.
 */
export class Bm25ScanBaseline {
  private readonly termCounts: Map<string, number>[];
  private readonly lengths: number[];
  private readonly documentFrequency = new Map<string, number>();
  private readonly avgdl: number;

  constructor(
    documents: readonly RetrievalDocument[],
    private readonly params: Bm25Params = DEFAULT_BM25_PARAMS,
  ) {
    this.termCounts = documents.map((doc) => {
      const counts = new Map<string, number>();
      for (const term of analyze(indexedText(doc))) counts.set(term, (counts.get(term) ?? 0) + 1);
      for (const term of counts.keys())
        this.documentFrequency.set(term, (this.documentFrequency.get(term) ?? 0) + 1);
      return counts;
    });
    this.lengths = this.termCounts.map((counts) => [...counts.values()].reduce((a, b) => a + b, 0));
    this.avgdl = this.lengths.reduce((a, b) => a + b, 0) / Math.max(1, documents.length) || 1;
  }

  search(query: string, k: number): ScoredDocument[] {
    const n = this.termCounts.length;
    const { k1, b } = this.params;
    const queryTerms = analyze(query);
    const scores = new Float64Array(n);
    const matched: number[] = [];
    for (let d = 0; d < n; d++) {
      const counts = this.termCounts[d]!;
      let score = 0;
      for (const term of queryTerms) {
        const tf = counts.get(term);
        if (tf === undefined) continue;
        const df = this.documentFrequency.get(term)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * this.lengths[d]!) / this.avgdl));
      }
      if (score > 0) {
        scores[d] = score;
        matched.push(d);
      }
    }
    return topK(matched, scores, k);
  }
}

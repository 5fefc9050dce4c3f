import { analyze } from './analyzer.ts';

/**
 * The passage of `text` that best shows why it matched: the sentence (or line) with the most
 * distinct query terms, earliest on ties, cut to `maxChars` around its first match.
 */
export function bestSnippet(text: string, query: string, maxChars = 240): string {
  const queryTerms = new Set(analyze(query));
  const passages = text
    .split(/\n+|(?<=[.!?])\s+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (passages.length === 0) return '';
  let best = passages[0]!;
  let bestHits = -1;
  for (const passage of passages) {
    const hits = new Set(analyze(passage).filter((t) => queryTerms.has(t))).size;
    if (hits > bestHits) {
      best = passage;
      bestHits = hits;
    }
  }
  if (best.length <= maxChars) return best;
  return `${best.slice(0, maxChars - 1).trimEnd()}…`;
}

import { answerTokens, normalizeAnswer } from './normalize.ts';

/**
 * Answer metrics against a list of gold aliases; each takes the best alias (any alias counts).
 * Definitions follow the SQuAD evaluation script and, for cover-EM, Search-R1's `cover_exact_match`.
 */

/** 1 when the normalised prediction equals some normalised gold answer, else 0. */
export function exactMatch(prediction: string, golds: readonly string[]): number {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p) ? 1 : 0;
}

/** Token-level F1 (SQuAD): overlap counted with multiplicity, best over aliases. */
export function tokenF1(prediction: string, golds: readonly string[]): number {
  const predicted = answerTokens(prediction);
  let best = 0;
  for (const gold of golds) best = Math.max(best, f1OfTokens(predicted, answerTokens(gold)));
  return best;
}

function f1OfTokens(predicted: string[], gold: string[]): number {
  // SQuAD: when either side is empty, F1 is 1 if both are empty, else 0.
  if (predicted.length === 0 || gold.length === 0) return predicted.length === gold.length ? 1 : 0;
  const goldCounts = new Map<string, number>();
  for (const t of gold) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of predicted) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      common++;
      goldCounts.set(t, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predicted.length;
  const recall = common / gold.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Cover-EM: 1 when some normalised gold answer occurs in the normalised prediction as a whole
 * word sequence ("in Paris, France" covers "Paris"; "Parisian" does not). An empty gold never covers.
 */
export function coverExactMatch(prediction: string, golds: readonly string[]): number {
  const p = ` ${normalizeAnswer(prediction)} `;
  return golds.some((g) => {
    const n = normalizeAnswer(g);
    return n !== '' && p.includes(` ${n} `);
  })
    ? 1
    : 0;
}

/**
 * F1 between the set of documents cited and the set that supports the answer: precision is the
 * share of citations that support it, recall the share of supporting documents cited. Citing every
 * result no longer pays like citing the right ones. 0 when either set is empty.
 */
export function citationF1(cited: Iterable<string>, supporting: Iterable<string>): number {
  const c = new Set(cited);
  const s = new Set(supporting);
  if (c.size === 0 || s.size === 0) return 0;
  let hit = 0;
  for (const id of c) if (s.has(id)) hit++;
  return hit === 0 ? 0 : (2 * hit) / (c.size + s.size);
}

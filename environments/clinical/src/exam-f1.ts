import type { TestCatalogue } from './catalogue.ts';

/**
 * Whether an ordered test covers a key exam: the same test, a panel that contains the key test
 * (a CBC covers "hemoglobin"), or a component of a key panel (a hemoglobin covers "cbc").
 */
export function covers(ordered: string, key: string, catalogue: TestCatalogue): boolean {
  if (ordered === key) return true;
  if (catalogue.get(ordered)?.components?.includes(key)) return true;
  return catalogue.get(key)?.components?.includes(ordered) ?? false;
}

export interface ExamScore {
  precision: number;
  recall: number;
  f1: number;
  matchedKeys: string[];
}

/**
 * DiagGym's examination-recommendation F1 between the set of ordered tests and the case's key
 * examinations: precision = ordered tests that cover some key exam / ordered; recall = key exams
 * covered / key exams. No orders → 0. A case with no key exams (an imported record that reports no
 * test) scores 1 when nothing was ordered, as both sets are equal, and 0 otherwise.
 */
export function examF1(
  ordered: readonly string[],
  keys: readonly string[],
  catalogue: TestCatalogue,
): ExamScore {
  const orderedSet = [...new Set(ordered)];
  const keySet = [...new Set(keys)];
  if (keySet.length === 0) {
    const f1 = orderedSet.length === 0 ? 1 : 0;
    return { precision: f1, recall: 1, f1, matchedKeys: [] };
  }
  if (orderedSet.length === 0) return { precision: 0, recall: 0, f1: 0, matchedKeys: [] };
  const useful = orderedSet.filter((o) => keySet.some((k) => covers(o, k, catalogue)));
  const matchedKeys = keySet.filter((k) => orderedSet.some((o) => covers(o, k, catalogue)));
  const precision = useful.length / orderedSet.length;
  const recall = matchedKeys.length / keySet.length;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, matchedKeys };
}

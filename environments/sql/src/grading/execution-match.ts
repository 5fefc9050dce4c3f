import type { SqlValue } from '../executor/messages.ts';

export type MatchSemantics = 'bird' | 'spider';

/**
 * One cell as a comparable key, equal exactly when Python's `==` finds the values equal, since
 * both official evaluators compare fetched rows in Python: INTEGER 1 and REAL 1.0 are equal,
 * 0.1 + 0.2 and 0.3 are not (no tolerance), text never equals a number ('1' ≠ 1), NULL equals
 * only NULL, blobs compare by content. A JavaScript number prints as the shortest text that
 * reads back to it, so two numbers share a key only when they are the same double.
 */
export function cellKey(value: SqlValue): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return `n:${value}`;
  if (typeof value === 'string') return `s:${value}`;
  return `b:${Buffer.from(value).toString('hex')}`;
}

const rowKey = (row: readonly string[]) => JSON.stringify(row);

/**
 * BIRD execution accuracy: the predicted and gold results are equal as *sets* of row tuples
 * — row order and duplicates ignored, column order significant.
 * (Li et al., "Can LLM Already Serve as A Database Interface? A BIg Bench for Large-Scale
 * Database Grounded Text-to-SQLs" (BIRD), NeurIPS 2023; evaluation.py: `set(predicted_res) == set(ground_truth_res)`.)
 */
export function birdMatch(gold: readonly SqlValue[][], predicted: readonly SqlValue[][]): boolean {
  const goldSet = new Set(gold.map((r) => rowKey(r.map(cellKey))));
  const predictedSet = new Set(predicted.map((r) => rowKey(r.map(cellKey))));
  if (goldSet.size !== predictedSet.size) return false;
  for (const key of goldSet) if (!predictedSet.has(key)) return false;
  return true;
}

/**
 * Spider's rule for when row order counts, as written in test-suite-sql-eval's `exec_eval.py`:
 * `'order by' in g_str.lower()` — the two words with one space, anywhere in the gold query.
 */
export function orderMatters(goldSql: string): boolean {
  return goldSql.toLowerCase().includes('order by');
}

/**
 * Spider execution accuracy as in the test-suite evaluation (Zhong, Yu & Klein, "Semantic
 * Evaluation for Text-to-SQL with Distilled Test Suites", EMNLP 2020; `result_eq` in
 * taoyds/test-suite-sql-eval): results are equal as *multisets* of rows, as ordered lists
 * when the gold query has ORDER BY, under some permutation of the predicted columns.
 */
export function spiderMatch(
  gold: readonly SqlValue[][],
  predicted: readonly SqlValue[][],
  ordered: boolean,
): boolean {
  if (gold.length === 0 && predicted.length === 0) return true;
  if (gold.length !== predicted.length) return false;
  const width = gold[0]?.length ?? 0;
  if ((predicted[0]?.length ?? 0) !== width) return false;
  const g = gold.map((r) => r.map(cellKey));
  const p = predicted.map((r) => r.map(cellKey));
  // A column can only map onto a column holding the same multiset of values.
  const signature = (rows: string[][], j: number) => JSON.stringify(rows.map((r) => r[j] ?? '').sort());
  const goldColumns = Array.from({ length: width }, (_, i) => signature(g, i));
  const predictedColumns = Array.from({ length: width }, (_, j) => signature(p, j));
  const candidates = goldColumns.map((sig) =>
    predictedColumns.flatMap((other, j) => (other === sig ? [j] : [])),
  );
  if (candidates.some((c) => c.length === 0)) return false;
  const goldRows = g.map(rowKey);
  const goldSorted = ordered ? goldRows : [...goldRows].sort();
  const permutation: number[] = [];
  const used = new Set<number>();
  let tried = 0;
  const search = (i: number): boolean => {
    if (i === width) {
      tried++;
      const rows = p.map((r) => rowKey(permutation.map((j) => r[j] ?? '')));
      const compared = ordered ? rows : rows.sort();
      return compared.every((row, k) => row === goldSorted[k]);
    }
    for (const j of candidates[i] ?? []) {
      if (used.has(j)) continue;
      used.add(j);
      permutation[i] = j;
      if (search(i + 1)) return true;
      used.delete(j);
      // Many identical columns make the permutations explode; the official code bounds them too.
      if (tried > 10_000) return false;
    }
    return false;
  };
  return search(0);
}

export function executionMatch(
  gold: readonly SqlValue[][],
  predicted: readonly SqlValue[][],
  semantics: MatchSemantics,
  goldSql: string,
): boolean {
  return semantics === 'bird'
    ? birdMatch(gold, predicted)
    : spiderMatch(gold, predicted, orderMatters(goldSql));
}

/**
 * The chance level of a set of tests: the share that the best constant answer passes (the most
 * common literal they expect). `expects` holds each test's literal key, or null.
 */
export function chanceLevel(expects: ReadonlyArray<string | null>): number {
  if (expects.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const key of expects) if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
  return Math.max(0, ...counts.values()) / expects.length;
}

/**
 * The share of tests passed beyond chance, `(p − c) / (1 − c)` clipped at 0, in the manner of
 * Cohen's kappa (Cohen 1960): a solution that always returns the tests' most common answer earns
 * nothing. When every test expects the same literal (`c = 1`), passing them is no evidence of
 * skill, and only passing every test of the task (`allPass`) counts.
 */
export function chanceCorrectedPassFraction(
  passed: number,
  total: number,
  chance: number,
  allPass: boolean,
): number {
  if (total === 0) return 0;
  if (chance >= 1) return allPass ? 1 : 0;
  return Math.max(0, (passed / total - chance) / (1 - chance));
}

/** Which of a task's graded tests count towards `pass_fraction`: those the prompt does not show (all, if it shows every one). */
export function unseenTests(hiddenTests: readonly string[], shownTests: readonly string[]): number[] {
  const shown = new Set(shownTests);
  const unseen = hiddenTests.flatMap((test, i) => (shown.has(test) ? [] : [i]));
  return unseen.length > 0 ? unseen : hiddenTests.map((_, i) => i);
}

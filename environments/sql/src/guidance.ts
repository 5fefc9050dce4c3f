import type { PredictedQuery } from './grading/sql-reward.ts';

/**
 * Agent-RLVR's guidance for a failed SQL attempt (Da et al. 2025: error feedback and a plan hint):
 * what went wrong with the submitted query — its execution error, or that it ran and returned
 * another result — and the tables the gold query reads, with their columns. It never shows
 * the gold query, its result or its row count: what the agent learns from the oracle is which
 * tables to use, and the schema it could already read with `describe_table`.
 */
export function sqlGuidance(
  submitted: PredictedQuery | undefined,
  tables: ReadonlyArray<{ name: string; columns: readonly string[] }>,
): string {
  const verdict = !submitted
    ? 'No query was submitted.'
    : submitted.error !== undefined
      ? `The submitted query did not run: ${submitted.error}`
      : `The submitted query ran and returned ${submitted.rows?.length ?? 0} row(s), but not the expected result.`;
  const plan =
    tables.length > 0
      ? `The answer uses ${tables.length === 1 ? 'this table' : `these ${tables.length} tables`}:\n${tables.map((t) => `${t.name}(${t.columns.join(', ')})`).join('\n')}`
      : '';
  return [verdict, plan].filter(Boolean).join('\n');
}

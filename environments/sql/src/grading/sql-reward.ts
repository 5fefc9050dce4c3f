import type { RewardBreakdown } from '@toolgym/protocol';
import type { RewardWeights } from '../config.ts';
import type { SqlValue } from '../executor/messages.ts';
import { executionMatch, type MatchSemantics } from './execution-match.ts';
import { ngramReward, schemaLinkingReward } from './partial-rewards.ts';

/** The answer as graded: the query, and either its rows or why it gave none. */
export interface PredictedQuery {
  sql: string;
  rows?: SqlValue[][];
  /** Set when the query was refused, failed, timed out or had too many rows to compare. */
  error?: string;
  /** It came through `submit_answer` (rather than being read from the final text). */
  submitted: boolean;
}

/** The components Reasoning-SQL defines, except its LLM-as-a-judge reward (no judge model here). */
export const REWARD_COMPONENTS = ['execution', 'syntax', 'schema_linking', 'ngram', 'format'] as const;

/**
 * The SQL reward after Reasoning-SQL (Pourreza et al., "Reasoning-SQL: Reinforcement Learning
 * with SQL Tailored Partial Rewards for Reasoning-Enhanced Text-to-SQL", 2025, arXiv:2503.23157, §3):
 *   execution      1 if the result equals the gold result (BIRD or Spider semantics)
 *   syntax         1 if the query executes
 *   schema_linking Jaccard of the tables and columns used, vs. the gold query
 *   ngram          Jaccard of token bigrams, vs. the gold query
 *   format         1 if the answer came through submit_answer as one statement
 * Execution dominates: a correct query earns every partial reward in full, so the partial
 * rewards only separate wrong answers from each other and can never lift a wrong answer to a
 * right one's level. `total` is the weighted sum divided by the sum of weights, in [0, 1].
 */
export function gradeSql(input: {
  goldSql: string;
  /** The gold query as it ran (Spider data: as its evaluator rewrites it); its ORDER BY decides Spider's row order. Default: `goldSql`. */
  executedGoldSql?: string;
  goldRows: SqlValue[][];
  predicted?: PredictedQuery;
  semantics: MatchSemantics;
  weights: RewardWeights;
}): RewardBreakdown {
  const { predicted, weights } = input;
  const weightSum = REWARD_COMPONENTS.reduce((sum, name) => sum + weights[name], 0);
  if (!predicted) {
    const components = Object.fromEntries(REWARD_COMPONENTS.map((name) => [name, 0]));
    return {
      total: 0,
      components,
      weights,
      info: { reason: 'no_answer', semantics: input.semantics, gold: input.goldSql },
    };
  }
  const executed = predicted.rows !== undefined;
  const execution =
    executed && executionMatch(input.goldRows, predicted.rows ?? [], input.semantics, input.executedGoldSql ?? input.goldSql) ? 1 : 0;
  const components = {
    execution,
    syntax: executed ? 1 : 0,
    schema_linking: schemaLinkingReward(predicted.sql, input.goldSql),
    ngram: ngramReward(predicted.sql, input.goldSql),
    format: predicted.submitted ? 1 : 0,
  };
  const credited = execution === 1 ? { ...components, syntax: 1, schema_linking: 1, ngram: 1 } : components;
  const weighted = REWARD_COMPONENTS.reduce((sum, name) => sum + weights[name] * credited[name], 0);
  return {
    total: weightSum > 0 ? weighted / weightSum : 0,
    components,
    weights,
    info: {
      semantics: input.semantics,
      gold: input.goldSql,
      predicted: predicted.sql,
      ...(predicted.error ? { error: predicted.error } : {}),
      ...(executed ? { rows: predicted.rows?.length, goldRows: input.goldRows.length } : {}),
    },
  };
}

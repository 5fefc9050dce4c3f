import { ToolGymError } from '@toolgym/protocol';

/**
 * Why a query did not give rows. Every code is model-visible: the tool returns it as an
 * `isError` result and the episode goes on.
 */
export type QueryErrorCode =
  /** Empty input. */
  | 'empty_query'
  /** A statement that could write, attach, load code or change the connection. */
  | 'sql_refused'
  /** SQLite rejected the query (syntax, unknown table or column, …). */
  | 'sql_error'
  /** It ran longer than the limit; its process was killed. */
  | 'query_timeout'
  /** The query process died (e.g. out of memory); a fresh one serves the next query. */
  | 'executor_crashed';

export class QueryError extends ToolGymError {
  constructor(
    override readonly code: QueryErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** The gold answer of a SQL task: the query, and which database it runs against. */
export interface SqlAnswer {
  sql: string;
  /** Database id: a built-in name, or a Spider/BIRD `db_id`. */
  database: string;
}

/** The prompt the agent sees: the question, the database, and how to answer. */
export function taskPrompt(input: {
  question: string;
  database: string;
  about?: string;
  evidence?: string;
}): string {
  const lines = [
    `Database: ${input.database}${input.about ? ` — ${input.about}` : ''} (SQLite).`,
    `Question: ${input.question}`,
  ];
  if (input.evidence) lines.push(`Hint: ${input.evidence}`);
  lines.push(
    'Explore the schema with list_tables and describe_table, try queries with execute_sql, then call submit_answer with one SQL query whose result answers the question.',
  );
  return lines.join('\n');
}

import type { QueryResult, SqlValue } from './executor/messages.ts';

/** How a cell reads in a text table: NULL spelled out, blobs summarised, long text cut. */
export function formatCell(value: SqlValue, maxChars: number): string {
  if (value === null) return 'NULL';
  if (value instanceof Uint8Array) return `<blob ${value.byteLength} bytes>`;
  const text = String(value).replace(/\s+/g, ' ');
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/**
 * A bounded, readable table: the row count first (so the model knows what it is looking at),
 * a header, at most `maxRows` rows, and an explicit marker when rows or cells were cut.
 */
export function formatResult(
  result: QueryResult,
  options: { maxRows: number; maxCellChars: number },
): string {
  const count = result.rowCountComplete ? `${result.rowCount}` : `at least ${result.rowCount}`;
  const shown = result.rows.slice(0, options.maxRows);
  const lines = [
    `${count} row${result.rowCount === 1 ? '' : 's'}${shown.length < result.rowCount ? ` (showing the first ${shown.length})` : ''}`,
  ];
  if (result.columns.length === 0) return lines[0] as string;
  const cells = shown.map((row) => row.map((v) => formatCell(v, options.maxCellChars)));
  const widths = result.columns.map((name, i) =>
    Math.min(options.maxCellChars, Math.max(name.length, ...cells.map((r) => (r[i] ?? '').length))),
  );
  const line = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  lines.push(line(result.columns), widths.map((w) => '-'.repeat(w)).join('-+-'));
  for (const row of cells) lines.push(line(row));
  if (shown.length < result.rowCount)
    lines.push(
      `[truncated: ${result.rowCountComplete ? `${result.rowCount - shown.length} more` : 'more'} rows not shown]`,
    );
  if (result.cellsCut) lines.push('[some long values were cut]');
  return lines.join('\n');
}

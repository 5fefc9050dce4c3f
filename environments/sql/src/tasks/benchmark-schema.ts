import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatZodIssues } from '@toolgym/env-kit';
import { z } from 'zod';
import { parseCsv } from './csv.ts';

/**
 * One database of a `tables.json` (Spider's `tables.json`, BIRD's `dev_tables.json` and
 * `train_tables.json`): columns are `[table index, name]` with `[-1, "*"]` first; keys are column
 * indexes. BIRD writes a composite primary key as a nested array.
 */
const TablesEntrySchema = z.object({
  db_id: z.string(),
  table_names_original: z.array(z.string()),
  table_names: z.array(z.string()).optional(),
  column_names_original: z.array(z.tuple([z.number().int(), z.string()])),
  column_names: z.array(z.tuple([z.number().int(), z.string()])).optional(),
  column_types: z.array(z.string()).optional(),
  primary_keys: z.array(z.union([z.number().int(), z.array(z.number().int())])).default([]),
  foreign_keys: z.array(z.tuple([z.number().int(), z.number().int()])).default([]),
});
export type TablesEntry = z.infer<typeof TablesEntrySchema>;

/** A column's meaning from BIRD's `database_description/<table>.csv`. */
export interface ColumnDescription {
  column: string;
  name: string;
  description: string;
  format: string;
  values: string;
}

/** What a benchmark release says about a database beyond its SQLite file. */
export interface DatabaseDocs {
  /** Its `tables.json` entry, when the release has one. */
  tables?: TablesEntry;
  /** BIRD's column descriptions, by lower-cased table name, then lower-cased column name. */
  descriptions: Map<string, Map<string, ColumnDescription>>;
}

/** Every `tables.json` entry of the files given (missing files skipped), by `db_id`. */
export function readTablesJson(files: readonly string[]): Map<string, TablesEntry> {
  const entries = new Map<string, TablesEntry>();
  for (const file of files) {
    if (!existsSync(file)) continue;
    const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(raw))
      throw new ConfigError(`${file} is not a JSON array of databases`, 'use the tables.json of the release');
    raw.forEach((item, index) => {
      const parsed = TablesEntrySchema.safeParse(item);
      if (!parsed.success)
        throw new ConfigError(
          `${path.basename(file)}[${index}] is not a tables.json database: ${formatZodIssues(parsed.error)}`,
          'each entry needs db_id, table_names_original, column_names_original and index-based keys',
        );
      if (!entries.has(parsed.data.db_id)) entries.set(parsed.data.db_id, parsed.data);
    });
  }
  return entries;
}

/** Text in UTF-8, or Windows-1252 when it is not valid UTF-8 (some BIRD description files); a BOM is dropped. */
function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

const HEADER_ALIASES: Record<string, keyof ColumnDescription> = {
  original_column_name: 'column',
  column_name: 'name',
  column_description: 'description',
  data_format: 'format',
  value_description: 'values',
};

/**
 * BIRD's `database_description/*.csv` next to a database file: one file per table (the file name
 * is the table name, in any case), one row per column with `original_column_name,
 * column_name, column_description, data_format, value_description`. Headers are matched without
 * case or surrounding space; rows without a column name are skipped; cells are trimmed.
 */
export function readColumnDescriptions(databaseFile: string): Map<string, Map<string, ColumnDescription>> {
  const dir = path.join(path.dirname(databaseFile), 'database_description');
  const tables = new Map<string, Map<string, ColumnDescription>>();
  if (!existsSync(dir)) return tables;
  for (const file of readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.csv'))
    .sort()) {
    const rows = parseCsv(decodeText(readFileSync(path.join(dir, file))));
    const header = (rows[0] ?? []).map((h) => HEADER_ALIASES[h.trim().toLowerCase()]);
    if (!header.includes('column')) continue;
    const columns = new Map<string, ColumnDescription>();
    for (const row of rows.slice(1)) {
      const entry: ColumnDescription = { column: '', name: '', description: '', format: '', values: '' };
      header.forEach((key, i) => {
        if (key) entry[key] = (row[i] ?? '').replace(/\s+/g, ' ').trim();
      });
      if (entry.column) columns.set(entry.column.toLowerCase(), entry);
    }
    tables.set(file.slice(0, -4).trim().toLowerCase(), columns);
  }
  return tables;
}

/** Lines that `describe_table` adds for one table: keys and column names from tables.json, BIRD's column meanings. */
export function tableNotes(docs: DatabaseDocs, table: string): string[] {
  const lines: string[] = [];
  const entry = docs.tables;
  const index = entry?.table_names_original.findIndex((t) => t.toLowerCase() === table.toLowerCase()) ?? -1;
  if (entry && index >= 0) {
    const columnName = (i: number) => {
      const [t, c] = entry.column_names_original[i] ?? [-1, '?'];
      return t === index ? c : `${entry.table_names_original[t] ?? '?'}.${c}`;
    };
    const own = entry.column_names_original.flatMap(([t], i) => (t === index ? [i] : []));
    const described = own.map((i) => {
      const natural = entry.column_names?.[i]?.[1];
      const type = entry.column_types?.[i];
      const extra = [
        type,
        natural && natural.toLowerCase() !== columnName(i).toLowerCase() ? `"${natural}"` : undefined,
      ].filter(Boolean);
      return extra.length > 0 ? `${columnName(i)} (${extra.join(', ')})` : columnName(i);
    });
    lines.push(`Columns (tables.json): ${described.join(', ')}`);
    const keys = entry.primary_keys
      .map((k) => (Array.isArray(k) ? k : [k]))
      .filter((k) => k.some((i) => own.includes(i)));
    if (keys.length > 0)
      lines.push(`Primary key: ${keys.map((k) => k.map(columnName).join(' + ')).join('; ')}`);
    const foreign = entry.foreign_keys.filter(([from]) => own.includes(from));
    if (foreign.length > 0) {
      const target = (i: number) => {
        const [t, c] = entry.column_names_original[i] ?? [-1, '?'];
        return `${entry.table_names_original[t] ?? '?'}.${c}`;
      };
      lines.push(
        `Foreign keys: ${foreign.map(([from, to]) => `${columnName(from)} → ${target(to)}`).join(', ')}`,
      );
    }
  }
  const meanings = docs.descriptions.get(table.toLowerCase());
  if (meanings && meanings.size > 0) {
    lines.push('Column meanings (database_description):');
    for (const d of meanings.values()) {
      const parts = [
        d.name && d.name.toLowerCase() !== d.column.toLowerCase() ? d.name : '',
        d.description,
        d.values ? `values: ${d.values}` : '',
      ].filter(Boolean);
      lines.push(`  ${d.column}${parts.length > 0 ? ` — ${parts.join('; ')}` : ''}`);
    }
  }
  return lines;
}

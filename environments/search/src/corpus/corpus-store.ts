import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ToolGymError } from '@toolgym/protocol';
import type { RetrievalDocument } from '@toolgym/tools';
import { canonicalUrl } from './corpus-url.ts';

/** Writes documents as JSONL (one `{id, title, url, text}` per line), atomically. */
export function saveDocuments(file: string, documents: readonly RetrievalDocument[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, `${documents.map((d) => JSON.stringify(d)).join('\n')}\n`);
  renameSync(tmp, file);
}

export function loadDocuments(file: string): RetrievalDocument[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RetrievalDocument);
}

/** A file the corpus loader could not read, with the line that is wrong. */
export class CorpusFormatError extends ToolGymError {
  constructor(file: string, line: number, problem: string) {
    super(
      'corpus_format',
      `${file}:${line}: ${problem}`,
      'a corpus line is {"id": "...", "contents": "\\"Title\\"\\nBody text"} (the Search-R1 / FlashRAG format)',
    );
  }
}

/**
 * Reads a corpus in the format of Search-R1 and FlashRAG (e.g. their Wikipedia dumps) one
 * passage at a time: JSONL, `{"id": ..., "contents": "\"Title\"\nText"}` — the first line of
 * `contents` is the title (quoted in their files; the quotes are dropped), the rest the text, as
 * Search-R1's retrieval server splits it. Also accepts `title` + `text` fields. Blank lines are
 * skipped; anything else that is not a passage fails with its line number.
 */
export async function* readSearchR1Corpus(
  file: string,
  options: { limit?: number } = {},
): AsyncGenerator<RetrievalDocument> {
  if (!existsSync(file)) throw new CorpusFormatError(file, 0, 'file not found');
  const seen = new Set<string>();
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  let count = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    let row: { id?: unknown; contents?: unknown; title?: unknown; text?: unknown };
    try {
      row = JSON.parse(line);
    } catch {
      throw new CorpusFormatError(file, lineNumber, 'not valid JSON');
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new CorpusFormatError(file, lineNumber, 'a line must be a JSON object');
    }
    if (row.id === undefined || (typeof row.id !== 'string' && typeof row.id !== 'number')) {
      throw new CorpusFormatError(file, lineNumber, "missing 'id' (string or number)");
    }
    const id = String(row.id);
    if (seen.has(id)) throw new CorpusFormatError(file, lineNumber, `duplicate id '${id}'`);
    seen.add(id);
    let title: string;
    let text: string;
    if (typeof row.contents === 'string') {
      const newline = row.contents.indexOf('\n');
      title = unquoteTitle((newline === -1 ? row.contents : row.contents.slice(0, newline)).trim()) || id;
      text = newline === -1 ? '' : row.contents.slice(newline + 1).trim();
    } else if (typeof row.text === 'string') {
      title = typeof row.title === 'string' ? row.title : id;
      text = row.text;
    } else {
      throw new CorpusFormatError(file, lineNumber, "missing 'contents' (string)");
    }
    yield { id, title, url: canonicalUrl(id), text };
    count++;
    if (options.limit !== undefined && count >= options.limit) {
      lines.close();
      return;
    }
  }
  if (count === 0) throw new CorpusFormatError(file, lineNumber, 'the file holds no passages');
}

/**
 * A title line without the quotes around it: one pair (`""Heroes" (album)"` → `"Heroes" (album)`),
 * or a lone quote at either end.
 */
function unquoteTitle(line: string): string {
  return /^".*"$/.test(line) && line.length >= 2 ? line.slice(1, -1) : line.replace(/^"|"$/g, '');
}

/** `readSearchR1Corpus`, all passages in memory. */
export async function loadSearchR1Corpus(
  file: string,
  options: { limit?: number } = {},
): Promise<RetrievalDocument[]> {
  const documents: RetrievalDocument[] = [];
  for await (const doc of readSearchR1Corpus(file, options)) documents.push(doc);
  return documents;
}

/** Passages in a Search-R1 file (non-blank lines), counted without parsing them. */
export async function countPassages(file: string, limit?: number): Promise<number> {
  if (!existsSync(file)) throw new CorpusFormatError(file, 0, 'file not found');
  let count = 0;
  let blank = true;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === 10) {
        if (!blank) count++;
        blank = true;
      } else if (byte !== 13 && byte !== 32 && byte !== 9) blank = false;
    }
  }
  if (!blank) count++;
  return limit === undefined ? count : Math.min(count, limit);
}

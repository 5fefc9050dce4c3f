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
 * Reads a corpus in the format of Search-R1 and FlashRAG (e.g. their Wikipedia dumps): JSONL,
 * one passage per line, `{"id": ..., "contents": "\"Title\"\nText"}` — the first line of
 * `contents` is the title (often quoted). Also accepts `title` + `text` fields when present.
 */
export async function loadSearchR1Corpus(
  file: string,
  options: { limit?: number } = {},
): Promise<RetrievalDocument[]> {
  if (!existsSync(file)) throw new CorpusFormatError(file, 0, 'file not found');
  const documents: RetrievalDocument[] = [];
  const seen = new Set<string>();
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    let row: { id?: unknown; contents?: unknown; title?: unknown; text?: unknown };
    try {
      row = JSON.parse(line);
    } catch {
      throw new CorpusFormatError(file, lineNumber, 'not valid JSON');
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
      title = (newline === -1 ? row.contents : row.contents.slice(0, newline))
        .trim()
        .replace(/^"(.*)"$/, '$1');
      text = newline === -1 ? '' : row.contents.slice(newline + 1).trim();
    } else if (typeof row.text === 'string') {
      title = typeof row.title === 'string' ? row.title : id;
      text = row.text;
    } else {
      throw new CorpusFormatError(file, lineNumber, "missing 'contents' (string)");
    }
    documents.push({ id, title, url: canonicalUrl(id), text });
    if (options.limit !== undefined && documents.length >= options.limit) {
      lines.close();
      break;
    }
  }
  if (documents.length === 0) throw new CorpusFormatError(file, lineNumber, 'the file holds no passages');
  return documents;
}

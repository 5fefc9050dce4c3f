import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { en, Faker } from '@faker-js/faker';
import { Rng, type Task } from '@toolgym/protocol';
import type { RetrievalDocument } from '@toolgym/tools';
import type { SearchAnswer, SearchTaskMeta } from '../tasks/search-answer.ts';
import { glossDefinition, readNounSynsets } from './wordnet-glosses.ts';

/** Words per passage, as in the 100-word passages of the Wikipedia dumps Search-R1 and DPR use. */
const PASSAGE_WORDS = 100;

export interface SyntheticCorpusOptions {
  /** Passages in all, the world's documents included. */
  passages: number;
  seed: number;
}

/** What was written: the corpus and the question file, and the id each world document got. */
export interface SyntheticCorpusFiles {
  corpus: string;
  qa: string;
  passages: number;
}

/**
 * Writes a corpus in Search-R1's format (JSONL, `{"id": "<row>", "contents": "\"Title\"\nText"}`,
 * ids as row numbers, ~100-word passages, the first passage of an article opening with its
 * title, later ones mid-article) and a question file for it (`{id, question, golden_answers,
 * split, supporting_docs}`). The first passages are the fictional world's documents, one each;
 * the rest are articles about invented people, places and things written from faker's name
 * parts and WordNet's glosses, so the vocabulary and its frequencies are those of English prose.
 * Written to temporary names and renamed, so a half-written corpus is never used.
 */
export function writeSyntheticCorpus(
  dir: string,
  world: { documents: readonly RetrievalDocument[]; tasks: readonly Task[] },
  options: SyntheticCorpusOptions,
): SyntheticCorpusFiles {
  mkdirSync(dir, { recursive: true });
  const corpus = path.join(dir, 'corpus.jsonl');
  const qa = path.join(dir, 'qa.jsonl');
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  const rowOf = new Map<string, string>();
  const out = new LineWriter(`${corpus}${tmp}`);
  let row = 0;
  const write = (title: string, text: string) => {
    out.line(JSON.stringify({ id: String(row), contents: `"${title}"\n${text}` }));
    row++;
  };
  for (const doc of world.documents) {
    if (row >= options.passages) break;
    rowOf.set(doc.id, String(row));
    write(doc.title, doc.text.replace(/\n+/g, ' '));
  }
  const articles = new ArticleWriter(options.seed);
  while (row < options.passages) {
    const { title, chunks } = articles.next();
    for (const chunk of chunks) {
      if (row >= options.passages) break;
      write(title, chunk);
    }
  }
  out.close();

  const qaOut = new LineWriter(`${qa}${tmp}`);
  for (const task of world.tasks) {
    const gold = task.answer as SearchAnswer;
    const supporting = gold.supportingDocs.map((id) => rowOf.get(id));
    if (supporting.some((id) => id === undefined)) continue;
    qaOut.line(
      JSON.stringify({
        id: task.id,
        question: (task.meta as unknown as SearchTaskMeta).question,
        golden_answers: gold.answers,
        split: task.split,
        supporting_docs: supporting,
      }),
    );
  }
  qaOut.close();
  renameSync(`${corpus}${tmp}`, corpus);
  renameSync(`${qa}${tmp}`, qa);
  return { corpus, qa, passages: row };
}

/** Lines to a file through a 4 MiB buffer. */
class LineWriter {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }

  line(text: string): void {
    this.parts.push(text, '\n');
    this.size += text.length + 1;
    if (this.size > 4 << 20) this.flush();
  }

  private flush(): void {
    writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

const KINDS = ['person', 'place', 'company', 'thing'] as const;

/** Invented encyclopedia articles: a title and its text cut into ~100-word passages. */
class ArticleWriter {
  private readonly rng: Rng;
  private readonly faker = new Faker({ locale: [en] });
  private readonly glosses: Array<{ word: string; definition: string }>;
  private readonly lastNames: readonly string[];
  private readonly firstNames: readonly string[];
  private readonly suffixes: readonly string[];

  constructor(seed: number) {
    this.rng = new Rng(seed * 31 + 5);
    this.faker.seed(seed + 99);
    this.glosses = readNounSynsets()
      .filter((s) => s.gloss.length >= 30)
      .map((s) => ({ word: s.words[0]!, definition: glossDefinition(s.gloss) }));
    const person = this.faker.definitions.person;
    this.lastNames = (person.last_name as { generic?: string[] }).generic ?? [];
    this.firstNames = (person.first_name as { generic?: string[] }).generic ?? [];
    this.suffixes = this.faker.definitions.location.city_suffix;
  }

  private person(): string {
    return `${this.rng.pick(this.firstNames)} ${this.rng.pick(this.lastNames)}`;
  }

  private place(): string {
    return `${this.rng.pick(this.lastNames)}${this.rng.pick(this.suffixes)}`;
  }

  private year(): number {
    return this.rng.int(1200, 2020);
  }

  private thing(): { word: string; definition: string } {
    return this.rng.pick(this.glosses);
  }

  /** One sentence about `subject`, from a handful of encyclopedic frames. */
  private sentence(subject: string): string {
    const t = this.thing();
    switch (this.rng.int(0, 7)) {
      case 0:
        return `In ${this.year()}, ${subject} moved to ${this.place()}, where ${this.person()} ran a workshop.`;
      case 1:
        return `The ${t.word} is ${t.definition}.`;
      case 2:
        return `${subject} is often linked with the ${t.word}, ${t.definition}.`;
      case 3:
        return `According to ${this.person()}, the ${this.thing().word} of ${this.place()} was first described in ${this.year()}.`;
      case 4:
        return `A ${t.word} (${t.definition}) stands near the ${this.thing().word} of ${this.place()}.`;
      case 5:
        return `Records from ${this.year()} mention ${subject} beside ${this.person()} and ${this.person()}.`;
      case 6:
        return `Its ${this.thing().word} was rebuilt in ${this.year()} by ${this.faker.company.name()}.`;
      default:
        return `Later accounts compare it to a ${t.word}: ${t.definition}.`;
    }
  }

  next(): { title: string; chunks: string[] } {
    const kind = this.rng.pick(KINDS);
    const topic = this.thing();
    const title =
      kind === 'person'
        ? this.person()
        : kind === 'place'
          ? this.place()
          : kind === 'company'
            ? this.faker.company.name()
            : topic.word.replace(/^./, (c) => c.toUpperCase());
    const opening =
      kind === 'person'
        ? `${title} (born ${this.year()}) is a ${this.faker.person.jobTitle().toLowerCase()} from ${this.place()}.`
        : kind === 'place'
          ? `${title} is a town in the region of ${this.place()}, first recorded in ${this.year()}.`
          : kind === 'company'
            ? `${title} is a company founded in ${this.year()} by ${this.person()}.`
            : `${title}: ${topic.definition}.`;
    const words: string[] = `${title} ${opening}`.split(' ');
    const length = PASSAGE_WORDS * this.rng.int(1, 4) - this.rng.int(0, 40);
    while (words.length < length) words.push(...this.sentence(title).split(' '));
    const chunks: string[] = [];
    for (let at = 0; at < words.length; at += PASSAGE_WORDS)
      chunks.push(words.slice(at, at + PASSAGE_WORDS).join(' '));
    return { title, chunks };
  }
}

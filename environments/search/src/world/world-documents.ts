import { hashString, Rng } from '@toolgym/protocol';
import type { RetrievalDocument } from '@toolgym/tools';
import { canonicalUrl } from '../corpus/corpus-url.ts';
import { slug } from '../corpus/generate-corpus.ts';
import {
  glossDefinition,
  readNounSynsets,
  type Synset,
  wordnetDocuments,
} from '../corpus/wordnet-glosses.ts';
import type { Book, City, Company, Country, Person, Region, University, World } from './world.ts';
import { entitiesOf, WorldIndex } from './world.ts';

/** 3 → 'March'. */
const monthName = (month: number) =>
  new Date(Date.UTC(2000, month - 1, 1)).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });

/** '1962-03-14' → '14 March 1962'. */
export function longDate(isoDate: string): string {
  const [year, month, day] = isoDate.split('-').map(Number);
  return `${day} ${monthName(month!)} ${year}`;
}

/** The spellings of a date an answer may use: '14 March 1962', 'March 14, 1962', '1962-03-14'. */
export function dateAliases(isoDate: string): string[] {
  const [year, month, day] = isoDate.split('-').map(Number);
  return [longDate(isoDate), `${monthName(month!)} ${day}, ${year}`, isoDate];
}

/**
 * Each relation is stated in one document only, its subject's: a company's page names its
 * founder, the founder's page never names the company. That is what makes a chain of relations
 * a chain of documents. Around the facts, sentences built from WordNet glosses make the text
 * read like prose and give BM25 near misses.
 */
export class WorldDocuments {
  readonly index: WorldIndex;
  /** Document id of each entity (`person/imani-donnelly`). */
  private readonly docIdOf = new Map<string, string>();
  private readonly glosses: readonly Synset[];

  constructor(readonly world: World) {
    this.index = new WorldIndex(world);
    const taken = new Set<string>();
    for (const entity of entitiesOf(world)) {
      const kind = entity.id.split('/')[0]!;
      const base = `${kind}/${slug(this.index.nameOf(entity.id))}`;
      let id = base;
      for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
      taken.add(id);
      this.docIdOf.set(entity.id, id);
    }
    this.glosses = readNounSynsets().filter((s) => s.gloss.length >= 40 && s.words[0]!.length > 2);
  }

  /** The document that describes entity `id`. */
  docId(entityId: string): string {
    const id = this.docIdOf.get(entityId);
    if (!id) throw new Error(`no document for entity ${entityId}`);
    return id;
  }

  /** Every entity's document, then `distractors` WordNet gloss documents, in a fixed order. */
  documents(options: { distractors: number }): RetrievalDocument[] {
    const w = this.world;
    const docs = [
      ...w.countries.map((c) => this.country(c)),
      ...w.regions.map((r) => this.region(r)),
      ...w.cities.map((c) => this.city(c)),
      ...w.people.map((p) => this.person(p)),
      ...w.companies.map((c) => this.company(c)),
      ...w.universities.map((u) => this.university(u)),
      ...w.books.map((b) => this.book(b)),
    ];
    return [...docs, ...wordnetDocuments(options.distractors, new Set())];
  }

  private name(id: string): string {
    return this.index.nameOf(id);
  }

  /** Sentences of prose about WordNet things, the same for the same entity. */
  private filler(entityId: string, count: number, frame: (thing: string, gloss: string) => string): string[] {
    const rng = new Rng(hashString(`${this.world.seed}:${entityId}`));
    return Array.from({ length: count }, () => {
      const s = rng.pick(this.glosses);
      return frame(s.words[0]!, glossDefinition(s.gloss));
    });
  }

  private doc(entityId: string, title: string, paragraphs: string[]): RetrievalDocument {
    const id = this.docId(entityId);
    return { id, title, url: canonicalUrl(id), text: paragraphs.filter((p) => p.length > 0).join('\n\n') };
  }

  private country(c: Country): RetrievalDocument {
    return this.doc(c.id, c.name, [
      `${c.name} is a country that became independent in ${c.independence}. Its capital is ${this.name(c.capital)}.`,
      `The currency of ${c.name} is the ${c.currency}, and its official language is ${c.language}.`,
      this.filler(c.id, 2, (t, g) => `Much of its trade depends on the ${t}, that is, ${g}.`).join(' '),
    ]);
  }

  private region(r: Region): RetrievalDocument {
    return this.doc(r.id, r.name, [
      `${r.name} is a region of ${this.name(r.country)}. Its administrative seat is ${this.name(r.seat)}.`,
      this.filler(r.id, 2, (t, g) => `The region is known for the ${t} (${g}).`).join(' '),
    ]);
  }

  private city(c: City): RetrievalDocument {
    return this.doc(c.id, c.name, [
      `${c.name} is a city in ${this.name(c.region)}. It was founded in ${c.founded} and has about ${c.population.toLocaleString('en-US')} inhabitants.`,
      this.filler(c.id, 2, (t, g) => `Visitors often mention its ${t}: ${g}.`).join(' '),
    ]);
  }

  private person(p: Person): RetrievalDocument {
    const He = p.pronoun === 'she' ? 'She' : 'He';
    const facts = [
      `${p.name} (born ${longDate(p.born)} in ${this.name(p.birthplace)}) is a ${p.occupation}.`,
      p.almaMater ? `${He} studied at ${this.name(p.almaMater)}.` : '',
      p.employer ? `${He} works for ${this.name(p.employer)}.` : '',
      p.spouse ? `${He} is married to ${this.name(p.spouse)}.` : '',
    ];
    return this.doc(p.id, p.name, [
      facts.filter(Boolean).join(' '),
      this.filler(p.id, 2, (t, g) => `${He} has written about the ${t}, ${g}.`).join(' '),
    ]);
  }

  private company(c: Company): RetrievalDocument {
    return this.doc(c.id, c.name, [
      `${c.name} is a ${c.industry} company founded in ${c.founded} by ${this.name(c.founder)}. Its headquarters are in ${this.name(c.headquarters)}.`,
      `Its chief executive is ${this.name(c.ceo)}.${c.parent ? ` It is a subsidiary of ${this.name(c.parent)}.` : ''}`,
      this.filler(c.id, 2, (t, g) => `One of its product lines is built around the ${t} (${g}).`).join(' '),
    ]);
  }

  private university(u: University): RetrievalDocument {
    return this.doc(u.id, u.name, [
      `${u.name} is a university in ${this.name(u.city)}, founded in ${u.founded}.`,
      this.filler(u.id, 2, (t, g) => `Its best-known department studies the ${t}: ${g}.`).join(' '),
    ]);
  }

  private book(b: Book): RetrievalDocument {
    return this.doc(b.id, b.title, [
      `${b.title} is a book by ${this.name(b.author)}, published in ${b.year} by ${this.name(b.publisher)}.`,
      this.filler(b.id, 2, (t, g) => `It tells of a ${t}, ${g}.`).join(' '),
    ]);
  }
}

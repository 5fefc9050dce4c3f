import type { RetrievalDocument } from '@toolgym/tools';
import { canonicalUrl } from './corpus-url.ts';
import { wordnetDocuments } from './wordnet-glosses.ts';
import type {
  CountryFacts,
  CurrencyFacts,
  LanguageFacts,
  SubregionFacts,
  WorldFacts,
} from './world-facts.ts';

/**
 * Document ids of the generated corpus. Facts are spread over documents on purpose so that
 * multi-hop questions need several of them: a country article never names its capital (the
 * city article does), nor its currency's code or its languages' codes (their own articles do).
 */
export const docIds = {
  country: (c: CountryFacts) => `country/${c.code}`,
  city: (c: CountryFacts, capital: string) => `city/${c.code}-${slug(capital)}`,
  language: (l: LanguageFacts) => `language/${l.key}`,
  currency: (code: string) => `currency/${code.toLowerCase()}`,
  subregion: (s: SubregionFacts) => `region/${slug(s.name)}`,
};

export function slug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** "A", "A and B", "A, B and C". */
export function listPhrase(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const doc = (id: string, title: string, paragraphs: string[]): RetrievalDocument => ({
  id,
  title,
  url: canonicalUrl(id),
  text: paragraphs.filter((p) => p.length > 0).join('\n\n'),
});

function countryDocument(c: CountryFacts): RetrievalDocument {
  const kind = c.independent ? 'a sovereign country' : 'a territory';
  const intro = `${c.name} (officially the ${c.official}) is ${kind} in ${c.subregion}, part of the ${c.region} region${c.continent ? ` on the continent of ${c.continent}` : ''}.`;
  const languages =
    c.languages.length === 0
      ? ''
      : c.languages.length === 1
        ? `The official language of ${c.name} is ${c.languages[0]}.`
        : `${c.name} has ${c.languages.length} official languages: ${listPhrase(c.languages)}.`;
  const currencies =
    c.currencies.length === 0
      ? `${c.name} has no currency of its own.`
      : c.currencies.length === 1
        ? `The currency used in ${c.name} is the ${c.currencies[0]!.name}.`
        : `Currencies used in ${c.name}: ${listPhrase(c.currencies.map((x) => x.name))}.`;
  const geography = [
    c.borders.length > 0
      ? `It shares land borders with ${listPhrase(c.borders)}.`
      : `It has no land borders.`,
    c.landlocked ? `${c.name} is landlocked.` : '',
    `Its area is about ${Math.round(c.area).toLocaleString('en-US')} square kilometres.`,
  ]
    .filter(Boolean)
    .join(' ');
  const people = c.demonym ? `People from ${c.name} are called ${c.demonym}.` : '';
  const codes = [
    c.tlds.length > 0 ? `Internet domain: ${c.tlds.join(', ')}.` : '',
    c.callingCodes.length > 0 ? `International calling code: ${c.callingCodes.join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return doc(docIds.country(c), c.name, [
    intro,
    `${languages} ${currencies}`.trim(),
    geography,
    `${people} ${codes}`.trim(),
  ]);
}

function cityDocument(c: CountryFacts, capital: string): RetrievalDocument {
  const role =
    c.capitals.length > 1
      ? `one of the ${c.capitals.length} capital cities of ${c.name}`
      : `the capital city of ${c.name}`;
  return doc(docIds.city(c, capital), capital, [
    `${capital} is ${role}.`,
    `As the seat of government, ${capital} hosts the national institutions of ${c.name} and its foreign embassies.`,
  ]);
}

function languageDocument(l: LanguageFacts): RetrievalDocument {
  const codes = [`ISO 639-3 code ${l.key}`, ...(l.iso6391 ? [`ISO 639-1 code ${l.iso6391}`] : [])].join(', ');
  const native = l.native && l.native !== l.name ? ` Its speakers call it ${l.native}.` : '';
  const where =
    l.countries.length === 1
      ? `${l.name} is an official language of ${l.countries[0]}.`
      : `${l.name} is an official language in ${l.countries.length} countries and territories: ${listPhrase(l.countries)}.`;
  return doc(docIds.language(l), `${l.name} language`, [
    `${l.name} is a language (${codes}).${native}`,
    where,
  ]);
}

function currencyDocument(cur: CurrencyFacts): RetrievalDocument {
  const users =
    cur.countries.length === 1
      ? `It is the currency of ${cur.countries[0]}.`
      : `It is used in ${cur.countries.length} countries and territories: ${listPhrase(cur.countries)}.`;
  return doc(docIds.currency(cur.code), cur.name, [
    `The ${cur.name} is a currency with ISO 4217 code ${cur.code} and the symbol ${cur.symbol}.`,
    users,
  ]);
}

function subregionDocument(s: SubregionFacts): RetrievalDocument {
  return doc(docIds.subregion(s), s.name, [
    `${s.name} is a subregion of the ${s.region} region.`,
    `It comprises ${s.countries.length} countries and territories: ${listPhrase(s.countries)}.`,
  ]);
}

/** Every document of the generated corpus, in a fixed order. */
export function generateCorpus(
  facts: WorldFacts,
  options: { wordnetDocuments: number },
): RetrievalDocument[] {
  const docs: RetrievalDocument[] = [];
  for (const c of facts.countries) docs.push(countryDocument(c));
  for (const c of facts.countries) for (const capital of c.capitals) docs.push(cityDocument(c, capital));
  for (const l of facts.languages) docs.push(languageDocument(l));
  for (const cur of facts.currencies) docs.push(currencyDocument(cur));
  for (const s of facts.subregions) docs.push(subregionDocument(s));
  const names = new Set<string>();
  for (const c of facts.countries) for (const n of [c.name, ...c.capitals]) names.add(n.toLowerCase());
  for (const l of facts.languages) names.add(l.name.toLowerCase());
  docs.push(...wordnetDocuments(options.wordnetDocuments, names));
  return docs;
}

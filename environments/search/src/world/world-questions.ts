import type { Book, City, Company, Country, Person, Region, University, World, WorldIndex } from './world.ts';
import { dateAliases } from './world-documents.ts';

/** What a question names: the kind of entity its blank is filled with. */
export type AnchorKind = 'person' | 'company' | 'book' | 'city' | 'university' | 'region' | 'country';

/** One question of a type, before it is checked against the documents. */
export interface WorldQuestion {
  /** Entities the question names (one, or two for a comparison). */
  anchors: string[];
  /** Entities whose documents together give the answer, in reading order. */
  path: string[];
  /** Accepted answers; the first is the canonical one. */
  answers: string[];
}

/**
 * A question type: a chain of relations from an entity the question names to the answer, and at
 * least three ways to ask it. Hops = documents on the path.
 */
export interface QuestionType {
  id: string;
  anchor: AnchorKind;
  /** The question about `anchor`, or undefined when a relation on the way is missing. */
  ask(anchor: string, w: WorldIndex): WorldQuestion | undefined;
  phrasings: Array<(...names: string[]) => string>;
}

// Relations: each follows one fact stated in the subject's document.
const founder = (w: WorldIndex, c: string) => w.get<Company>(c).founder;
const ceo = (w: WorldIndex, c: string) => w.get<Company>(c).ceo;
const hq = (w: WorldIndex, c: string) => w.get<Company>(c).headquarters;
const parent = (w: WorldIndex, c: string) => w.get<Company>(c).parent;
const birthplace = (w: WorldIndex, p: string) => w.get<Person>(p).birthplace;
const almaMater = (w: WorldIndex, p: string) => w.get<Person>(p).almaMater;
const employer = (w: WorldIndex, p: string) => w.get<Person>(p).employer;
const spouse = (w: WorldIndex, p: string) => w.get<Person>(p).spouse;
const author = (w: WorldIndex, b: string) => w.get<Book>(b).author;
const publisher = (w: WorldIndex, b: string) => w.get<Book>(b).publisher;
const regionOf = (w: WorldIndex, c: string) => w.get<City>(c).region;
const countryOf = (w: WorldIndex, r: string) => w.get<Region>(r).country;
const cityOfUniversity = (w: WorldIndex, u: string) => w.get<University>(u).city;

type Step = (w: WorldIndex, id: string) => string | undefined;
type Answer = (w: WorldIndex, id: string) => string[] | undefined;

// Answers: read from the last entity of a path.
const named: Answer = (w, id) => [w.nameOf(id)];
const bornOn: Answer = (w, p) => dateAliases(w.get<Person>(p).born);
const bornIn: Answer = (w, p) => [w.get<Person>(p).born.slice(0, 4)];
const foundedIn: Answer = (w, c) => [String(w.get<Company>(c).founded)];
const currency: Answer = (w, c) => [w.get<Country>(c).currency];
const step =
  (relation: Step): Answer =>
  (w, id) => {
    const next = relation(w, id);
    return next === undefined ? undefined : named(w, next);
  };

/**
 * A question that follows `steps` from the anchor, then reads `answer` from the last entity.
 * The path is the anchor and every entity reached before the last step's answer.
 */
function chain(steps: Step[], answer: Answer): QuestionType['ask'] {
  return (anchor, w) => {
    const path = [anchor];
    let at = anchor;
    for (const relation of steps) {
      const next = relation(w, at);
      if (next === undefined) return undefined;
      path.push(next);
      at = next;
    }
    const answers = answer(w, at);
    return answers ? { anchors: [anchor], path, answers } : undefined;
  };
}

const type = (
  id: string,
  anchor: AnchorKind,
  ask: QuestionType['ask'],
  ...phrasings: Array<(...names: string[]) => string>
): QuestionType => ({ id, anchor, ask, phrasings });

/**
 * Every question type of the fictional world, 1 to 4 hops. Multi-hop types compose relations
 * that single-hop types ask one at a time, so a held-out type tests composing known relations.
 */
export const QUESTION_TYPES: readonly QuestionType[] = [
  // One hop: the answer is in the anchor's own document.
  type(
    'person_birthplace',
    'person',
    chain([], step(birthplace)),
    (p) => `Where was ${p} born?`,
    (p) => `In which city was ${p} born?`,
    (p) => `What is the birthplace of ${p}?`,
  ),
  type(
    'person_birth_date',
    'person',
    chain([], bornOn),
    (p) => `When was ${p} born?`,
    (p) => `On what date was ${p} born?`,
    (p) => `What is the date of birth of ${p}?`,
  ),
  type(
    'person_alma_mater',
    'person',
    chain([], step(almaMater)),
    (p) => `Where did ${p} study?`,
    (p) => `Which university did ${p} attend?`,
    (p) => `At which institution was ${p} educated?`,
  ),
  type(
    'person_employer',
    'person',
    chain([], step(employer)),
    (p) => `Which company does ${p} work for?`,
    (p) => `Who is the employer of ${p}?`,
    (p) => `For which firm is ${p} working?`,
  ),
  type(
    'company_founder',
    'company',
    chain([], step(founder)),
    (c) => `Who founded ${c}?`,
    (c) => `Who is the founder of ${c}?`,
    (c) => `By whom was ${c} established?`,
  ),
  type(
    'company_founded',
    'company',
    chain([], foundedIn),
    (c) => `In which year was ${c} founded?`,
    (c) => `When was ${c} established?`,
    (c) => `What is the founding year of ${c}?`,
  ),
  type(
    'company_headquarters',
    'company',
    chain([], step(hq)),
    (c) => `Where is ${c} headquartered?`,
    (c) => `In which city are the headquarters of ${c}?`,
    (c) => `Where does ${c} have its head office?`,
  ),
  type(
    'company_ceo',
    'company',
    chain([], step(ceo)),
    (c) => `Who is the chief executive of ${c}?`,
    (c) => `Who runs ${c} as its CEO?`,
    (c) => `Name the chief executive officer of ${c}.`,
  ),
  type(
    'book_author',
    'book',
    chain([], step(author)),
    (b) => `Who wrote ${b}?`,
    (b) => `Who is the author of the book ${b}?`,
    (b) => `${b} was written by whom?`,
  ),
  type(
    'city_region',
    'city',
    chain([], step(regionOf)),
    (c) => `In which region is the city of ${c}?`,
    (c) => `Which region does ${c} belong to?`,
    (c) => `${c} lies in which region?`,
  ),
  type(
    'region_country',
    'region',
    chain([], step(countryOf)),
    (r) => `Which country is ${r} part of?`,
    (r) => `In which country is the region ${r}?`,
    (r) => `${r} is a region of which country?`,
  ),
  type(
    'country_currency',
    'country',
    chain([], currency),
    (c) => `What is the currency of ${c}?`,
    (c) => `Which currency do people use in ${c}?`,
    (c) => `What money is used in ${c}?`,
  ),
  type(
    'university_city',
    'university',
    chain([], step(cityOfUniversity)),
    (u) => `In which city is ${u}?`,
    (u) => `Where is ${u} located?`,
    (u) => `${u} is in which city?`,
  ),

  // Two hops.
  type(
    'founder_birthplace',
    'company',
    chain([founder], step(birthplace)),
    (c) => `Where was the founder of ${c} born?`,
    (c) => `In which city was the person who founded ${c} born?`,
    (c) => `What is the birthplace of the founder of ${c}?`,
  ),
  type(
    'founder_birth_year',
    'company',
    chain([founder], bornIn),
    (c) => `In which year was the founder of ${c} born?`,
    (c) => `When was the person who founded ${c} born (year)?`,
    (c) => `What is the birth year of the founder of ${c}?`,
  ),
  type(
    'author_birthplace',
    'book',
    chain([author], step(birthplace)),
    (b) => `Where was the author of ${b} born?`,
    (b) => `In which city was the writer of ${b} born?`,
    (b) => `What is the birthplace of the person who wrote ${b}?`,
  ),
  type(
    'author_alma_mater',
    'book',
    chain([author], step(almaMater)),
    (b) => `Where did the author of ${b} study?`,
    (b) => `Which university did the writer of ${b} attend?`,
    (b) => `At which institution was the person who wrote ${b} educated?`,
  ),
  type(
    'ceo_alma_mater',
    'company',
    chain([ceo], step(almaMater)),
    (c) => `Where did the chief executive of ${c} study?`,
    (c) => `Which university did the CEO of ${c} attend?`,
    (c) => `At which institution was the head of ${c} educated?`,
  ),
  type(
    'company_region',
    'company',
    chain([hq], step(regionOf)),
    (c) => `In which region is ${c} headquartered?`,
    (c) => `Which region are the headquarters of ${c} in?`,
    (c) => `${c} has its head office in which region?`,
  ),
  type(
    'person_birth_region',
    'person',
    chain([birthplace], step(regionOf)),
    (p) => `In which region was ${p} born?`,
    (p) => `Which region is the birthplace of ${p} in?`,
    (p) => `${p} was born in a city of which region?`,
  ),
  type(
    'spouse_employer',
    'person',
    chain([spouse], step(employer)),
    (p) => `Which company does the spouse of ${p} work for?`,
    (p) => `Who employs the person married to ${p}?`,
    (p) => `For which firm does the husband or wife of ${p} work?`,
  ),
  type(
    'publisher_founder',
    'book',
    chain([publisher], step(founder)),
    (b) => `Who founded the publisher of ${b}?`,
    (b) => `Who is the founder of the company that published ${b}?`,
    (b) => `By whom was the publishing house of ${b} established?`,
  ),
  type(
    'parent_headquarters',
    'company',
    chain([parent], step(hq)),
    (c) => `Where is the parent company of ${c} headquartered?`,
    (c) => `In which city does the owner of ${c} have its headquarters?`,
    (c) => `Where is the head office of the company that owns ${c}?`,
  ),
  type(
    'employer_founded',
    'person',
    chain([employer], foundedIn),
    (p) => `In which year was the employer of ${p} founded?`,
    (p) => `When was the company ${p} works for established?`,
    (p) => `What is the founding year of the firm that employs ${p}?`,
  ),
  type(
    'university_region',
    'university',
    chain([cityOfUniversity], step(regionOf)),
    (u) => `In which region is ${u}?`,
    (u) => `Which region is ${u} located in?`,
    (u) => `${u} stands in a city of which region?`,
  ),
  type(
    'city_country',
    'city',
    chain([regionOf], step(countryOf)),
    (c) => `In which country is the city of ${c}?`,
    (c) => `Which country does ${c} belong to?`,
    (c) => `${c} is a city in which country?`,
  ),
  type(
    'earlier_founded',
    'company',
    compareFounding,
    (a, b) => `Which company was founded earlier, ${a} or ${b}?`,
    (a, b) => `Of ${a} and ${b}, which is older?`,
    (a, b) => `Which was established first: ${a} or ${b}?`,
  ),

  // Three hops.
  type(
    'founder_birth_region',
    'company',
    chain([founder, birthplace], step(regionOf)),
    (c) => `In which region was the founder of ${c} born?`,
    (c) => `Which region is the birthplace of the founder of ${c} in?`,
    (c) => `The person who founded ${c} was born in which region?`,
  ),
  type(
    'author_birth_region',
    'book',
    chain([author, birthplace], step(regionOf)),
    (b) => `In which region was the author of ${b} born?`,
    (b) => `Which region is the birthplace of the writer of ${b} in?`,
    (b) => `The person who wrote ${b} was born in which region?`,
  ),
  type(
    'company_country',
    'company',
    chain([hq, regionOf], step(countryOf)),
    (c) => `In which country is ${c} headquartered?`,
    (c) => `Which country are the headquarters of ${c} in?`,
    (c) => `${c} has its head office in which country?`,
  ),
  type(
    'publisher_founder_birthplace',
    'book',
    chain([publisher, founder], step(birthplace)),
    (b) => `Where was the founder of the publisher of ${b} born?`,
    (b) => `In which city was the person who founded the company that published ${b} born?`,
    (b) => `What is the birthplace of whoever founded the publishing house of ${b}?`,
  ),
  type(
    'author_employer_headquarters',
    'book',
    chain([author, employer], step(hq)),
    (b) => `Where is the employer of the author of ${b} headquartered?`,
    (b) => `In which city is the company that the writer of ${b} works for based?`,
    (b) => `Where does the firm employing the author of ${b} have its head office?`,
  ),
  type(
    'author_university_city',
    'book',
    chain([author, almaMater], step(cityOfUniversity)),
    (b) => `In which city did the author of ${b} go to university?`,
    (b) => `Where is the university that the writer of ${b} attended?`,
    (b) => `The person who wrote ${b} studied in which city?`,
  ),
  type(
    'person_birth_country',
    'person',
    chain([birthplace, regionOf], step(countryOf)),
    (p) => `In which country was ${p} born?`,
    (p) => `What is the country of birth of ${p}?`,
    (p) => `${p} was born in which country?`,
  ),

  // Four hops.
  type(
    'founder_birth_country',
    'company',
    chain([founder, birthplace, regionOf], step(countryOf)),
    (c) => `In which country was the founder of ${c} born?`,
    (c) => `What is the country of birth of the person who founded ${c}?`,
    (c) => `The founder of ${c} was born in which country?`,
  ),
  type(
    'author_birth_country',
    'book',
    chain([author, birthplace, regionOf], step(countryOf)),
    (b) => `In which country was the author of ${b} born?`,
    (b) => `What is the country of birth of the writer of ${b}?`,
    (b) => `The person who wrote ${b} was born in which country?`,
  ),
  type(
    'publisher_country',
    'book',
    chain([publisher, hq, regionOf], step(countryOf)),
    (b) => `In which country is the publisher of ${b} headquartered?`,
    (b) => `Which country is the company that published ${b} based in?`,
    (b) => `The publishing house of ${b} has its head office in which country?`,
  ),
  type(
    'ceo_university_region',
    'company',
    chain([ceo, almaMater, cityOfUniversity], step(regionOf)),
    (c) => `In which region is the university that the chief executive of ${c} attended?`,
    (c) => `Which region is the alma mater of the CEO of ${c} in?`,
    (c) => `The head of ${c} studied at a university in which region?`,
  ),
  type(
    'birth_currency',
    'person',
    chain([birthplace, regionOf, countryOf], currency),
    (p) => `What is the currency of the country where ${p} was born?`,
    (p) => `Which money is used in the country of birth of ${p}?`,
    (p) => `In the country where ${p} was born, what is the currency?`,
  ),
];

/**
 * "Which was founded earlier, A or B?": two documents, one founding year each. The partner is
 * the next company in the world's order with a different founding year, so the answer is unique.
 */
function compareFounding(anchor: string, w: WorldIndex): WorldQuestion | undefined {
  const companies = w.world.companies;
  const at = companies.findIndex((c) => c.id === anchor);
  const a = companies[at]!;
  const b = companies.slice(at + 1).find((c) => c.founded !== a.founded);
  if (!b) return undefined;
  const earlier = a.founded < b.founded ? a : b;
  return { anchors: [a.id, b.id], path: [a.id, b.id], answers: [earlier.name] };
}

/** The entity ids a question of this kind can be about. */
export function anchorsOf(world: World, kind: AnchorKind): string[] {
  const lists: Record<AnchorKind, Array<{ id: string }>> = {
    person: world.people,
    company: world.companies,
    book: world.books,
    city: world.cities,
    university: world.universities,
    region: world.regions,
    country: world.countries,
  };
  return lists[kind].map((e) => e.id);
}

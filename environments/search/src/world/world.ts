import { en, Faker } from '@faker-js/faker';
import { Rng } from '@toolgym/protocol';

/**
 * A fictional world, generated from a seed: countries, regions, cities, people, companies,
 * universities and books, linked by relations (born in, founded by, headquartered in, …). Names
 * are made from faker's name parts and invented syllables, so no pretrained model knows a fact
 * about them: the only way to answer is to read the documents.
 */
export interface World {
  seed: number;
  countries: Country[];
  regions: Region[];
  cities: City[];
  people: Person[];
  companies: Company[];
  universities: University[];
  books: Book[];
}

export interface Country {
  id: string;
  name: string;
  currency: string;
  language: string;
  /** The year it became independent. */
  independence: number;
  capital: string;
}

export interface Region {
  id: string;
  name: string;
  country: string;
  /** The city that is its administrative seat. */
  seat: string;
}

export interface City {
  id: string;
  name: string;
  region: string;
  founded: number;
  population: number;
}

export interface Person {
  id: string;
  name: string;
  pronoun: 'he' | 'she';
  /** ISO date. */
  born: string;
  birthplace: string;
  occupation: string;
  almaMater?: string;
  employer?: string;
  /** Stated in this person's document only (never in the spouse's). */
  spouse?: string;
}

export interface Company {
  id: string;
  name: string;
  founded: number;
  founder: string;
  headquarters: string;
  industry: string;
  ceo: string;
  parent?: string;
}

export interface University {
  id: string;
  name: string;
  city: string;
  founded: number;
}

export interface Book {
  id: string;
  title: string;
  author: string;
  publisher: string;
  year: number;
}

/** How many entities of each kind a world has. */
export interface WorldSize {
  countries: number;
  regionsPerCountry: number;
  citiesPerRegion: number;
  people: number;
  companies: number;
  universities: number;
  books: number;
}

export const DEFAULT_WORLD_SIZE: WorldSize = {
  countries: 10,
  regionsPerCountry: 4,
  citiesPerRegion: 5,
  people: 900,
  companies: 220,
  universities: 30,
  books: 260,
};

const ONSETS = [
  'b',
  'br',
  'c',
  'd',
  'dr',
  'f',
  'g',
  'gr',
  'k',
  'kr',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  'st',
  't',
  'th',
  'v',
  'z',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ae', 'ei', 'ia', 'ou'];
const CODAS = ['', '', 'l', 'n', 'r', 's', 'th', 'nd', 'rk'];
const COUNTRY_ENDINGS = ['ia', 'land', 'ara', 'istan', 'onia', 'avia'];
const REGION_ENDINGS = ['shire', ' Province', ' Valley', ' Coast', ' Highlands', ' March'];
const CURRENCY_UNITS = [
  'crown',
  'mark',
  'florin',
  'thaler',
  'ducat',
  'sol',
  'real',
  'dinar',
  'lira',
  'penny',
];
const LANGUAGE_ENDINGS = ['ic', 'ish', 'ese', 'ian'];
const INDUSTRIES = [
  'shipbuilding',
  'textiles',
  'publishing',
  'mining',
  'brewing',
  'software',
  'insurance',
  'railways',
  'pharmaceuticals',
  'agriculture',
  'glassmaking',
  'telecommunications',
];
const UNIVERSITY_PATTERNS = [
  (n: string) => `${n} University`,
  (n: string) => `${n} Institute of Technology`,
  (n: string) => `${n} College`,
  (n: string) => `Royal ${n} Academy`,
];
const PUBLISHING = 'publishing';

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Draws names that are unique across the whole world (no two entities share a name). */
class NameBook {
  private readonly used = new Set<string>();

  constructor(private readonly rng: Rng) {}

  /** The first of `draw()`'s results not used yet. */
  unique(draw: () => string): string {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const name = draw();
      const key = name.toLowerCase();
      if (!this.used.has(key)) {
        this.used.add(key);
        return name;
      }
    }
    throw new Error('the world ran out of names: lower the world size');
  }

  /** An invented word of 2–3 syllables ("Valmora"). */
  syllables(min = 2, max = 3): string {
    const n = this.rng.int(min, max);
    let word = '';
    for (let i = 0; i < n; i++) word += this.rng.pick(ONSETS) + this.rng.pick(VOWELS);
    return capitalise(word + this.rng.pick(CODAS));
  }
}

const iso = (year: number, month: number, day: number) =>
  `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;

/**
 * The world of `seed`: the same seed always gives the same world. Every relation points at an
 * entity that exists; a founder is born 25–55 years before the founding, an author 22–60 years
 * before the book.
 */
export function generateWorld(seed: number, size: WorldSize = DEFAULT_WORLD_SIZE): World {
  const rng = new Rng(seed * 7919 + 17);
  const faker = new Faker({ locale: [en] });
  faker.seed(seed + 4242);
  const names = new NameBook(rng);
  const suffixes = faker.definitions.location.city_suffix;
  const prefixes = faker.definitions.location.city_prefix;

  const countries: Country[] = [];
  const regions: Region[] = [];
  const cities: City[] = [];
  for (let c = 0; c < size.countries; c++) {
    const stem = names.syllables(2, 2);
    const country: Country = {
      id: `country/${c}`,
      name: names.unique(() => `${names.syllables(1, 2)}${rng.pick(COUNTRY_ENDINGS)}`),
      currency: names.unique(() => `${stem} ${rng.pick(CURRENCY_UNITS)}`),
      language: names.unique(() => `${names.syllables(1, 2)}${rng.pick(LANGUAGE_ENDINGS)}`),
      independence: rng.int(1640, 1990),
      capital: '',
    };
    countries.push(country);
    for (let r = 0; r < size.regionsPerCountry; r++) {
      const region: Region = {
        id: `region/${c}-${r}`,
        name: names.unique(() => `${names.syllables(2, 3)}${rng.pick(REGION_ENDINGS)}`),
        country: country.id,
        seat: '',
      };
      regions.push(region);
      for (let i = 0; i < size.citiesPerRegion; i++) {
        const city: City = {
          id: `city/${cities.length}`,
          name: names.unique(() => {
            const stemName = rng.next() < 0.5 ? faker.person.lastName() : names.syllables(1, 2);
            const core = `${stemName}${rng.pick(suffixes)}`;
            return rng.next() < 0.25 ? `${rng.pick(prefixes)} ${core}` : core;
          }),
          region: region.id,
          founded: rng.int(880, 1890),
          population: rng.int(4, 2400) * 1000 + rng.int(0, 999),
        };
        cities.push(city);
        if (i === 0) region.seat = city.id;
      }
    }
    country.capital = regions.find((r) => r.country === country.id)!.seat;
  }

  const people: Person[] = [];
  for (let p = 0; p < size.people; p++) {
    const sex = rng.next() < 0.5 ? 'female' : 'male';
    const year = rng.int(1925, 1998);
    people.push({
      id: `person/${p}`,
      name: names.unique(() => `${faker.person.firstName(sex)} ${faker.person.lastName()}`),
      pronoun: sex === 'female' ? 'she' : 'he',
      born: iso(year, rng.int(1, 12), rng.int(1, 28)),
      birthplace: rng.pick(cities).id,
      occupation: faker.person.jobTitle().toLowerCase(),
    });
  }
  const birthYear = (p: Person) => Number(p.born.slice(0, 4));

  const universities: University[] = [];
  for (let u = 0; u < size.universities; u++) {
    universities.push({
      id: `university/${u}`,
      name: names.unique(() =>
        rng.pick(UNIVERSITY_PATTERNS)(rng.next() < 0.5 ? faker.person.lastName() : names.syllables(2, 2)),
      ),
      city: rng.pick(cities).id,
      founded: rng.int(1450, 1960),
    });
  }

  const companies: Company[] = [];
  const founders = rng.shuffle(people);
  for (let c = 0; c < size.companies; c++) {
    const founder = founders[c % founders.length]!;
    const founded = Math.min(2022, birthYear(founder) + rng.int(25, 55));
    const industry = c < Math.ceil(size.companies / 6) ? PUBLISHING : rng.pick(INDUSTRIES);
    companies.push({
      id: `company/${c}`,
      name: names.unique(() => faker.company.name()),
      founded,
      founder: founder.id,
      headquarters: rng.pick(cities).id,
      industry,
      ceo: rng.pick(people).id,
    });
  }
  // A parent is an older company, so ownership never loops.
  for (const company of companies) {
    if (rng.next() < 0.3) {
      const older = companies.filter((c) => c.founded < company.founded && c.id !== company.id);
      if (older.length > 0) company.parent = rng.pick(older).id;
    }
  }
  for (const person of people) {
    if (rng.next() < 0.8) person.almaMater = rng.pick(universities).id;
    if (rng.next() < 0.8) person.employer = rng.pick(companies).id;
  }
  // Marriages: each person at most once; stated in the first partner's document.
  const single = rng.shuffle(people.filter(() => rng.next() < 0.5));
  for (let i = 0; i + 1 < single.length; i += 2) single[i]!.spouse = single[i + 1]!.id;

  const publishers = companies.filter((c) => c.industry === PUBLISHING);
  const books: Book[] = [];
  for (let b = 0; b < size.books; b++) {
    const author = rng.pick(people);
    books.push({
      id: `book/${b}`,
      title: names.unique(() =>
        rng.next() < 0.5
          ? `The ${capitalise(faker.word.adjective())} ${capitalise(faker.word.noun())}`
          : `${capitalise(faker.word.noun())} of the ${capitalise(faker.word.noun())}`,
      ),
      author: author.id,
      publisher: rng.pick(publishers).id,
      year: Math.min(2024, birthYear(author) + rng.int(22, 60)),
    });
  }
  return { seed, countries, regions, cities, people, companies, universities, books };
}

/** Every entity of the world, kind by kind, in a fixed order. */
export function entitiesOf(world: World): Array<{ id: string; name?: string; title?: string }> {
  return [
    ...world.countries,
    ...world.regions,
    ...world.cities,
    ...world.people,
    ...world.companies,
    ...world.universities,
    ...world.books,
  ];
}

/** Entities by id, for following relations. */
export class WorldIndex {
  private readonly byId = new Map<string, { name?: string; title?: string }>();

  constructor(readonly world: World) {
    for (const entity of entitiesOf(world)) this.byId.set(entity.id, entity);
  }

  get<T>(id: string): T {
    const entity = this.byId.get(id);
    if (!entity) throw new Error(`the world has no entity ${id}`);
    return entity as T;
  }

  /** The display name of an entity (a book's title). */
  nameOf(id: string): string {
    const entity = this.get<{ name?: string; title?: string }>(id);
    return entity.name ?? entity.title ?? id;
  }
}

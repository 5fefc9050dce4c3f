import { continents, countries as countriesList, languages as languageList } from 'countries-list';
import worldCountries from 'world-countries';

/**
 * The facts the generated corpus and its questions are made from, joined from two npm data
 * sets: `world-countries` (names, capitals, languages, currencies, borders, regions) and
 * `countries-list` (continents, ISO 639-1 language codes, native language names).
 */
export interface CountryFacts {
  /** ISO 3166-1 alpha-3, lower case: the id stem of its documents. */
  code: string;
  name: string;
  official: string;
  independent: boolean;
  region: string;
  subregion: string;
  continent?: string;
  capitals: string[];
  languages: string[];
  currencies: Array<{ code: string; name: string }>;
  borders: string[];
  landlocked: boolean;
  area: number;
  demonym?: string;
  tlds: string[];
  callingCodes: string[];
  altNames: string[];
}

export interface LanguageFacts {
  /** world-countries' key (ISO 639-3 or 639-2). */
  key: string;
  name: string;
  iso6391?: string;
  native?: string;
  countries: string[];
}

export interface CurrencyFacts {
  code: string;
  name: string;
  symbol: string;
  countries: string[];
}

export interface SubregionFacts {
  name: string;
  region: string;
  countries: string[];
}

export interface WorldFacts {
  countries: CountryFacts[];
  languages: LanguageFacts[];
  currencies: CurrencyFacts[];
  subregions: SubregionFacts[];
}

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

export function worldFacts(): WorldFacts {
  const all = [...worldCountries].sort((a, b) => a.cca3.localeCompare(b.cca3));
  const nameOfCca3 = new Map(all.map((c) => [c.cca3, c.name.common]));
  const iso6391ByName = new Map<string, { code: string; native: string }>();
  for (const [code, lang] of Object.entries(languageList))
    iso6391ByName.set(lang.name.toLowerCase(), { code, native: lang.native });

  const countries: CountryFacts[] = all.map((c) => {
    const listed = (countriesList as Record<string, { continent?: string }>)[c.cca2];
    const continentCode = listed?.continent as keyof typeof continents | undefined;
    const idd = c.idd.root
      ? c.idd.suffixes.length === 1
        ? [`${c.idd.root}${c.idd.suffixes[0]}`]
        : [c.idd.root]
      : [];
    const demonym = c.demonyms?.eng?.m;
    return {
      code: c.cca3.toLowerCase(),
      name: c.name.common,
      official: c.name.official,
      independent: c.independent === true,
      region: c.region,
      subregion: c.subregion || c.region,
      ...(continentCode ? { continent: continents[continentCode] } : {}),
      capitals: [...c.capital],
      languages: Object.values(c.languages ?? {}),
      currencies: Object.entries(c.currencies ?? {}).map(([code, cur]) => ({ code, name: cur.name })),
      borders: c.borders.map((b) => nameOfCca3.get(b) ?? b),
      landlocked: c.landlocked,
      area: c.area,
      ...(demonym ? { demonym } : {}),
      tlds: c.tld,
      callingCodes: idd,
      altNames: [...new Set([c.name.official, ...c.altSpellings.filter((s) => s.length > 3)])],
    };
  });

  const languages = new Map<string, LanguageFacts>();
  const currencies = new Map<string, CurrencyFacts>();
  const subregions = new Map<string, SubregionFacts>();
  for (const c of all) {
    const country = c.name.common;
    for (const [key, name] of Object.entries(c.languages ?? {})) {
      const listed = iso6391ByName.get(name.toLowerCase());
      const entry = languages.get(key) ?? {
        key,
        name,
        ...(listed ? { iso6391: listed.code, native: listed.native } : {}),
        countries: [],
      };
      entry.countries.push(country);
      languages.set(key, entry);
    }
    for (const [code, cur] of Object.entries(c.currencies ?? {})) {
      const entry = currencies.get(code) ?? { code, name: cur.name, symbol: cur.symbol, countries: [] };
      entry.countries.push(country);
      currencies.set(code, entry);
    }
    const sub = c.subregion || c.region;
    const entry = subregions.get(sub) ?? { name: sub, region: c.region, countries: [] };
    entry.countries.push(country);
    subregions.set(sub, entry);
  }
  return {
    countries,
    languages: [...languages.values()].sort(byName),
    currencies: [...currencies.values()].sort((a, b) => a.code.localeCompare(b.code)),
    subregions: [...subregions.values()].sort(byName),
  };
}

import type Database from 'better-sqlite3';
import { continents as continentNames, countries as countriesList } from 'countries-list';
import worldCountries from 'world-countries';
import { insertRows } from './sqlite-file.ts';

/** Bumped whenever the schema or the rows change, so cached files are rebuilt. */
export const GEOGRAPHY_VERSION = 1;

const SCHEMA = `
CREATE TABLE countries ( -- one row per country or territory (ISO 3166)
  code TEXT PRIMARY KEY,        -- ISO 3166-1 alpha-3 code, e.g. 'FRA'
  iso2 TEXT NOT NULL UNIQUE,    -- ISO 3166-1 alpha-2 code, e.g. 'FR'
  name TEXT NOT NULL,           -- common English name
  official_name TEXT NOT NULL,
  region TEXT NOT NULL,         -- 'Africa', 'Americas', 'Antarctic', 'Asia', 'Europe', 'Oceania'
  subregion TEXT,               -- NULL when the source has none
  continent TEXT,               -- continent name from countries-list; NULL when unknown
  capital TEXT,                 -- first listed capital; NULL for territories without one
  area_km2 REAL,                -- land area in square kilometres
  latitude REAL,
  longitude REAL,
  landlocked INTEGER NOT NULL,  -- 1 = no coastline
  independent INTEGER,          -- 1 = sovereign state, 0 = dependency, NULL = disputed/unknown
  un_member INTEGER NOT NULL,   -- 1 = UN member state
  calling_code TEXT             -- international dialling prefix such as '+33'; NULL when none
);
CREATE TABLE borders ( -- land borders, stored in both directions
  country_code TEXT NOT NULL REFERENCES countries(code),
  neighbor_code TEXT NOT NULL REFERENCES countries(code),
  PRIMARY KEY (country_code, neighbor_code)
);
CREATE TABLE languages ( -- languages by ISO 639-3 code
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE country_languages ( -- official or widely used languages of each country
  country_code TEXT NOT NULL REFERENCES countries(code),
  language_code TEXT NOT NULL REFERENCES languages(code),
  PRIMARY KEY (country_code, language_code)
);
CREATE TABLE currencies ( -- currencies by ISO 4217 code
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  symbol TEXT
);
CREATE TABLE country_currencies ( -- currencies in use in each country
  country_code TEXT NOT NULL REFERENCES countries(code),
  currency_code TEXT NOT NULL REFERENCES currencies(code),
  PRIMARY KEY (country_code, currency_code)
);
`;

/** Countries, borders, languages and currencies from the `world-countries` and `countries-list` packages. */
export function fillGeography(db: Database.Database): void {
  db.exec(SCHEMA);
  const sorted = [...worldCountries].sort((a, b) => a.cca3.localeCompare(b.cca3));
  const codes = new Set(sorted.map((c) => c.cca3));
  const continentOf = (iso2: string): string | null => {
    const entry = (countriesList as Record<string, { continent?: string }>)[iso2];
    return entry?.continent ? ((continentNames as Record<string, string>)[entry.continent] ?? null) : null;
  };
  insertRows(
    db,
    'countries',
    sorted.map((c) => ({
      code: c.cca3,
      iso2: c.cca2,
      name: c.name.common,
      official_name: c.name.official,
      region: c.region,
      subregion: c.subregion || null,
      continent: continentOf(c.cca2),
      capital: c.capital[0] ?? null,
      area_km2: c.area > 0 ? c.area : null,
      latitude: c.latlng[0] ?? null,
      longitude: c.latlng[1] ?? null,
      landlocked: c.landlocked ? 1 : 0,
      independent: typeof c.independent === 'boolean' ? (c.independent ? 1 : 0) : null,
      un_member: c.unMember ? 1 : 0,
      calling_code: c.idd.root
        ? `${c.idd.root}${c.idd.suffixes.length === 1 ? c.idd.suffixes[0] : ''}`
        : null,
    })),
  );
  insertRows(
    db,
    'borders',
    sorted.flatMap((c) =>
      c.borders.filter((b) => codes.has(b)).map((b) => ({ country_code: c.cca3, neighbor_code: b })),
    ),
  );
  const languages = new Map<string, string>();
  const currencies = new Map<string, { name: string; symbol: string | null }>();
  for (const c of sorted) {
    for (const [code, name] of Object.entries(c.languages ?? {})) languages.set(code, name);
    for (const [code, currency] of Object.entries(c.currencies ?? {})) {
      const { name, symbol } = currency as { name: string; symbol?: string };
      currencies.set(code, { name, symbol: symbol ?? null });
    }
  }
  insertRows(
    db,
    'languages',
    [...languages].sort().map(([code, name]) => ({ code, name })),
  );
  insertRows(
    db,
    'currencies',
    [...currencies].sort().map(([code, c]) => ({ code, name: c.name, symbol: c.symbol })),
  );
  insertRows(
    db,
    'country_languages',
    sorted.flatMap((c) =>
      Object.keys(c.languages ?? {}).map((language_code) => ({ country_code: c.cca3, language_code })),
    ),
  );
  insertRows(
    db,
    'country_currencies',
    sorted.flatMap((c) =>
      Object.keys(c.currencies ?? {}).map((currency_code) => ({ country_code: c.cca3, currency_code })),
    ),
  );
}

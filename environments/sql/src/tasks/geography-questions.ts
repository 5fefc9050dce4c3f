import { lit, type QuestionTemplate } from './template.ts';

const JOIN_NEIGHBORS =
  'FROM borders b JOIN countries c ON c.code = b.country_code JOIN countries n ON n.code = b.neighbor_code';

export const GEOGRAPHY_TEMPLATES: QuestionTemplate[] = [
  {
    id: 'capital-of',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT name FROM countries WHERE capital IS NOT NULL ORDER BY code',
    sql: (p) => `SELECT capital FROM countries WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `What is the capital of ${p.name}?`,
      (p) => `Which city is the capital of ${p.name}?`,
      (p) => `Name the capital city of ${p.name}.`,
    ],
  },
  {
    id: 'calling-code',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT name FROM countries WHERE calling_code IS NOT NULL ORDER BY code',
    sql: (p) => `SELECT calling_code FROM countries WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `What is the international calling code of ${p.name}?`,
      (p) => `Which dialling prefix does ${p.name} use?`,
    ],
  },
  {
    id: 'area-of',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT name FROM countries WHERE area_km2 IS NOT NULL ORDER BY code',
    sql: (p) => `SELECT area_km2 FROM countries WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How large is ${p.name} in square kilometres?`,
      (p) => `What is the area of ${p.name} (km²)?`,
    ],
  },
  {
    id: 'countries-in-subregion',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT subregion FROM countries WHERE subregion IS NOT NULL ORDER BY subregion',
    sql: (p) => `SELECT name FROM countries WHERE subregion = ${lit(p.subregion!)}`,
    phrasings: [
      (p) => `List the names of all countries in ${p.subregion}.`,
      (p) => `Which countries belong to the subregion ${p.subregion}?`,
    ],
  },
  {
    id: 'count-in-region',
    difficulty: 'easy',
    skill: 'aggregation',
    params: 'SELECT DISTINCT region FROM countries ORDER BY region',
    sql: (p) => `SELECT COUNT(*) FROM countries WHERE region = ${lit(p.region!)}`,
    phrasings: [
      (p) => `How many countries and territories are in the region ${p.region}?`,
      (p) => `Count the countries whose region is ${p.region}.`,
    ],
  },
  {
    id: 'landlocked-in-region',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT region FROM countries ORDER BY region',
    sql: (p) => `SELECT name FROM countries WHERE region = ${lit(p.region!)} AND landlocked = 1`,
    phrasings: [
      (p) => `Which countries in ${p.region} are landlocked?`,
      (p) => `List the landlocked countries of the region ${p.region}.`,
    ],
  },
  {
    id: 'neighbors-of',
    difficulty: 'medium',
    skill: 'join',
    params:
      'SELECT DISTINCT c.name FROM countries c JOIN borders b ON b.country_code = c.code ORDER BY c.code',
    sql: (p) => `SELECT n.name ${JOIN_NEIGHBORS} WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which countries share a land border with ${p.name}?`,
      (p) => `List the neighbouring countries of ${p.name}.`,
    ],
  },
  {
    id: 'neighbor-count',
    difficulty: 'medium',
    skill: 'aggregation',
    params:
      'SELECT DISTINCT c.name FROM countries c JOIN borders b ON b.country_code = c.code ORDER BY c.code',
    sql: (p) =>
      `SELECT COUNT(*) FROM borders b JOIN countries c ON c.code = b.country_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How many countries border ${p.name}?`,
      (p) => `With how many countries does ${p.name} share a land border?`,
    ],
  },
  {
    id: 'languages-of',
    difficulty: 'medium',
    skill: 'join',
    params:
      'SELECT name FROM countries WHERE code IN (SELECT country_code FROM country_languages) ORDER BY code',
    sql: (p) =>
      `SELECT l.name FROM country_languages cl JOIN languages l ON l.code = cl.language_code JOIN countries c ON c.code = cl.country_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [(p) => `Which languages are spoken in ${p.name}?`, (p) => `List the languages of ${p.name}.`],
  },
  {
    id: 'countries-speaking',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT name FROM languages ORDER BY code',
    sql: (p) =>
      `SELECT c.name FROM country_languages cl JOIN languages l ON l.code = cl.language_code JOIN countries c ON c.code = cl.country_code WHERE l.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `In which countries is ${p.name} spoken?`,
      (p) => `List the countries that have ${p.name} as a language.`,
    ],
  },
  {
    id: 'currency-of',
    difficulty: 'medium',
    skill: 'join',
    params:
      'SELECT name FROM countries WHERE code IN (SELECT country_code FROM country_currencies) ORDER BY code',
    sql: (p) =>
      `SELECT cu.name FROM country_currencies cc JOIN currencies cu ON cu.code = cc.currency_code JOIN countries c ON c.code = cc.country_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [(p) => `What currency is used in ${p.name}?`, (p) => `Name the currencies of ${p.name}.`],
  },
  {
    id: 'countries-using-currency',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT name FROM currencies ORDER BY code',
    sql: (p) =>
      `SELECT c.name FROM country_currencies cc JOIN currencies cu ON cu.code = cc.currency_code JOIN countries c ON c.code = cc.country_code WHERE cu.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which countries use the ${p.name}?`,
      (p) => `List every country where the ${p.name} is in use.`,
    ],
  },
  {
    id: 'largest-in-region',
    difficulty: 'medium',
    skill: 'ordering',
    params: 'SELECT DISTINCT region, k FROM countries, (SELECT 3 AS k UNION ALL SELECT 5) ORDER BY region, k',
    sql: (p) =>
      `SELECT name FROM countries WHERE region = ${lit(p.region!)} AND area_km2 IS NOT NULL ORDER BY area_km2 DESC, name LIMIT ${p.k}`,
    phrasings: [
      (p) => `What are the ${p.k} largest countries by area in ${p.region}, largest first?`,
      (p) => `List the ${p.k} biggest countries (by area) of ${p.region} in descending order of area.`,
    ],
  },
  {
    id: 'average-area-of-subregion',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT DISTINCT subregion FROM countries WHERE subregion IS NOT NULL ORDER BY subregion',
    sql: (p) => `SELECT AVG(area_km2) FROM countries WHERE subregion = ${lit(p.subregion!)}`,
    phrasings: [
      (p) => `What is the average area in km² of the countries in ${p.subregion}?`,
      (p) => `On average, how large are the countries of ${p.subregion}?`,
    ],
  },
  {
    id: 'subregion-counts',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT DISTINCT region FROM countries ORDER BY region',
    sql: (p) =>
      `SELECT subregion, COUNT(*) FROM countries WHERE region = ${lit(p.region!)} GROUP BY subregion`,
    phrasings: [
      (p) => `For each subregion of ${p.region}, how many countries does it contain?`,
      (p) => `Count the countries per subregion within ${p.region}.`,
    ],
  },
  {
    id: 'many-languages-in-region',
    difficulty: 'hard',
    skill: 'nesting',
    params:
      'SELECT DISTINCT region, k FROM countries, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) ORDER BY region, k',
    sql: (p) =>
      `SELECT c.name FROM countries c WHERE c.region = ${lit(p.region!)} AND (SELECT COUNT(*) FROM country_languages cl WHERE cl.country_code = c.code) > ${p.k}`,
    phrasings: [
      (p) => `Which countries in ${p.region} have more than ${p.k} languages?`,
      (p) => `List the countries of ${p.region} where over ${p.k} languages are spoken.`,
    ],
  },
  {
    id: 'larger-in-same-subregion',
    difficulty: 'hard',
    skill: 'nesting',
    params: 'SELECT name FROM countries WHERE subregion IS NOT NULL AND area_km2 IS NOT NULL ORDER BY code',
    sql: (p) =>
      `SELECT name FROM countries WHERE subregion = (SELECT subregion FROM countries WHERE name = ${lit(p.name!)}) AND area_km2 > (SELECT area_km2 FROM countries WHERE name = ${lit(p.name!)})`,
    phrasings: [
      (p) => `Which countries in the same subregion as ${p.name} are larger than it?`,
      (p) => `List the countries of ${p.name}'s subregion whose area exceeds that of ${p.name}.`,
    ],
  },
  {
    id: 'shared-language',
    difficulty: 'hard',
    skill: 'join',
    params:
      'SELECT name FROM countries WHERE code IN (SELECT country_code FROM country_languages) ORDER BY code',
    sql: (p) =>
      `SELECT DISTINCT o.name FROM countries c JOIN country_languages a ON a.country_code = c.code JOIN country_languages b ON b.language_code = a.language_code JOIN countries o ON o.code = b.country_code WHERE c.name = ${lit(p.name!)} AND o.code <> c.code`,
    phrasings: [
      (p) => `Which other countries share at least one language with ${p.name}?`,
      (p) => `List the countries (other than ${p.name}) that speak a language also spoken in ${p.name}.`,
    ],
  },
  {
    id: 'neighbors-in-other-region',
    difficulty: 'hard',
    skill: 'join',
    params:
      'SELECT DISTINCT c.name FROM countries c JOIN borders b ON b.country_code = c.code ORDER BY c.code',
    sql: (p) => `SELECT n.name ${JOIN_NEIGHBORS} WHERE c.name = ${lit(p.name!)} AND n.region <> c.region`,
    phrasings: [(p) => `Which neighbours of ${p.name} lie in a different region than ${p.name}?`],
  },
  {
    id: 'no-subregion-or-capital',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: "SELECT 'capital' AS field UNION ALL SELECT 'subregion' UNION ALL SELECT 'calling_code'",
    sql: (p) => `SELECT name FROM countries WHERE ${p.field} IS NULL`,
    phrasings: [
      (p) => `Which countries or territories have no ${String(p.field).replace('_', ' ')} recorded?`,
    ],
  },
];

import { lit, type QuestionTemplate } from './template.ts';

const JOIN_NEIGHBORS =
  'FROM borders b JOIN countries c ON c.code = b.country_code JOIN countries n ON n.code = b.neighbor_code';
const WITH_BORDERS =
  'SELECT DISTINCT c.name FROM countries c JOIN borders b ON b.country_code = c.code ORDER BY c.code';
const WITH_LANGUAGES =
  'SELECT name FROM countries WHERE code IN (SELECT country_code FROM country_languages) ORDER BY code';

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
      (p) => `${p.name} has which city as its capital?`,
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
      (p) => `To phone ${p.name} from abroad, which country code do you dial?`,
      (p) => `Give the telephone country code of ${p.name}.`,
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
      (p) => `How many square kilometres does ${p.name} cover?`,
      (p) => `Give the surface area of ${p.name} in km².`,
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
      (p) => `Name every country or territory located in ${p.subregion}.`,
      (p) => `What countries make up the subregion ${p.subregion}?`,
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
      (p) => `What is the number of countries and territories in ${p.region}?`,
      (p) => `${p.region} contains how many countries and territories?`,
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
      (p) => `Name the countries of ${p.region} that have no coastline.`,
      (p) => `Which ${p.region} countries lack access to the sea?`,
    ],
  },
  {
    id: 'no-subregion-or-capital',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: "SELECT 'capital' AS field UNION ALL SELECT 'subregion' UNION ALL SELECT 'calling_code'",
    sql: (p) => `SELECT name FROM countries WHERE ${p.field} IS NULL`,
    phrasings: [
      (p) => `Which countries or territories have no ${String(p.field).replace('_', ' ')} recorded?`,
      (p) => `List the countries whose ${String(p.field).replace('_', ' ')} is missing.`,
      (p) => `For which territories is the ${String(p.field).replace('_', ' ')} unknown?`,
      (p) => `Name the entries of the countries table without a ${String(p.field).replace('_', ' ')}.`,
    ],
  },
  {
    id: 'neighbors-of',
    difficulty: 'medium',
    skill: 'join',
    params: WITH_BORDERS,
    sql: (p) => `SELECT n.name ${JOIN_NEIGHBORS} WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which countries share a land border with ${p.name}?`,
      (p) => `List the neighbouring countries of ${p.name}.`,
      (p) => `What countries border ${p.name}?`,
      (p) => `Name all of ${p.name}'s land neighbours.`,
    ],
  },
  {
    id: 'neighbor-count',
    difficulty: 'medium',
    skill: 'aggregation',
    params: WITH_BORDERS,
    sql: (p) =>
      `SELECT COUNT(*) FROM borders b JOIN countries c ON c.code = b.country_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How many countries border ${p.name}?`,
      (p) => `With how many countries does ${p.name} share a land border?`,
      (p) => `Count the land neighbours of ${p.name}.`,
      (p) => `What is the number of countries adjacent to ${p.name}?`,
    ],
  },
  {
    id: 'languages-of',
    difficulty: 'medium',
    skill: 'join',
    params: WITH_LANGUAGES,
    sql: (p) =>
      `SELECT l.name FROM country_languages cl JOIN languages l ON l.code = cl.language_code JOIN countries c ON c.code = cl.country_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which languages are spoken in ${p.name}?`,
      (p) => `List the languages of ${p.name}.`,
      (p) => `What languages does ${p.name} have?`,
      (p) => `Name the official or widely used languages of ${p.name}.`,
    ],
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
      (p) => `Where is ${p.name} one of the languages? Give the countries.`,
      (p) => `Which countries list ${p.name} among their languages?`,
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
    phrasings: [
      (p) => `What currency is used in ${p.name}?`,
      (p) => `Name the currencies of ${p.name}.`,
      (p) => `Which money is in use in ${p.name}?`,
      (p) => `What are the currencies in circulation in ${p.name}?`,
    ],
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
      (p) => `In which countries can you pay with the ${p.name}?`,
      (p) => `Name the countries that have the ${p.name} as a currency.`,
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
      (p) => `Give the top ${p.k} countries of ${p.region} by surface area, from the largest down.`,
      (p) => `Which ${p.k} countries in ${p.region} cover the most square kilometres? Largest first.`,
    ],
  },
  {
    id: 'average-area-of-subregion',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT DISTINCT subregion FROM countries WHERE subregion IS NOT NULL ORDER BY subregion',
    sql: (p) => `SELECT ROUND(AVG(area_km2), 2) FROM countries WHERE subregion = ${lit(p.subregion!)}`,
    phrasings: [
      (p) => `What is the average area in km² of the countries in ${p.subregion}, rounded to 2 decimals?`,
      (p) => `On average, how large are the countries of ${p.subregion}? Round to 2 decimals.`,
      (p) => `Compute the mean area (km², 2 decimals) of the countries in ${p.subregion}.`,
      (p) =>
        `What is the typical country size in ${p.subregion}, as the average area in km² rounded to 2 decimals?`,
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
      (p) => `Give each subregion of ${p.region} with its number of countries.`,
      (p) => `How are the countries of ${p.region} spread over its subregions? Give subregion and count.`,
    ],
  },
  {
    id: 'rank-area-in-subregion',
    difficulty: 'medium',
    skill: 'window',
    params: 'SELECT name FROM countries WHERE subregion IS NOT NULL AND area_km2 IS NOT NULL ORDER BY code',
    sql: (p) =>
      `SELECT r FROM (SELECT name, RANK() OVER (PARTITION BY subregion ORDER BY area_km2 DESC) AS r FROM countries WHERE subregion IS NOT NULL AND area_km2 IS NOT NULL) WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Where does ${p.name} rank by area within its subregion (1 = largest)?`,
      (p) =>
        `Ranked by area among the countries of its own subregion, what position does ${p.name} take, counting the largest as 1?`,
      (p) => `What is ${p.name}'s area rank inside its subregion, largest country first?`,
      (p) =>
        `Sort the countries of ${p.name}'s subregion by area, largest first: at which rank is ${p.name}?`,
    ],
  },
  {
    id: 'largest-per-subregion',
    difficulty: 'hard',
    skill: 'window',
    params: 'SELECT DISTINCT region FROM countries WHERE subregion IS NOT NULL ORDER BY region',
    sql: (p) =>
      `SELECT subregion, name FROM (SELECT subregion, name, ROW_NUMBER() OVER (PARTITION BY subregion ORDER BY area_km2 DESC, name) AS rn FROM countries WHERE region = ${lit(p.region!)} AND subregion IS NOT NULL AND area_km2 IS NOT NULL) WHERE rn = 1`,
    phrasings: [
      (p) => `For each subregion of ${p.region}, which country has the largest area?`,
      (p) => `Give every subregion of ${p.region} together with its biggest country by area.`,
      (p) => `Which is the largest country of each subregion in ${p.region}? List subregion and country.`,
      (p) => `Per subregion of ${p.region}, name the country covering the most km².`,
    ],
  },
  {
    id: 'area-share-of-region',
    difficulty: 'hard',
    skill: 'window',
    params: 'SELECT name FROM countries WHERE area_km2 IS NOT NULL ORDER BY code',
    sql: (p) =>
      `SELECT share FROM (SELECT name, ROUND(100.0 * area_km2 / SUM(area_km2) OVER (PARTITION BY region), 2) AS share FROM countries WHERE area_km2 IS NOT NULL) WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `What percentage of the total area of its region does ${p.name} cover? Round to 2 decimals.`,
      (p) =>
        `${p.name}'s area is what share (in percent, 2 decimals) of the summed area of all countries in its region?`,
      (p) => `How many percent of its region's land area belong to ${p.name}, rounded to 2 decimals?`,
      (p) => `Give ${p.name}'s area as a percentage of its region's total, to 2 decimals.`,
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
      (p) => `Name the ${p.region} countries with a language count above ${p.k}.`,
      (p) => `In ${p.region}, which countries have strictly more than ${p.k} languages listed?`,
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
      (p) => `Name the countries that share ${p.name}'s subregion and cover more km² than ${p.name}.`,
      (p) => `Within ${p.name}'s subregion, which countries are bigger than ${p.name}?`,
    ],
  },
  {
    id: 'shared-language',
    difficulty: 'hard',
    skill: 'multi-join',
    params: WITH_LANGUAGES,
    sql: (p) =>
      `SELECT DISTINCT o.name FROM countries c JOIN country_languages a ON a.country_code = c.code JOIN country_languages b ON b.language_code = a.language_code JOIN countries o ON o.code = b.country_code WHERE c.name = ${lit(p.name!)} AND o.code <> c.code`,
    phrasings: [
      (p) => `Which other countries share at least one language with ${p.name}?`,
      (p) => `List the countries (other than ${p.name}) that speak a language also spoken in ${p.name}.`,
      (p) => `Name every country besides ${p.name} that has one of ${p.name}'s languages.`,
      (p) => `With which countries does ${p.name} have a language in common?`,
    ],
  },
  {
    id: 'languages-of-neighbors',
    difficulty: 'hard',
    skill: 'multi-join',
    params: WITH_BORDERS,
    sql: (p) =>
      `SELECT DISTINCT l.name FROM borders b JOIN countries c ON c.code = b.country_code JOIN country_languages cl ON cl.country_code = b.neighbor_code JOIN languages l ON l.code = cl.language_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which languages are spoken in the countries that border ${p.name}?`,
      (p) => `List the distinct languages of ${p.name}'s land neighbours.`,
      (p) => `What languages would you hear across ${p.name}'s land borders? Give each once.`,
      (p) => `Name every language spoken in at least one neighbouring country of ${p.name}.`,
    ],
  },
  {
    id: 'currencies-of-neighbors',
    difficulty: 'hard',
    skill: 'multi-join',
    params: WITH_BORDERS,
    sql: (p) =>
      `SELECT DISTINCT cu.name FROM borders b JOIN countries c ON c.code = b.country_code JOIN country_currencies cc ON cc.country_code = b.neighbor_code JOIN currencies cu ON cu.code = cc.currency_code WHERE c.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which currencies are used in the countries bordering ${p.name}?`,
      (p) => `List the distinct currencies of ${p.name}'s neighbouring countries.`,
      (p) => `What money is in use across ${p.name}'s land borders? Give each currency once.`,
      (p) => `Name every currency used by at least one land neighbour of ${p.name}.`,
    ],
  },
  {
    id: 'neighbors-in-other-region',
    difficulty: 'hard',
    skill: 'join',
    params: WITH_BORDERS,
    sql: (p) => `SELECT n.name ${JOIN_NEIGHBORS} WHERE c.name = ${lit(p.name!)} AND n.region <> c.region`,
    phrasings: [
      (p) => `Which neighbours of ${p.name} lie in a different region than ${p.name}?`,
      (p) => `List the countries bordering ${p.name} that belong to another region.`,
      (p) => `Name ${p.name}'s land neighbours outside its own region.`,
      (p) => `Which countries share a border with ${p.name} but are in a different region?`,
    ],
  },
];

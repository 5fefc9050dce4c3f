import { z } from 'zod';
import { symptomsIn } from '../patient/question-matcher.ts';

/**
 * Any JSON value. AgentClinic's evaluator hands whole record parts to its LLM actors as text, so
 * the published files put arrays and objects wherever a string would do; the loader reads them all.
 */
export type Loose = string | number | boolean | null | Loose[] | { [key: string]: Loose };
export const LooseSchema: z.ZodType<Loose> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(LooseSchema),
    z.record(z.string(), LooseSchema),
  ]),
);

/** The family of an imported case: its diagnosis as a slug, so presentations of one diagnosis share it. */
export function familyOfDiagnosis(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)
    .replace(/-$/, '');
  return slug.length > 0 ? slug : 'unnamed';
}

/** A record key as words: "Past_Medical_History" → "Past Medical History". */
export const keyWords = (key: string) => key.replace(/_/g, ' ').replace(/\s+/g, ' ').trim();

/** Field names that label a test's result rather than name a test ("Findings", "Result", "Level"). */
export const RESULT_FIELDS =
  /^(findings?|results?|interpretation|impression|level|levels|value|values|report|description|scores?|activity|normal|optional|analysis|histopathology|histology|details|outcome|readings?)$/i;

/**
 * A value as one text: strings as they are, arrays joined with ", ", objects as "Key: value; …"
 * (a lone result field such as `{"Findings": "…"}` is just its value).
 */
export function textOf(value: Loose | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object') return String(value).trim();
  if (Array.isArray(value))
    return value
      .map(textOf)
      .filter((t) => t.length > 0)
      .join(', ');
  const entries = Object.entries(value).filter(([, v]) => textOf(v).length > 0);
  if (entries.length === 1 && RESULT_FIELDS.test(keyWords((entries[0] as [string, Loose])[0])))
    return textOf((entries[0] as [string, Loose])[1]);
  return entries.map(([k, v]) => `${keyWords(k)}: ${textOf(v)}`).join('; ');
}

/** A value as a list of texts: each array item or object entry on its own. */
export function itemsOf(value: Loose | undefined): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(itemsOf);
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${keyWords(k)}: ${textOf(v)}`);
  const text = String(value).trim();
  return text.length > 0 ? [text] : [];
}

const FEMALE = /\b(female|woman|girl|daughter|lady|f)\b/i;
const MALE = /\b(male|man|boy|son|gentleman|m)\b/i;

/**
 * "45-year-old female", "A 6 month old boy", "Age: 32 years; Sex: Female" → age in years and sex,
 * each undefined when the text does not say. The sex word right after the age wins ("the mother of
 * a 2-year-old boy" is about a boy); pronouns decide only when no noun does.
 */
export function parseDemographics(text: string): { age?: number; sex?: 'male' | 'female' } {
  const ageMatch = /(\d+(?:\.\d+)?)[\s-]*(years?|yrs?|y\/o|yo|months?|mo|weeks?|wk|days?|hours?)\b/i.exec(
    text,
  );
  const age = ageMatch
    ? /^(y|yr|yo|year)/i.test(ageMatch[2] ?? '')
      ? Math.min(110, Math.floor(Number(ageMatch[1])))
      : 0
    : undefined;
  const near = ageMatch ? text.slice(ageMatch.index, ageMatch.index + ageMatch[0].length + 30) : '';
  const sexOf = (t: string): 'male' | 'female' | undefined => {
    const f = FEMALE.exec(t);
    const m = MALE.exec(t);
    if (f && m) return f.index < m.index ? 'female' : 'male';
    return f ? 'female' : m ? 'male' : undefined;
  };
  const sex =
    sexOf(near) ??
    sexOf(text) ??
    (/\b(she|her)\b/i.test(text) ? 'female' : /\b(he|his)\b/i.test(text) ? 'male' : undefined);
  return { ...(age !== undefined ? { age } : {}), ...(sex ? { sex } : {}) };
}

/** [°C, heart rate, blood pressure, respiratory rate, SpO2]; a sign the text lacks is taken as normal. */
export function parseVitals(text: string): [number, number, string, number, number] {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const celsius = num(/(\d{2}(?:\.\d)?)\s*°?\s*C\b/i);
  const fahrenheit = num(/(\d{2,3}(?:\.\d)?)\s*°?\s*F\b/i);
  const temperature =
    celsius ?? (fahrenheit !== undefined ? Math.round((((fahrenheit - 32) * 5) / 9) * 10) / 10 : 37);
  return [
    temperature,
    Math.round(num(/(?:heart rate|pulse|HR)\D{0,8}(\d{2,3})/i) ?? 80),
    /(\d{2,3}\/\d{2,3})/.exec(text)?.[1] ?? '120/80',
    Math.round(num(/(?:respiratory rate|respirations|RR)\D{0,8}(\d{1,2})/i) ?? 16),
    Math.min(100, Math.round(num(/(?:SpO2|saturation|O2 sat)\D{0,12}(\d{2,3})\s*%/i) ?? 98)),
  ];
}

/** Negations that open a clause of denied symptoms ("Denies fever or cough", "No vomiting"). */
const NEGATED_CLAUSE = /\b(denies|denied|no|not|without|negative for|absence of|never)\b|n['’]t\b/i;

/**
 * A review of systems read clause by clause: symptoms in a clause with a negation are denied, the
 * others are present ("Reports a rash. Denies fever." → rash present, fever denied).
 */
export function reviewOfSystems(text: string): { present: Map<string, string>; denied: string[] } {
  const present = new Map<string, string>();
  const denied = new Set<string>();
  for (const clause of text.split(/[.;]|\bbut\b|\bhowever\b/i)) {
    const keys = symptomsIn(clause);
    if (keys.length === 0) continue;
    const negation = NEGATED_CLAUSE.exec(clause);
    for (const key of keys) {
      if (negation) denied.add(key);
      else if (!present.has(key)) present.set(key, clause.trim());
    }
  }
  for (const key of present.keys()) denied.delete(key);
  return { present, denied: [...denied] };
}

import { MAX_KEY_EXAMS } from '../case-bank.ts';
import type { TestCatalogue } from '../catalogue.ts';
import { keyWords, type Loose, RESULT_FIELDS, textOf } from './record-text.ts';

/** One test a record reports. */
export interface RecordTest {
  /** The name as the record gives it; a test inside a named group carries the group ("Biopsy: Cervical Lymph Node"). */
  name: string;
  result: string;
  /** The record marks it optional ("Optional": …, or a result that starts "Optional"): orderable, not required. */
  optional: boolean;
}

/** Group names that only sort tests ("Imaging", "Laboratory_Tests", "Blood_Work"), so a test inside keeps its own name. */
const CATEGORY_WORDS = new Set([
  'imaging',
  'studies',
  'study',
  'laboratory',
  'lab',
  'labs',
  'blood',
  'tests',
  'test',
  'work',
  'bloodwork',
  'basic',
  'additional',
  'special',
  'investigations',
  'investigation',
  'results',
  'other',
  'initial',
  'further',
  'routine',
  'diagnostic',
  'diagnostics',
  'testing',
  'findings',
  'information',
  'and',
  'of',
  'the',
]);

/** Whether a group name only sorts tests ("Imaging", "Laboratory studies"). */
export const isCategory = (name: string) =>
  keyWords(name)
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w.length > 0)
    .every((w) => CATEGORY_WORDS.has(w));

const isObject = (v: Loose | undefined): v is { [key: string]: Loose } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value without its result-field wrapper (`{"Findings": "…"}` → "…", `{"Results": {…}}` → {…}). */
function unwrap(value: Loose): Loose {
  if (!isObject(value)) return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && RESULT_FIELDS.test(keyWords((entries[0] as [string, Loose])[0])))
    return unwrap((entries[0] as [string, Loose])[1]);
  return value;
}

const isOptional = (value: Loose) =>
  (isObject(value) && Object.keys(value).some((k) => /^optional$/i.test(k))) ||
  /^\s*optional\b/i.test(textOf(value));

/**
 * The tests of a `Test_Results` tree. A key names a test when its value is text, a list, an object
 * of result fields, or when the key itself is a known test ("Complete_Blood_Count": {…}). A key
 * names a group when its value holds objects, when it is a category word ("Imaging",
 * "Laboratory_Tests"), or when most of its keys are known tests; a test in a group that is not a
 * category keeps the group in its name. So `"Barium_Enema": {"Findings": …}` is the test
 * "Barium Enema" with its findings as the result, never a test called "Findings".
 */
export function recordTests(tree: Loose, catalogue: TestCatalogue, group?: string): RecordTest[] {
  if (!isObject(tree)) {
    const result = textOf(tree);
    return result.length > 0 ? [{ name: group ?? 'Investigations', result, optional: isOptional(tree) }] : [];
  }
  const tests: RecordTest[] = [];
  for (const [key, raw] of Object.entries(tree)) {
    const own = keyWords(key);
    const name = group && !isCategory(group) ? `${keyWords(group)}: ${own}` : own;
    const value = unwrap(raw);
    if (isObject(value) && !catalogue.resolveLoosely(own)) {
      const children = Object.entries(value);
      const known = children.filter(([k]) => catalogue.resolveLoosely(keyWords(k))).length;
      const holdsObjects = children.some(([, v]) => isObject(v));
      if (holdsObjects || isCategory(own) || known * 2 > children.length) {
        tests.push(...recordTests(value, catalogue, name));
        continue;
      }
    }
    const result = textOf(value);
    if (result.length > 0) tests.push({ name, result, optional: isOptional(raw) });
  }
  return tests;
}

/** What a case keeps of a record's tests: results by catalogue id or by the test's own name, and the key exams. */
export interface ImportedTests {
  results: Record<string, string>;
  keyExams: string[];
  /** Required tests beyond MAX_KEY_EXAMS, left out of the key exams. */
  dropped: string[];
}

/**
 * Tests resolved to catalogue ids where the name means one (loosely: "X-Ray_Knee" is a limb X-ray),
 * otherwise kept under their own name as tests only this case offers. Two record tests that mean
 * the same catalogue test share its report. Optional tests are results, never key exams.
 */
export function importTests(tests: readonly RecordTest[], catalogue: TestCatalogue): ImportedTests {
  const results: Record<string, string> = {};
  const required: string[] = [];
  for (const test of tests) {
    const known = catalogue.resolveLoosely(test.name.replace(/:/g, ' '));
    const key = known?.id ?? test.name;
    const line =
      known && known.name.toLowerCase() !== test.name.toLowerCase()
        ? `${test.name}: ${test.result}`
        : test.result;
    results[key] = results[key] ? `${results[key]}; ${line}` : line;
    if (!test.optional && !required.includes(key)) required.push(key);
  }
  return { results, keyExams: required.slice(0, MAX_KEY_EXAMS), dropped: required.slice(MAX_KEY_EXAMS) };
}

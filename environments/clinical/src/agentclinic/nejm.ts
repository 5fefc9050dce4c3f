import { z } from 'zod';
import { type ClinicalCaseInput, EXAM_SYSTEMS, type ExamSystem } from '../case.ts';
import type { TestCatalogue } from '../catalogue.ts';
import { symptomsIn } from '../patient/question-matcher.ts';
import { firstPerson } from './first-person.ts';
import { importTests, isCategory, type RecordTest } from './record-tests.ts';
import {
  familyOfDiagnosis,
  LooseSchema,
  parseDemographics,
  parseVitals,
  reviewOfSystems,
  textOf,
} from './record-text.ts';

/**
 * AgentClinic's NEJM record (NEJM and NEJM-extended): `{ image_url, question, patient_info,
 * physical_exams, answers: [{ text, correct }], type? }`. AgentClinic's evaluator (`ScenarioNEJM` in
 * agentclinic.py) gives the doctor only "What is the most likely diagnosis?", the patient actor
 * `patient_info`, the measurement actor `physical_exams`, and grades against the first correct
 * answer. `question` (the published vignette) never reaches the doctor. NEJM shows the doctor the
 * image at `image_url`; ToolGym's tools are text, so every NEJM case here is text-only, as in
 * AgentClinic's NEJM-extended setting.
 */
export const NejmRecordSchema = z.looseObject({
  image_url: LooseSchema.optional(),
  question: LooseSchema.optional(),
  patient_info: LooseSchema.optional(),
  physical_exams: LooseSchema.optional(),
  answers: z.array(z.looseObject({ text: LooseSchema, correct: z.union([z.boolean(), z.string()]) })),
  type: LooseSchema.optional(),
});
export type NejmRecord = z.infer<typeof NejmRecordSchema>;

/** What AgentClinic's doctor is told for every NEJM case. */
export const NEJM_OBJECTIVE = 'What is the most likely diagnosis?';

/** The physical examination of a NEJM case is in the image and the vignette, neither of which the doctor sees. */
const NOT_RECORDED = 'No findings are recorded for this system.';

/** "The provided text does not contain specific instrument readings…": a record with no tests. */
const NO_TESTS =
  /\b(does not|do not|doesn['’]t) (contain|include|provide|mention)|haven['’]t provided|no specific (test|instrument)|cannot (extract|specify)/i;
/** An opening line that introduces the list rather than reports a test. */
const PREAMBLE =
  /\b(information|as follows|includes?|following|extracted|relevant to|instrument reader|test results from|readings and test results)\b/i;
/** A test performed with no result given. */
const NO_RESULT =
  /\b(not (provided|detailed|specified|mentioned|given)|performed\.?$|completed\.?$|obtained\b)/i;
const REPORTING_VERB =
  /^(.{3,80}?)\s+(?:showed|shows|revealed|revealing|demonstrated|indicated|found|grew|identified)\s+(.+)$/i;

const cleanName = (name: string) =>
  name
    .replace(/[:\s]+$/, '')
    .replace(/\b(findings|results?|test results|level|levels|information)\s*$/i, '')
    .replace(/^(the|a|an)\s+/i, '')
    .trim();

/**
 * The tests of a `physical_exams` text, which is free prose from an extraction model: "Name: result"
 * lines and bullets, numbered items, "X showed Y" sentences, and headings ("Laboratory studies:")
 * whose bullets without a name of their own form one test under the heading.
 */
export function nejmTests(text: string): RecordTest[] {
  const lines = text
    .replace(/\*\*/g, '')
    // A heading glued to the end of the previous item's value ("…: 2660 (ref 40-200) Urinalysis: - Hematuria").
    .replace(/(?<=:[^:\n]*[\w)])\s+(?=[A-Z][A-Za-z]+(?: [a-z]+){0,3}:\s*-)/g, '\n')
    .replace(/(^|\s)-\s+/g, '\n')
    .replace(/(^|\s)\d+\.\s+(?=[A-Z])/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const named = lines.some((l) => /^[^:]{2,80}:\s*\S/.test(l));
  if (NO_TESTS.test(text) && !named) return [];
  const tests: RecordTest[] = [];
  const byName = new Map<string, RecordTest>();
  const add = (name: string, result: string) => {
    const n = cleanName(name) || 'Investigations';
    const r = result.trim().replace(/\s+/g, ' ');
    if (r.length === 0) return;
    const existing = byName.get(n.toLowerCase());
    if (existing) {
      existing.result = `${existing.result}; ${r}`;
      return;
    }
    const test = { name: n, result: r, optional: NO_RESULT.test(r) };
    byName.set(n.toLowerCase(), test);
    tests.push(test);
  };
  let heading: string | undefined;
  for (const [index, line] of lines.entries()) {
    const colon = /^([^:]{2,80}?):\s*(.*)$/.exec(line);
    if (colon && (colon[2] as string).length === 0) {
      heading = index === 0 && PREAMBLE.test(colon[1] as string) ? undefined : (colon[1] as string);
      continue;
    }
    if (colon && !(index === 0 && PREAMBLE.test(colon[1] as string))) {
      const own = colon[1] as string;
      add(heading && !isCategory(heading) ? `${heading}: ${own}` : own, colon[2] as string);
      continue;
    }
    if (index === 0 && PREAMBLE.test(line) && lines.length > 1) continue;
    for (const sentence of line.split(/(?<=\.)\s+(?=[A-Z])/)) {
      const verb = REPORTING_VERB.exec(sentence.replace(/\.$/, ''));
      if (verb && !heading) add(verb[1] as string, verb[2] as string);
      else add(heading ?? 'Investigations', sentence);
    }
  }
  return tests;
}

const SPECIALTY_OF_TYPE: Array<[RegExp, ClinicalCaseInput['specialty']]> = [
  [/dermatology/i, 'dermatology'],
  [/ophthalmology/i, 'ent-ophthalmology'],
];

/** A NEJM record as a case; the incorrect answers become its differential. */
export function nejmCase(
  record: NejmRecord,
  id: string,
  catalogue: TestCatalogue,
): { input: ClinicalCaseInput; droppedKeyExams: string[] } | { error: string } {
  if (record.patient_info === undefined) return { error: 'the record has no patient_info' };
  const correct = record.answers.find((a) => a.correct === true || a.correct === 'true');
  const name = correct ? textOf(correct.text) : '';
  if (!correct || name.length < 2) return { error: 'no answer is marked correct' };
  const briefing = textOf(record.patient_info);
  const own = parseDemographics(briefing);
  const vignette = parseDemographics(textOf(record.question ?? null));
  const age = own.age ?? vignette.age ?? 40;
  const sex = own.sex ?? vignette.sex ?? 'male';
  const speaker = { child: age < 12, sex };
  const words = firstPerson(briefing, speaker);
  const sentences = words.split(/(?<=[.!?])\s+/).filter((s) => s.length > 0);
  const complaint =
    sentences.length > 1 &&
    /^(I am|My (son|daughter|baby) is) an? [\w -]{3,40}\.$/.test(sentences[0] as string)
      ? `${sentences[0]} ${sentences[1]}`
      : (sentences[0] ?? 'I am not feeling well.');
  const symptoms: Record<string, string> = {};
  const { present, denied } = reviewOfSystems(words);
  for (const [key, clause] of present) symptoms[key] = `${clause.replace(/\.$/, '')}.`;
  for (const s of sentences) for (const key of symptomsIn(s)) if (!denied.includes(key)) symptoms[key] ??= s;
  const examText = textOf(record.physical_exams ?? null);
  const tests = importTests(nejmTests(examText), catalogue);
  const exam = Object.fromEntries(
    EXAM_SYSTEMS.filter((s) => s !== 'vitals').map((s) => [s, NOT_RECORDED]),
  ) as Partial<Record<ExamSystem, string>>;
  const type = textOf(record.type ?? null);
  return {
    input: {
      id,
      specialty: SPECIALTY_OF_TYPE.find(([re]) => re.test(type))?.[1] ?? 'general',
      family: familyOfDiagnosis(name),
      age,
      sex,
      complaint,
      history: { onset: words.length > 0 ? words : complaint },
      symptoms,
      denies: denied.filter((k) => !symptoms[k]),
      vitals: parseVitals(examText),
      exam,
      results: tests.results,
      keyExams: tests.keyExams,
      diagnosis: { name, aliases: [] },
      differential: record.answers
        .filter((a) => a !== correct)
        .map((a) => textOf(a.text))
        .filter((t) => t.length > 0),
      source: 'agentclinic',
      objective: NEJM_OBJECTIVE,
    },
    droppedKeyExams: tests.dropped,
  };
}

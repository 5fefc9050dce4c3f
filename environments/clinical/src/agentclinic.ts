import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ClinicalCase, ClinicalCaseInput, ExamSystem } from './case.ts';
import { CaseDataError, validateCase } from './case-bank.ts';
import { defaultCatalogue, type TestCatalogue } from './catalogue.ts';
import { symptomsIn } from './patient/question-matcher.ts';
import { resolveExamSystem } from './physical-exam.ts';

/**
 * AgentClinic's published OSCE case format (AgentClinic-MedQA JSONL, Schmidgall et al., 2024): one
 * JSON object per line, `{ "OSCE_Examination": { Objective_for_Doctor, Patient_Actor,
 * Physical_Examination_Findings, Test_Results, Correct_Diagnosis } }`. Findings and results are
 * free-form nested objects; they are flattened to "Key: value" text.
 */
const Nested: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(Nested), z.record(z.string(), Nested)]),
);

export const AgentClinicCaseSchema = z.object({
  OSCE_Examination: z.object({
    Objective_for_Doctor: z.string().optional(),
    Patient_Actor: z.object({
      Demographics: z.string(),
      History: z.string(),
      Symptoms: z
        .object({ Primary_Symptom: z.string(), Secondary_Symptoms: z.array(z.string()).default([]) })
        .partial({ Secondary_Symptoms: true })
        .optional(),
      Past_Medical_History: z.string().optional(),
      Social_History: z.string().optional(),
      Review_of_Systems: z.string().optional(),
    }),
    Physical_Examination_Findings: z.record(z.string(), Nested).default({}),
    Test_Results: z.record(z.string(), Nested).default({}),
    Correct_Diagnosis: z.string().min(1),
  }),
});
export type AgentClinicCase = z.infer<typeof AgentClinicCaseSchema>;

function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object') return [[prefix, String(value)]];
  if (Array.isArray(value))
    return [[prefix, value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')]];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    flatten(v, prefix ? `${prefix} ${k.replace(/_/g, ' ')}` : k.replace(/_/g, ' ')),
  );
}

const text = (value: unknown) =>
  flatten(value)
    .map(([k, v]) => (k ? `${k}: ${v}` : v))
    .join('; ');

/** "45-year-old female" / "A 6 month old boy" → age in years and sex. */
function parseDemographics(demographics: string): { age: number; sex: 'male' | 'female' } {
  const ageMatch = /(\d+)[\s-]*(year|yr|month|week|day)/i.exec(demographics);
  const n = ageMatch ? Number(ageMatch[1]) : 40;
  const age = ageMatch && !/year|yr/i.test(ageMatch[2] ?? '') ? 0 : Math.min(110, n);
  const sex = /\b(female|woman|girl|lady|f)\b/i.test(demographics) ? 'female' : 'male';
  return { age, sex };
}

function slug(textValue: string): string {
  return textValue
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
}

/** One AgentClinic case as a ClinicalCase: vitals parsed where present, tests resolved to catalogue ids where known. */
export function fromAgentClinic(
  raw: AgentClinicCase,
  id: string,
  catalogue: TestCatalogue = defaultCatalogue(),
): ClinicalCaseInput {
  const osce = raw.OSCE_Examination;
  const actor = osce.Patient_Actor;
  const { age, sex } = parseDemographics(actor.Demographics);
  const exam: Partial<Record<ExamSystem, string>> = {};
  let vitalsText = '';
  for (const [key, value] of Object.entries(osce.Physical_Examination_Findings)) {
    if (/vital/i.test(key)) {
      vitalsText = text(value);
      continue;
    }
    const system =
      resolveExamSystem(
        key
          .replace(/_/g, ' ')
          .replace(/examination|exam|findings/gi, '')
          .trim(),
      ) ?? 'general';
    exam[system] = exam[system] ? `${exam[system]}; ${text(value)}` : text(value);
  }
  const results: Record<string, string | number> = {};
  const keyExams: string[] = [];
  for (const [group, value] of Object.entries(osce.Test_Results)) {
    // A group is one test ("Chest_X-Ray": "...", or "Urinalysis": {...} when the group itself is a
    // known test) or a set of named tests ("Blood_Tests": {...}).
    const isSet =
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      !catalogue.resolve(group.replace(/_/g, ' '));
    const entries = isSet
      ? Object.entries(value as Record<string, unknown>)
      : [[group, value] as [string, unknown]];
    for (const [name, result] of entries) {
      const label = name.replace(/_/g, ' ');
      const known = catalogue.resolve(label);
      const resultText = text(result);
      const key = known?.id ?? label;
      results[key] = results[key]
        ? `${results[key]}; ${label}: ${resultText}`
        : known
          ? `${label}: ${resultText}`
          : resultText;
      if (!keyExams.includes(key)) keyExams.push(key);
    }
  }
  const num = (re: RegExp) => {
    const m = re.exec(vitalsText);
    return m ? Number(m[1]) : undefined;
  };
  const bp = /(\d{2,3}\/\d{2,3})/.exec(vitalsText)?.[1] ?? '120/80';
  const secondary = actor.Symptoms?.Secondary_Symptoms ?? [];
  const symptoms: Record<string, string> = {};
  for (const s of [actor.Symptoms?.Primary_Symptom ?? '', ...secondary]) {
    for (const key of symptomsIn(s)) symptoms[key] = `Yes — ${s.charAt(0).toLowerCase()}${s.slice(1)}.`;
  }
  // "Denies chest pain, fever or dysuria." → those symptoms are denied.
  const denies = /\b(denies|no)\b/i.test(actor.Review_of_Systems ?? '')
    ? symptomsIn(actor.Review_of_Systems ?? '').filter((k) => !symptoms[k])
    : [];
  const history: ClinicalCaseInput['history'] = {
    onset: actor.History,
    ...(actor.Past_Medical_History ? { pmh: actor.Past_Medical_History } : {}),
    ...(actor.Social_History
      ? { occupation: actor.Social_History, smoking: actor.Social_History, alcohol: actor.Social_History }
      : {}),
  };
  return {
    id,
    specialty: 'general',
    age,
    sex,
    complaint: actor.Symptoms?.Primary_Symptom ? `${actor.Symptoms.Primary_Symptom}.` : actor.History,
    history,
    symptoms,
    denies,
    vitals: [
      num(/(\d{2}(?:\.\d)?)\s*°?\s*C/i) ?? 37,
      Math.round(num(/(?:heart rate|pulse|HR)\D{0,5}(\d{2,3})/i) ?? 80),
      bp,
      Math.round(num(/(?:respiratory rate|RR)\D{0,5}(\d{1,2})/i) ?? 16),
      Math.round(num(/(?:SpO2|saturation|O2)\D{0,12}(\d{2,3})\s*%/i) ?? 98),
    ],
    exam,
    results,
    keyExams: keyExams.slice(0, 8).length > 0 ? keyExams.slice(0, 8) : ['cbc'],
    diagnosis: { name: osce.Correct_Diagnosis, aliases: [] },
    differential: [],
    source: 'agentclinic',
    ...(osce.Objective_for_Doctor ? { objective: osce.Objective_for_Doctor } : {}),
  };
}

export interface AgentClinicLoad {
  cases: ClinicalCase[];
  /** Lines that could not be used, with the reason (a malformed line, a case whose patient text names its diagnosis). */
  skipped: Array<{ line: number; reason: string }>;
}

/** Reads an AgentClinic JSONL file. Bad lines are skipped and reported, never silently dropped. */
export function loadAgentClinicJsonl(
  file: string,
  catalogue: TestCatalogue = defaultCatalogue(),
): AgentClinicLoad {
  const lines = readFileSync(file, 'utf8').split('\n');
  const base = slug(path.basename(file, path.extname(file)));
  const cases: ClinicalCase[] = [];
  const skipped: AgentClinicLoad['skipped'] = [];
  lines.forEach((line, index) => {
    if (line.trim().length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      skipped.push({ line: index + 1, reason: `not JSON: ${(error as Error).message}` });
      return;
    }
    const parsed = AgentClinicCaseSchema.safeParse(json);
    if (!parsed.success) {
      skipped.push({
        line: index + 1,
        reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      });
      return;
    }
    const id = `ac-${base}-${index + 1}-${slug(parsed.data.OSCE_Examination.Correct_Diagnosis)}`
      .slice(0, 80)
      .replace(/-$/, '');
    try {
      cases.push(
        validateCase(fromAgentClinic(parsed.data, id, catalogue), catalogue, { strictTests: false }),
      );
    } catch (error) {
      if (!(error instanceof CaseDataError)) throw error;
      skipped.push({ line: index + 1, reason: error.message });
    }
  });
  return { cases, skipped };
}

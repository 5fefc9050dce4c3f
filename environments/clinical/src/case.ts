import { z } from 'zod';
import { HISTORY_FIELDS } from './patient/history-fields.ts';

/** Body systems `physical_exam` knows; a case describes the ones it has findings for. */
export const EXAM_SYSTEMS = [
  'general',
  'vitals',
  'heent',
  'neck',
  'cardiovascular',
  'respiratory',
  'abdominal',
  'neurological',
  'musculoskeletal',
  'skin',
  'extremities',
  'genitourinary',
  'psychiatric',
  'lymphatic',
] as const;
export type ExamSystem = (typeof EXAM_SYSTEMS)[number];

export const SPECIALTIES = [
  'cardiology',
  'pulmonology',
  'gastroenterology',
  'neurology',
  'endocrinology',
  'infectious-disease',
  'nephrology-urology',
  'hematology-oncology',
  'rheumatology',
  'obstetrics-gynecology',
  'emergency-toxicology',
  'psychiatry',
  'dermatology',
  'ent-ophthalmology',
  'pediatrics',
  'general',
] as const;

const ICD10 = /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;

/**
 * One structured case. Patient-facing text (`complaint`, `history`, `symptoms`) is in the
 * patient's own words; the diagnosis, differential and key exams are gold data the patient never
 * sees.
 */
export const ClinicalCaseSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/, 'case ids are lowercase words joined by dashes'),
  specialty: z.enum(SPECIALTIES),
  /**
   * The case family: the diagnosis entity the case presents (`pulmonary-embolism`), shared by every
   * presentation of it. The test split holds out whole families, so no test diagnosis has a train case.
   */
  family: z.string().regex(/^[a-z0-9-]+$/, 'family ids are lowercase words joined by dashes'),
  age: z.number().int().min(0).max(110),
  sex: z.enum(['male', 'female']),
  /** The opening complaint in the patient's words ("I've had chest pain for two hours."). */
  complaint: z.string().min(5),
  history: z.partialRecord(z.enum(HISTORY_FIELDS), z.string().min(1)).default({}),
  /** Symptoms the patient has: symptom key → the patient's description. */
  symptoms: z.record(z.string(), z.string().min(1)).default({}),
  /** Symptom keys the patient denies. */
  denies: z.array(z.string()).default([]),
  /** Temperature °C, heart rate /min, blood pressure mmHg, respiratory rate /min, SpO2 % on air. */
  vitals: z.tuple([
    z.number(),
    z.number().int(),
    z.string().regex(/^\d{2,3}\/\d{2,3}$/),
    z.number().int(),
    z.number().int(),
  ]),
  /** Findings per body system; systems not listed are normal. */
  exam: z.partialRecord(z.enum(EXAM_SYSTEMS), z.string().min(1)).default({}),
  /**
   * Results by catalogue test id (a number for a measured value, a sentence for a report), or by
   * a free test name for a test only this case offers (AgentClinic imports).
   */
  results: z.record(z.string(), z.union([z.number(), z.string().min(1)])).default({}),
  /**
   * The examinations a physician would order (catalogue ids or this case's own test names). Bank
   * cases have at least one; an imported case whose record holds no test has none.
   */
  keyExams: z.array(z.string()).default([]),
  diagnosis: z.object({
    name: z.string().min(2),
    icd10: z.string().regex(ICD10, 'ICD-10 codes look like I21 or I21.1').optional(),
    aliases: z.array(z.string()).default([]),
  }),
  differential: z.array(z.string()).default([]),
  /** Where the case came from (`bank`, or the file of an import). */
  source: z.string().default('bank'),
  /** AgentClinic's `Objective_for_Doctor`, shown in the prompt when present. */
  objective: z.string().optional(),
});
export type ClinicalCase = z.infer<typeof ClinicalCaseSchema>;
export type ClinicalCaseInput = z.input<typeof ClinicalCaseSchema>;

/** Identity with a type: case data files declare cases through it. */
export function defineCase(input: ClinicalCaseInput): ClinicalCaseInput {
  return input;
}

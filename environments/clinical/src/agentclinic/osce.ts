import { z } from 'zod';
import type { ClinicalCaseInput, ExamSystem } from '../case.ts';
import type { TestCatalogue } from '../catalogue.ts';
import type { HistoryField } from '../patient/history-fields.ts';
import { symptomsIn } from '../patient/question-matcher.ts';
import { resolveExamSystem } from '../physical-exam.ts';
import { firstPerson, type Speaker } from './first-person.ts';
import { importTests, recordTests } from './record-tests.ts';
import {
  familyOfDiagnosis,
  itemsOf,
  keyWords,
  type Loose,
  LooseSchema,
  parseDemographics,
  parseVitals,
  reviewOfSystems,
  textOf,
} from './record-text.ts';

/**
 * AgentClinic's OSCE record (MedQA and MedQA-extended): `{ "OSCE_Examination": { Objective_for_Doctor,
 * Patient_Actor, Physical_Examination_Findings, Test_Results, Correct_Diagnosis } }`. AgentClinic's
 * evaluator (`ScenarioMedQA` in agentclinic.py) reads these five keys and gives each part whole to
 * an LLM actor as text, so any JSON shape loads; a part the record lacks is empty here, except the
 * patient and the diagnosis, without which there is no case.
 */
export const OsceRecordSchema = z.object({
  OSCE_Examination: z.looseObject({
    Objective_for_Doctor: LooseSchema.optional(),
    Patient_Actor: LooseSchema.optional(),
    Physical_Examination_Findings: LooseSchema.optional(),
    Test_Results: LooseSchema.optional(),
    Correct_Diagnosis: LooseSchema.optional(),
  }),
});
export type OsceRecord = z.infer<typeof OsceRecordSchema>;

/** A diagnosis given as text, a list (the first is the name, the rest aliases) or an object of texts. */
export function diagnosisOf(value: Loose): { name: string; aliases: string[] } | undefined {
  const names = itemsOf(value)
    .map((t) => t.replace(/^[^:]{1,30}:\s*/, '').trim())
    .filter((t) => t.length >= 2);
  return names.length > 0 ? { name: names[0] as string, aliases: names.slice(1) } : undefined;
}

/** Patient_Actor keys and the history field each fills (by words of the key). */
const ACTOR_FIELDS: Array<[RegExp, HistoryField]> = [
  [/medication|drug history|current treatment/i, 'medications'],
  [/family/i, 'family'],
  [/allerg/i, 'allergies'],
  [/surg|operation/i, 'surgery'],
  [/menstru|obstetric|gyn/i, 'menstrual'],
  [/sexual/i, 'sexual'],
  [/travel/i, 'travel'],
  [/diet|nutrition/i, 'diet'],
  [/contact|exposure/i, 'contacts'],
];

/** Social history subjects and their fields ("Smoking_Status" → smoking). */
const SOCIAL_FIELDS: Array<[RegExp, HistoryField]> = [
  [/smok|tobacco|cigar/i, 'smoking'],
  [/alcohol|drink/i, 'alcohol'],
  [/drug|substance|recreational/i, 'drugs'],
  [/occupation|work|job|employ|school/i, 'occupation'],
  [/living|home|lives|housing/i, 'living'],
  [/travel/i, 'travel'],
  [/sexual/i, 'sexual'],
  [/diet/i, 'diet'],
];

function addTo(history: Partial<Record<HistoryField, string>>, field: HistoryField, text: string): void {
  if (text.length === 0) return;
  history[field] = history[field] ? `${history[field]} ${text}` : text;
}

const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

/** The body system an exam section's key names ("Lower_Extremity_Examination" → extremities). */
function examSystemOf(key: string): ExamSystem | undefined {
  const words = keyWords(key)
    .replace(/\b(examination|exam|findings|assessment)\b/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return (
    resolveExamSystem(words) ??
    words
      .split(' ')
      .map((w) => resolveExamSystem(w.replace(/ic$/i, 'ical')) ?? resolveExamSystem(w))
      .find((s) => s !== undefined)
  );
}

/**
 * An OSCE record as a case. The patient's texts are rewritten in the first person (the patient
 * says them verbatim); exam sections map onto body systems; the tests become results, resolved to
 * catalogue tests where the name means one; the required ones are the key exams.
 */
export function osceCase(
  record: OsceRecord,
  id: string,
  catalogue: TestCatalogue,
): { input: ClinicalCaseInput; droppedKeyExams: string[] } | { error: string } {
  const osce = record.OSCE_Examination;
  if (osce.Correct_Diagnosis === undefined) return { error: 'OSCE_Examination has no Correct_Diagnosis' };
  if (osce.Patient_Actor === undefined) return { error: 'OSCE_Examination has no Patient_Actor' };
  const diagnosis = diagnosisOf(osce.Correct_Diagnosis);
  if (!diagnosis) return { error: 'OSCE_Examination.Correct_Diagnosis holds no diagnosis text' };
  const actor: Record<string, Loose> =
    typeof osce.Patient_Actor === 'object' &&
    osce.Patient_Actor !== null &&
    !Array.isArray(osce.Patient_Actor)
      ? osce.Patient_Actor
      : { History: osce.Patient_Actor };
  const field = (pattern: RegExp) =>
    Object.entries(actor)
      .filter(([k]) => pattern.test(keyWords(k)))
      .map(([, v]) => v);
  const stated = parseDemographics(textOf(field(/demographic|^age|^sex|gender/i)));
  const told = parseDemographics(textOf(field(/history/i)));
  const age = stated.age ?? told.age ?? 40;
  const sex = stated.sex ?? told.sex ?? 'male';
  const speaker: Speaker = { child: age < 12, sex };
  // An object's entries are said one by one, so each keeps its label ("Epilepsy: Takes phenytoin").
  const say = (value: Loose | undefined) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? itemsOf(value)
          .map((item) => firstPerson(item, speaker))
          .join(' ')
      : firstPerson(textOf(value ?? null), speaker);

  const symptomsValue = field(/^symptoms?$/i)[0];
  const symptomsObject =
    typeof symptomsValue === 'object' && symptomsValue !== null && !Array.isArray(symptomsValue)
      ? symptomsValue
      : undefined;
  const primary = textOf(
    symptomsObject
      ? (Object.entries(symptomsObject).find(([k]) => /primary|chief|main/i.test(k))?.[1] ?? null)
      : null,
  );
  const secondary = symptomsObject
    ? Object.entries(symptomsObject)
        .filter(([k]) => !/primary|chief|main/i.test(k))
        .flatMap(([, v]) => itemsOf(v))
    : itemsOf(symptomsValue);
  const historyText = say(field(/^history$|present illness|^hpi$/i));

  const history: Partial<Record<HistoryField, string>> = {};
  addTo(history, 'onset', historyText);
  for (const [key, value] of Object.entries(actor)) {
    const words = keyWords(key);
    if (
      /demographic|^age$|^sex$|gender|^symptoms?$|^history$|present illness|^hpi$|review of systems/i.test(
        words,
      )
    )
      continue;
    if (/social/i.test(words)) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [subject, text] of Object.entries(value)) {
          const target = SOCIAL_FIELDS.find(([re]) => re.test(keyWords(subject)))?.[1] ?? 'occupation';
          addTo(history, target, sentence(say(text)));
        }
      } else {
        const text = say(value);
        for (const target of ['occupation', 'smoking', 'alcohol'] as const) addTo(history, target, text);
      }
      continue;
    }
    const target = ACTOR_FIELDS.find(([re]) => re.test(words))?.[1] ?? 'pmh';
    const text = say(value);
    addTo(
      history,
      target,
      target === 'pmh' && !/past medical|medical history|^pmh$/i.test(words) ? `${words}: ${text}` : text,
    );
  }

  const symptoms: Record<string, string> = {};
  for (const s of [primary, ...secondary]) {
    for (const key of symptomsIn(s))
      symptoms[key] ??= `Yes — ${firstPerson(s, speaker)
        .replace(/\.$/, '')
        .replace(/^./, (c) => c.toLowerCase())}.`;
  }
  const ros = reviewOfSystems(textOf(field(/review of systems/i)[0] ?? null));
  for (const [key, clause] of ros.present) symptoms[key] ??= firstPerson(clause, speaker);
  const denies = ros.denied.filter((k) => !symptoms[k]);

  const exam: Partial<Record<ExamSystem, string>> = {};
  let vitalsText = '';
  const findings = osce.Physical_Examination_Findings;
  const sections: Array<[string, Loose]> =
    typeof findings === 'object' && findings !== null && !Array.isArray(findings)
      ? Object.entries(findings)
      : findings === undefined
        ? []
        : [['General', findings]];
  for (const [key, value] of sections) {
    if (/vital/i.test(key)) {
      vitalsText += ` ${textOf(value)}`;
      continue;
    }
    const system = examSystemOf(key);
    const text = system ? textOf(value) : `${keyWords(key)}: ${textOf(value)}`;
    const target = system ?? 'general';
    if (text.length > 0) exam[target] = exam[target] ? `${exam[target]}; ${text}` : text;
  }

  const tests = importTests(
    osce.Test_Results === undefined ? [] : recordTests(osce.Test_Results, catalogue),
    catalogue,
  );
  const complaint = primary
    ? speaker.child
      ? firstPerson(`The child has ${primary.replace(/^./, (c) => c.toLowerCase())}`, speaker)
      : `I have ${primary.replace(/^./, (c) => c.toLowerCase()).replace(/\.$/, '')}.`
    : historyText.split(/(?<=[.!?])\s+/)[0] || 'I am not feeling well.';
  const objective = textOf(osce.Objective_for_Doctor ?? null);
  return {
    input: {
      id,
      specialty: 'general',
      family: familyOfDiagnosis(diagnosis.name),
      age,
      sex,
      complaint,
      history,
      symptoms,
      denies,
      vitals: parseVitals(vitalsText),
      exam,
      results: tests.results,
      keyExams: tests.keyExams,
      diagnosis: { name: diagnosis.name, aliases: diagnosis.aliases },
      differential: [],
      source: 'agentclinic',
      ...(objective ? { objective } : {}),
    },
    droppedKeyExams: tests.dropped,
  };
}

import { hashString, ToolGymError } from '@toolgym/protocol';
import { BANK_CASES } from '../data/cases/index.ts';
import { DIAGNOSIS_SYNONYMS } from '../data/diagnosis-synonyms.ts';
import { type ClinicalCase, type ClinicalCaseInput, ClinicalCaseSchema } from './case.ts';
import { defaultCatalogue, type TestCatalogue } from './catalogue.ts';
import { ConditionVocabulary } from './diagnosis-match.ts';
import { findLeaks } from './leak-check.ts';
import { SYMPTOMS } from './patient/symptoms.ts';

/** A case that breaks the bank's rules; the message names the case and the field to fix. */
export class CaseDataError extends ToolGymError {
  constructor(
    readonly caseId: string,
    message: string,
    hint?: string,
  ) {
    super('invalid_case', `case '${caseId}': ${message}`, hint);
  }
}

/** The most key exams a case may have: the oracle asks 3 questions, orders them and diagnoses within 12 turns. */
export const MAX_KEY_EXAMS = 8;

/**
 * Checks one case beyond its schema:
 * - no text the agent can see (the patient's words, exam findings, the case's results and the
 *   normal results of the tests it does not report) names the diagnosis or a synonym (leak-check.ts);
 * - bank cases: every family has synonyms, symptom keys are in the vocabulary, results and key
 *   exams name catalogue tests, and there is at least one key exam (imports may bring their own
 *   tests, or none);
 * - at most MAX_KEY_EXAMS key exams.
 */
export function validateCase(
  input: ClinicalCaseInput,
  catalogue: TestCatalogue,
  options: { strictTests: boolean },
): ClinicalCase {
  const id = typeof input.id === 'string' ? input.id : '(no id)';
  const parsed = ClinicalCaseSchema.safeParse(input);
  if (!parsed.success) {
    throw new CaseDataError(
      id,
      parsed.error.issues.map((i) => `${i.path.join('.') || 'case'}: ${i.message}`).join('; '),
    );
  }
  const c = parsed.data;
  const leaks = findLeaks(c, catalogue);
  if (leaks.length > 0)
    throw new CaseDataError(
      c.id,
      `the agent could read the diagnosis: ${leaks.map((l) => `${l.where} names '${l.term}'`).join('; ')}`,
    );
  if (options.strictTests) {
    if (!DIAGNOSIS_SYNONYMS[c.family])
      throw new CaseDataError(c.id, `family '${c.family}' has no entry in data/diagnosis-synonyms.ts`);
    if (c.keyExams.length === 0) throw new CaseDataError(c.id, 'no key exams; name at least one');
    for (const key of [...Object.keys(c.symptoms), ...c.denies]) {
      if (!SYMPTOMS[key])
        throw new CaseDataError(c.id, `unknown symptom key '${key}'; use one of src/patient/symptoms.ts`);
    }
    for (const testId of [...Object.keys(c.results), ...c.keyExams]) {
      if (!catalogue.get(testId))
        throw new CaseDataError(
          c.id,
          `unknown test id '${testId}'; use a catalogue id (data/test-catalogue.ts)`,
        );
    }
  }
  if (c.keyExams.length > MAX_KEY_EXAMS)
    throw new CaseDataError(c.id, `${c.keyExams.length} key exams; at most ${MAX_KEY_EXAMS}`);
  return c;
}

/**
 * The task id of a case: opaque, because the agent sees task ids and case ids name the diagnosis
 * ("neuro-bacterial-meningitis").
 */
export function taskIdOf(caseId: string): string {
  return `case-${hashString(`clinical:${caseId}`).toString(36).padStart(7, '0')}`;
}

export class CaseBank {
  readonly byId: ReadonlyMap<string, ClinicalCase>;
  private readonly byTaskId = new Map<string, ClinicalCase>();
  /** Every condition the bank knows by name (diagnoses, aliases, differentials): the shotgun check's vocabulary. */
  readonly vocabulary: ConditionVocabulary;

  constructor(
    readonly cases: readonly ClinicalCase[],
    readonly catalogue: TestCatalogue,
  ) {
    const byId = new Map<string, ClinicalCase>();
    for (const c of cases) {
      if (byId.has(c.id)) throw new CaseDataError(c.id, 'the id appears twice');
      byId.set(c.id, c);
      const taskId = taskIdOf(c.id);
      const clash = this.byTaskId.get(taskId);
      if (clash)
        throw new CaseDataError(c.id, `its task id ${taskId} collides with case '${clash.id}'; rename one`);
      this.byTaskId.set(taskId, c);
    }
    this.byId = byId;
    this.vocabulary = new ConditionVocabulary(cases);
  }

  /** The case behind a task id. */
  forTask(taskId: string): ClinicalCase {
    const c = this.byTaskId.get(taskId);
    if (!c) throw new CaseDataError(taskId, 'no case has this task id');
    return c;
  }

  get(id: string): ClinicalCase {
    const c = this.byId.get(id);
    if (!c) throw new CaseDataError(id, 'no such case in the bank');
    return c;
  }
}

let builtIn: ClinicalCase[] | undefined;

/** The hand-written cases, validated once. */
export function builtInCases(): ClinicalCase[] {
  builtIn ??= BANK_CASES.map((c) => validateCase(c, defaultCatalogue(), { strictTests: true }));
  return builtIn;
}

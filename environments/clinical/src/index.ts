import { createClinicalEnvironment } from './environment.ts';

export { DIAGNOSIS_SYNONYMS } from '../data/diagnosis-synonyms.ts';
export { DEV_PHRASINGS, HELD_OUT_PHRASINGS, type Phrasing } from '../data/phrasings.ts';
export { firstPerson, type Speaker } from './agentclinic/first-person.ts';
export {
  AgentClinicFileError,
  type AgentClinicLoad,
  loadAgentClinicFile,
  loadAgentClinicFiles,
} from './agentclinic/load.ts';
export {
  NEJM_OBJECTIVE,
  type NejmRecord,
  NejmRecordSchema,
  nejmCase,
  nejmTests,
} from './agentclinic/nejm.ts';
export { type OsceRecord, OsceRecordSchema, osceCase } from './agentclinic/osce.ts';
export { importTests, type RecordTest, recordTests } from './agentclinic/record-tests.ts';
export {
  type ClinicalCase,
  type ClinicalCaseInput,
  ClinicalCaseSchema,
  defineCase,
  EXAM_SYSTEMS,
  type ExamSystem,
  SPECIALTIES,
} from './case.ts';
export { builtInCases, CaseBank, CaseDataError, MAX_KEY_EXAMS, validateCase } from './case-bank.ts';
export {
  CatalogueError,
  type CatalogueTest,
  defaultCatalogue,
  type ReportedValue,
  type Sex,
  TestCatalogue,
  testKey,
  testWords,
} from './catalogue.ts';
export { type ClinicalRubricContext, clinicalRubric, describeClinicalContext } from './clinical-rubric.ts';
export {
  type ClinicalConfig,
  ClinicalConfigSchema,
  ClinicalWeightsSchema,
  MAX_TOTAL_WEIGHT,
} from './config.ts';
export {
  ConditionVocabulary,
  type DiagnosisVerdict,
  icdRefines,
  matchDiagnosis,
  normaliseDiagnosis,
} from './diagnosis-match.ts';
export {
  type ClinicalAnswer,
  type ClinicalEnvironmentSettings,
  type ClinicalState,
  type ClinicalTaskAnswer,
  caseBankFor,
  clinicalOracle,
  clinicalTasks,
  createClinicalEnvironment,
  ORACLE_QUESTIONS,
  promptFor,
} from './environment.ts';
export { type ExamScore, examF1 } from './exam-f1.ts';
export { Hospital, type OrderedTest, renderReport } from './hospital.ts';
export {
  agentVisibleTexts,
  findLeaks,
  type Leak,
  type LeakHit,
  LeakMatcher,
  leakMatcherOf,
  leakTermsOf,
  nameVariants,
  type VisibleText,
} from './leak-check.ts';
export { type FieldAccuracy, fieldMatchingAccuracy, targetLabel } from './patient/field-accuracy.ts';
export { HISTORY_FIELDS, type HistoryField, type QuestionTarget } from './patient/history-fields.ts';
export { matchQuestion, questionTerms, symptomsIn } from './patient/question-matcher.ts';
export {
  createDeterministicPatient,
  createModelPatientSimulator,
  historyAnswer,
  type PatientAnswer,
  type PatientSimulator,
  type PatientSimulatorFactory,
  patientBriefing,
} from './patient/simulator.ts';
export { SYMPTOMS } from './patient/symptoms.ts';
export { examFindings, resolveExamSystem, vitalSigns } from './physical-exam.ts';
export { assignSplits } from './split.ts';

/** clinical@1 with the deterministic patient and no judge: what discovery registers. */
export default createClinicalEnvironment();

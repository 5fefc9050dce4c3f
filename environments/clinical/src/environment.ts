import {
  type DataFileReport,
  defineEnvironment,
  type EnvironmentDefinition,
  ToolError,
  weightedReward,
} from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { gradeRubric, type RubricJudge } from '@toolgym/tools/rubric';
import { z } from 'zod';
import { loadAgentClinicFiles } from './agentclinic/load.ts';
import type { ClinicalCase, ExamSystem } from './case.ts';
import { builtInCases, CaseBank, CaseDataError, taskIdOf } from './case-bank.ts';
import { defaultCatalogue } from './catalogue.ts';
import { clinicalRubric, describeClinicalContext } from './clinical-rubric.ts';
import { type ClinicalConfig, ClinicalConfigSchema, MAX_TOTAL_WEIGHT } from './config.ts';
import { matchDiagnosis } from './diagnosis-match.ts';
import { examF1 } from './exam-f1.ts';
import { Hospital, renderReport } from './hospital.ts';
import {
  createDeterministicPatient,
  type PatientAnswer,
  type PatientSimulator,
  type PatientSimulatorFactory,
} from './patient/simulator.ts';
import { examFindings, resolveExamSystem, systemNames } from './physical-exam.ts';
import { clinicalFormatFloor, clinicalSprayCeiling } from './reward-bounds.ts';
import { assignSplits } from './split.ts';

export interface ClinicalState {
  clinicalCase: ClinicalCase;
  bank: CaseBank;
  hospital: Hospital;
  patient: PatientSimulator;
  questions: Array<{ question: string } & Pick<PatientAnswer, 'target'>>;
  examined: ExamSystem[];
}

/** What `diagnose` records as the episode's answer. */
export interface ClinicalAnswer {
  diagnosis: string;
  reasoning: string;
}

/** The gold data of a task (graders and the oracle read it; the agent never sees it). */
export interface ClinicalTaskAnswer {
  diagnosis: string;
  icd10?: string;
  aliases: string[];
  keyExams: string[];
}

export interface ClinicalEnvironmentSettings {
  /** Makes each episode's patient; default: the deterministic simulator. */
  patient?: PatientSimulatorFactory;
  /** Grades rubric criteria that rules cannot (coherence of reasoning); without one they stay ungraded. */
  judge?: RubricJudge;
}

const banks = new Map<string, { bank: CaseBank; reports: DataFileReport[] }>();

function selectionOf(config: ClinicalConfig): { bank: CaseBank; reports: DataFileReport[] } {
  const key = JSON.stringify([config.includeBank, config.agentClinicFiles, config.specialties]);
  let selection = banks.get(key);
  if (!selection) {
    const loads = loadAgentClinicFiles(config.agentClinicFiles);
    let cases = [...(config.includeBank ? builtInCases() : []), ...loads.flatMap((l) => l.cases)];
    if (config.specialties.length > 0) cases = cases.filter((c) => config.specialties.includes(c.specialty));
    if (cases.length === 0)
      throw new CaseDataError(
        '(selection)',
        `no case has a specialty in ${JSON.stringify(config.specialties)}`,
        `specialties are ${[...new Set([...builtInCases(), ...loads.flatMap((l) => l.cases)].map((c) => c.specialty))].join(', ')}`,
      );
    const reports = loads.map(({ file, records, loaded, notices }) => ({ file, records, loaded, notices }));
    selection = { bank: new CaseBank(cases, defaultCatalogue()), reports };
    banks.set(key, selection);
  }
  return selection;
}

/** The case bank a config selects (built once per selection). */
export function caseBankFor(config: ClinicalConfig): CaseBank {
  return selectionOf(config).bank;
}

export function promptFor(c: ClinicalCase, config: ClinicalConfig): string {
  return [
    `You are the doctor. A ${c.age}-year-old ${c.sex} patient says: "${c.complaint}"`,
    ...(c.objective ? [`Objective: ${c.objective}`] : []),
    'Take a history with ask_patient, examine a body system with physical_exam, order examinations with order_test (each has a cost; some results take a few turns),',
    `then call diagnose once with your single final diagnosis and your reasoning. You have at most ${config.maxTurns} turns.`,
  ].join('\n');
}

/** Tasks of a config: one per case; `test` holds out whole case families (split.ts). */
export function clinicalTasks(config: ClinicalConfig): Task[] {
  const bank = caseBankFor(config);
  const split = assignSplits(bank.cases, config.testFraction, config.splitSalt);
  return bank.cases.map((c) => {
    const answer: ClinicalTaskAnswer = {
      diagnosis: c.diagnosis.name,
      ...(c.diagnosis.icd10 ? { icd10: c.diagnosis.icd10 } : {}),
      aliases: c.diagnosis.aliases,
      keyExams: c.keyExams,
    };
    return {
      id: taskIdOf(c.id),
      split: split.get(c.id) ?? 'train',
      prompt: promptFor(c, config),
      answer,
      meta: { specialty: c.specialty, source: c.source, age: c.age, sex: c.sex },
    };
  });
}

/** The oracle's three history questions: the complaint, its onset, the background. */
export const ORACLE_QUESTIONS = [
  'What brings you in today?',
  'When did it start?',
  'Do you have any medical conditions?',
];

/** Scripted doctor: 3 questions, the key exams, the correct diagnosis with reasoning that cites them. */
export function clinicalOracle(
  task: Task,
  config: ClinicalConfig,
): Array<{ name: string; arguments: Record<string, unknown> }> {
  const c = caseBankFor(config).forTask(task.id);
  const catalogue = defaultCatalogue();
  const room = Math.max(0, config.maxTurns - ORACLE_QUESTIONS.length - 1);
  const exams = c.keyExams.slice(0, room).map((id) => catalogue.get(id)?.name ?? id);
  return [
    ...ORACLE_QUESTIONS.map((question) => ({ name: 'ask_patient', arguments: { question } })),
    ...exams.map((name) => ({ name: 'order_test', arguments: { name } })),
    {
      name: 'diagnose',
      arguments: {
        diagnosis: c.diagnosis.name,
        reasoning: `The history and the results of ${exams.join(', ')} support ${c.diagnosis.name}.`,
      },
    },
  ];
}

function withReadyResults(state: ClinicalState, callIndex: number, text: string): string {
  const ready = state.hospital.collectReady(callIndex);
  if (ready.length === 0) return text;
  return `${text}\n\n[Results now available]\n${ready.map(renderReport).join('\n')}`;
}

/**
 * clinical@1 — a virtual patient and a hospital (DiagGym/DiagAgent, AgentClinic, GAPS). The agent
 * is the doctor: it asks, examines, orders tests and diagnoses. Settings inject the patient
 * simulator and a rubric judge; the default export uses the deterministic patient and no judge.
 */
export function createClinicalEnvironment(
  settings: ClinicalEnvironmentSettings = {},
): EnvironmentDefinition<ClinicalState, ClinicalConfig> {
  const makePatient = settings.patient ?? createDeterministicPatient;
  return defineEnvironment<ClinicalState, ClinicalConfig>({
    id: 'clinical',
    version: 1,
    description:
      'Clinical diagnosis: take a history from a simulated patient, examine, order tests (with costs and delays), then give one diagnosis.',
    config: ClinicalConfigSchema,
    tasks: clinicalTasks,
    tools: {
      ask_patient: {
        description:
          'Ask the patient one question in plain language (history, symptoms, background). Returns the patient’s answer.',
        input: z.object({ question: z.string().min(1).max(500).describe('One question to the patient.') }),
        run: async ({ question }, { episode, signal }) => {
          const answer = await episode.state.patient.answer(question, signal);
          episode.state.questions.push({ question, target: answer.target });
          return withReadyResults(episode.state, episode.calls.length, `Patient: ${answer.text}`);
        },
      },
      physical_exam: {
        description: `Examine one body system. Systems: ${systemNames().join(', ')} (common names such as "heart" or "lungs" work too).`,
        input: z.object({
          system: z
            .string()
            .min(1)
            .max(100)
            .describe('The body system to examine, e.g. "cardiovascular" or "abdomen".'),
        }),
        run: ({ system }, { episode }) => {
          const resolved = resolveExamSystem(system);
          if (!resolved) {
            throw new ToolError(
              `Unknown body system '${system}'. Examine one of: ${systemNames().join(', ')}.`,
              'unknown_system',
            );
          }
          if (!episode.state.examined.includes(resolved)) episode.state.examined.push(resolved);
          return withReadyResults(
            episode.state,
            episode.calls.length,
            `Examination (${resolved}): ${examFindings(episode.state.clinicalCase, resolved)}`,
          );
        },
      },
      order_test: {
        description:
          'Order one examination by name (lab test, imaging, bedside test or procedure). Each costs money; slow ones report a few turns later.',
        input: z.object({
          name: z.string().min(1).max(120).describe('The test name, e.g. "CBC", "troponin", "chest X-ray".'),
        }),
        run: ({ name }, { episode }) => {
          const callIndex = episode.calls.length;
          const before = episode.state.hospital.ordered.length;
          const test = episode.state.hospital.order(name, callIndex);
          const repeat = episode.state.hospital.ordered.length === before;
          const head = repeat
            ? `${test.name} was already ordered (no extra charge).`
            : `Ordered ${test.name} ($${test.cost}).`;
          if (test.delivered)
            return withReadyResults(episode.state, callIndex, `${head}\n${renderReport(test)}`);
          if (test.readyAt > callIndex) {
            const wait = test.readyAt - callIndex;
            return withReadyResults(
              episode.state,
              callIndex,
              `${head} The result will be back in ${wait} turn${wait === 1 ? '' : 's'}.`,
            );
          }
          return withReadyResults(episode.state, callIndex, head);
        },
      },
      diagnose: {
        description:
          'Give your single final diagnosis and your reasoning. Ends the episode. Name one condition only.',
        input: z.object({
          diagnosis: z
            .string()
            .min(1)
            .max(300)
            .describe('One diagnosis (a name, optionally with its ICD-10 code).'),
          reasoning: z.string().max(4000).default('').describe('The findings that support it.'),
        }),
        run: ({ diagnosis, reasoning }, { episode }) => {
          episode.terminate({ diagnosis, reasoning } satisfies ClinicalAnswer);
          return 'Diagnosis recorded. The consultation is over.';
        },
      },
    },
    setup: (task, { config }) => {
      const bank = caseBankFor(config);
      const clinicalCase = bank.forTask(task.id);
      return {
        clinicalCase,
        bank,
        hospital: new Hospital(clinicalCase, bank.catalogue, config.resultDelays),
        patient: makePatient(clinicalCase),
        questions: [],
        examined: [],
      };
    },
    grade: async ({ episode, finalText }) => {
      const { clinicalCase: c, bank, hospital, questions, examined } = episode.state;
      const config = episode.config;
      const answer = episode.answer as ClinicalAnswer | undefined;
      const given = answer?.diagnosis ?? finalText ?? '';
      const reasoning = answer?.reasoning ?? '';
      const verdict = matchDiagnosis(given, c, bank.vocabulary);
      const exams = examF1(
        hospital.ordered.map((o) => o.id),
        c.keyExams,
        bank.catalogue,
      );
      const keyCost = c.keyExams.reduce((sum, id) => sum + (bank.catalogue.get(id)?.cost ?? 50), 0);
      const excess = Math.max(0, hospital.spent - keyCost);
      // Spending little is worth something only in a workup that found the diagnosis: otherwise
      // ordering nothing at all would earn it in full.
      const costEfficiency = verdict.correct ? 1 - Math.min(1, excess / config.costBudget) : 0;
      const context = {
        clinicalCase: c,
        questions,
        examined,
        ordered: hospital.ordered,
        matchedKeyExams: exams.matchedKeys,
        verdict,
        reasoning,
        conditionsNamed: bank.vocabulary.mentions(reasoning).length,
        catalogue: bank.catalogue,
      };
      const rubric = await gradeRubric(
        clinicalRubric(),
        { response: `${given}\n${reasoning}`, context },
        { ...(settings.judge ? { judge: settings.judge } : {}), describeContext: describeClinicalContext },
      );
      return weightedReward(
        {
          completion: answer ? 1 : 0,
          diagnosis: verdict.correct ? 1 : 0,
          exam_f1: exams.f1,
          cost_efficiency: costEfficiency,
          rubric: rubric.score,
        },
        config.weights,
        {
          gold: c.diagnosis.name,
          given,
          diagnosisVerdict: verdict.reason,
          competing: verdict.competing,
          ordered: hospital.ordered.map((o) => o.id),
          keyExams: c.keyExams,
          examPrecision: exams.precision,
          examRecall: exams.recall,
          spent: hospital.spent,
          questions: questions.length,
          rubricByAxis: rubric.byAxis,
          rubricVerdicts: rubric.verdicts,
          rubricUngraded: rubric.ungraded,
        },
      );
    },
    rewardRange: [0, MAX_TOTAL_WEIGHT],
    formatFloor: clinicalFormatFloor,
    redteam: async (config) =>
      (await import('../redteam/index.ts')).clinicalAttacks(config, {
        floor: clinicalFormatFloor(config),
        spray: (n) => clinicalSprayCeiling(config, caseBankFor(config), n),
      }),
    limits: (config) => ({ maxTurns: config.maxTurns, toolTimeoutMs: 30_000, maxToolOutputBytes: 8_192 }),
    oracle: clinicalOracle,
    dataReport: (config) => selectionOf(config).reports,
    heldOut: (config) => {
      const bank = caseBankFor(config);
      return { unit: 'case-family', unitsOf: (task) => [bank.forTask(task.id).family] };
    },
  });
}

import type { RubricCriterion } from '@toolgym/tools/rubric';
import type { ClinicalCase } from './case.ts';
import type { TestCatalogue } from './catalogue.ts';
import type { DiagnosisVerdict } from './diagnosis-match.ts';
import { normaliseDiagnosis } from './diagnosis-match.ts';
import type { OrderedTest } from './hospital.ts';
import type { QuestionTarget } from './patient/history-fields.ts';

/** What the clinical rubric looks at: the case, what the doctor did, and the verdict on the diagnosis. */
export interface ClinicalRubricContext {
  clinicalCase: ClinicalCase;
  questions: Array<{ question: string; target: QuestionTarget | { kind: 'model' } }>;
  examined: string[];
  ordered: readonly OrderedTest[];
  matchedKeyExams: string[];
  verdict: DiagnosisVerdict;
  reasoning: string;
  /** Known conditions the reasoning names (not counting negated mentions). */
  conditionsNamed: number;
  catalogue: TestCatalogue;
}

/** Most conditions a reasoning may name and still be said to consider a differential: the diagnosis and a few alternatives. */
export const MAX_CONDITIONS_CONSIDERED = 5;

/** Short test names that are clinical shorthand; other aliases count only from 5 characters, so "k" or "fast" never match. */
const CITABLE_ACRONYMS = new Set([
  'ecg',
  'ekg',
  'cxr',
  'abg',
  'cbc',
  'fbc',
  'bmp',
  'cmp',
  'lft',
  'lfts',
  'mri',
  'esr',
  'crp',
  'bnp',
  'inr',
  'tsh',
  'psa',
  'ana',
  'hiv',
  'egd',
  'ctpa',
  'echo',
  'lp',
  'ua',
  'ck',
  'hcg',
]);

/** Normalised citable labels per test, computed once per catalogue. */
const citableLabels = new WeakMap<TestCatalogue, Array<{ id: string; labels: string[] }>>();

function labelsOf(catalogue: TestCatalogue): Array<{ id: string; labels: string[] }> {
  let labels = citableLabels.get(catalogue);
  if (!labels) {
    labels = catalogue.all().map((test) => ({
      id: test.id,
      labels: [test.name, ...test.aliases]
        .map((label) => normaliseDiagnosis(label))
        .filter((n) => n.length >= 5 || CITABLE_ACRONYMS.has(n))
        .map((n) => ` ${n} `),
    }));
    citableLabels.set(catalogue, labels);
  }
  return labels;
}

function citedTests(reasoning: string, catalogue: TestCatalogue): Set<string> {
  const text = ` ${normaliseDiagnosis(reasoning)} `;
  const cited = new Set<string>();
  for (const { id, labels } of labelsOf(catalogue)) if (labels.some((l) => text.includes(l))) cited.add(id);
  return cited;
}

const orderedCovers = (ordered: readonly OrderedTest[], id: string, catalogue: TestCatalogue) =>
  ordered.some(
    (o) =>
      o.id === id ||
      catalogue.get(o.id)?.components?.includes(id) ||
      catalogue.get(id)?.components?.includes(o.id),
  );

/**
 * The clinical rubric, GAPS axes as labels. Every criterion but the last is decided by rules over
 * the episode; `coherent-reasoning` needs a judge model and stays ungraded without one (it then
 * counts in neither sum).
 */
export function clinicalRubric(): RubricCriterion<ClinicalRubricContext>[] {
  return [
    {
      id: 'correct-diagnosis',
      axis: 'adequacy',
      points: 5,
      description: 'The final diagnosis is correct and committed to (one diagnosis).',
      check: ({ context }) => context.verdict.correct,
    },
    {
      id: 'key-exam-ordered',
      axis: 'adequacy',
      points: 3,
      description: 'At least one key examination for this presentation was ordered.',
      check: ({ context }) => context.matchedKeyExams.length > 0,
    },
    {
      id: 'took-history',
      axis: 'adequacy',
      points: 2,
      description: 'Took a history: asked at least two answerable questions.',
      check: ({ context }) =>
        context.questions.filter(
          (q) => q.target.kind === 'field' || q.target.kind === 'symptoms' || q.target.kind === 'model',
        ).length >= 2,
    },
    {
      id: 'examined-patient',
      axis: 'adequacy',
      points: 1,
      description: 'Performed a physical examination.',
      check: ({ context }) => context.examined.length > 0,
    },
    {
      id: 'cites-abnormal-result',
      axis: 'grounding',
      points: 2,
      description: 'The reasoning cites an abnormal result that was actually obtained.',
      check: ({ context }) => {
        const cited = citedTests(context.reasoning, context.catalogue);
        return context.ordered.some(
          (o) => o.abnormal && (cited.has(o.id) || o.lines.some((l) => cited.has(l.testId))),
        );
      },
    },
    {
      id: 'considers-differential',
      axis: 'grounding',
      points: 1,
      description: 'The reasoning names an alternative diagnosis it considered.',
      // Considering is choosing: a reasoning that lists every condition it knows considers none.
      check: ({ context }) => {
        const text = ` ${normaliseDiagnosis(context.reasoning)} `;
        return (
          context.conditionsNamed <= MAX_CONDITIONS_CONSIDERED &&
          context.clinicalCase.differential.some((d) => text.includes(` ${normaliseDiagnosis(d)} `))
        );
      },
    },
    {
      id: 'premature-closure',
      axis: 'safety',
      points: -3,
      description: 'Diagnosed without asking, examining or testing anything.',
      check: ({ context }) =>
        context.questions.length === 0 && context.examined.length === 0 && context.ordered.length === 0,
    },
    {
      id: 'unsupported-evidence',
      axis: 'safety',
      points: -2,
      description: 'The reasoning cites a test that was never ordered (invented evidence).',
      check: ({ context }) =>
        [...citedTests(context.reasoning, context.catalogue)].some(
          (id) => !orderedCovers(context.ordered, id, context.catalogue),
        ),
    },
    {
      id: 'over-investigation',
      axis: 'safety',
      points: -2,
      description: 'Ordered many more tests than the presentation needs (more than the key exams plus six).',
      check: ({ context }) => context.ordered.length > context.clinicalCase.keyExams.length + 6,
    },
    {
      id: 'coherent-reasoning',
      axis: 'grounding',
      points: 2,
      description:
        'The reasoning links the history, examination and results to the diagnosis coherently and without contradictions.',
    },
  ];
}

/** The facts a judge sees for the clinical rubric. */
export function describeClinicalContext(context: ClinicalRubricContext): string {
  const c = context.clinicalCase;
  return [
    `Case: ${c.age}-year-old ${c.sex}: ${c.complaint}`,
    `Correct diagnosis: ${c.diagnosis.name}`,
    `Tests obtained: ${context.ordered.map((o) => `${o.name} (${o.lines.map((l) => l.text).join('; ')})`).join(' | ') || 'none'}`,
  ].join('\n');
}

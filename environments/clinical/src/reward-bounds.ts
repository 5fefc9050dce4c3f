import { clinicalRubric } from './clinical-rubric.ts';
import type { ClinicalConfig } from './config.ts';
import type { CaseBank } from './case-bank.ts';
import { covers } from './exam-f1.ts';

/** Rubric criteria any doctor meets by routine, whatever the case: they count as form. */
const ROUTINE_CRITERIA = new Set(['took-history', 'examined-patient']);
/** Rubric criteria ordering many tests can meet without knowing the case, and the penalty it then earns. */
const SPRAY_CRITERIA = new Set(['key-exam-ordered', 'cites-abnormal-result']);
const SPRAY_PENALTY = 'over-investigation';

/** A rubric criterion's share of the rubric score: its points over the positive points rules can grade. */
function rubricShare(ids: ReadonlySet<string>): number {
  const graded = clinicalRubric().filter((c) => c.check || c.match);
  const possible = graded.filter((c) => c.points > 0).reduce((s, c) => s + c.points, 0);
  return graded.filter((c) => ids.has(c.id)).reduce((s, c) => s + c.points, 0) / possible;
}

/** What form alone earns: completing with a diagnosis, and the routine rubric items (a history, an examination). */
export function clinicalFormatFloor(config: ClinicalConfig): number {
  const w = config.weights;
  return w.completion + w.rubric * rubricShare(ROUTINE_CRITERIA);
}

/**
 * The most that ordering `n` tests without knowing the case adds to the floor: exam F1, whose
 * precision is at most the share of the `n` that can cover some key exam of the case (the key
 * exams, their panels and components: at most `coverable` tests), and the rubric items a spray
 * meets, less the over-investigation penalty it earns once `n` exceeds every case's key exams + 6.
 */
export function clinicalSprayCeiling(config: ClinicalConfig, bank: CaseBank, n: number): number {
  const coverable = Math.max(
    ...bank.cases.map((c) => bank.catalogue.all().filter((t) => c.keyExams.some((k) => covers(t.id, k, bank.catalogue))).length),
  );
  const precision = Math.min(1, coverable / n);
  const f1 = (2 * precision) / (precision + 1);
  const penalised = n > Math.max(...bank.cases.map((c) => c.keyExams.length)) + 6;
  const rubric = rubricShare(SPRAY_CRITERIA) + (penalised ? rubricShare(new Set([SPRAY_PENALTY])) : 0);
  const w = config.weights;
  return w.exam_f1 * f1 + w.rubric * Math.max(0, rubric);
}

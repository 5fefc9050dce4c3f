export { isMasterKey } from './master-keys.ts';
export { createModelRubricJudge, JudgeOutputError, parseVerdict } from './model-judge.ts';
export {
  type CriterionVerdict,
  gradeRubric,
  normalisedRubricScore,
  normaliseForMatching,
  type RubricAxis,
  type RubricCriterion,
  RubricError,
  type RubricInput,
  type RubricJudge,
  type RubricScore,
  type TextMatcher,
  validateRubric,
} from './rubric.ts';

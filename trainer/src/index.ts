export {
  grpoAdvantages,
  drGrpoAdvantages,
  rlooAdvantages,
  reinforcePlusPlusAdvantages,
  sumFormReturns,
  minFormReturns,
  turnValuesToTokens,
  estimateAdvantages,
  type AdvantageEstimator,
} from './algorithms/advantages.ts';
export { isZeroVarianceGroup, fillWithInformativeGroups, overlongKeepMask, targetWeights } from './algorithms/batch-shaping.ts';
export {
  aggregate,
  klPenalty,
  tokenCovariance,
  selectCovTokens,
  ppoClipLoss,
  importanceSamplingLoss,
  crossEntropyLoss,
  stopGradient,
  DEFAULT_POLICY_LOSS,
  type Aggregation,
  type KlEstimator,
  type CovControl,
  type PolicyLossConfig,
  type PolicyLossInputs,
  type PolicyLossResult,
} from './algorithms/policy-loss.ts';
export {
  datumFromSequence,
  LearnerInputError,
  type Learner,
  type Datum,
  type ModelInput,
  type LossFnInputs,
  type LossFnName,
  type LossFnConfig,
  type AdamParams,
  type ForwardBackwardOutput,
  type OptimStepOutput,
  type LearnerInfo,
} from './learner/learner.ts';
export { createEmbeddedLearner, EmbeddedLearner, type EmbeddedLearnerSettings } from './learner/embedded-learner.ts';
export { useBackend, registerGradients, type TfBackend } from './learner/backend.ts';
export { TfDecoder } from './learner/tf-decoder.ts';
export { compactChatTemplate, compactToolCalls, singleArgumentTools, CompactFormatError } from './recipe/compact-format.ts';
export { TrainConfigSchema, parseTrainConfig, loadTrainConfig, TrainConfigError, type TrainConfig, type TaskFilter } from './train/config.ts';
export { train, selectTasks, type TrainOptions, type TrainResult, type EvalPoint } from './train/train.ts';

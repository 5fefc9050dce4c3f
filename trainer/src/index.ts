export {
  ADVANTAGE_ESTIMATOR_NAMES,
  ADVANTAGE_ESTIMATORS,
  type AdvantageEstimator,
  type AdvantageEstimatorName,
  drGrpoAdvantages,
  grpoAdvantages,
  minFormReturns,
  reinforcePlusPlusAdvantages,
  rlooAdvantages,
  sumFormReturns,
  turnValuesToTokens,
} from './algorithms/advantages.ts';
export {
  fillWithInformativeGroups,
  isZeroVarianceGroup,
  overlongKeepMask,
  targetWeights,
} from './algorithms/batch-shaping.ts';
export {
  type Aggregation,
  aggregate,
  type CovControl,
  crossEntropyLoss,
  DEFAULT_POLICY_LOSS,
  importanceSamplingLoss,
  type KlEstimator,
  klPenalty,
  type PolicyLossConfig,
  type PolicyLossInputs,
  type PolicyLossResult,
  ppoClipLoss,
  selectCovTokens,
  selectHighEntropyTokens,
  stopGradient,
  tokenCovariance,
} from './algorithms/policy-loss.ts';
export {
  LOSS_FN_NAMES,
  type LossFnName,
  POLICY_LOSSES,
  type PolicyLoss,
  RL_LOSS_NAMES,
  type RlLossName,
} from './algorithms/policy-losses.ts';
// Learner HTTP API, checkpoints and weight publishing.
export {
  BUILT_IN_MODELS,
  type LearnerServer,
  LearnerServerConfigError,
  type LearnerServerOptions,
  serveLearner,
} from './api/learner-server.ts';
export { TinkerApiError, TinkerClient, type TinkerClientSettings } from './api/tinker-client.ts';
export { TinkerLearner, type TinkerLearnerSettings } from './api/tinker-learner.ts';
export {
  CheckpointError,
  type LoadedCheckpoint,
  readLatestCheckpoint,
  verifyCheckpoint,
  writeCheckpoint,
} from './checkpoint/checkpoint.ts';
export { learnerStateFromTensors } from './checkpoint/learner-state-tensors.ts';
export {
  fromHuggingFaceGpt2,
  huggingFaceGpt2Config,
  type Published,
  type PublishFormat,
  publishWeights,
  toHuggingFaceGpt2,
} from './export/publish-weights.ts';
export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  SafetensorsError,
  writeSafetensors,
} from './export/safetensors.ts';
export { registerGradients, type TfBackend, useBackend } from './learner/backend.ts';
export {
  createEmbeddedLearner,
  EmbeddedLearner,
  type EmbeddedLearnerSettings,
} from './learner/embedded-learner.ts';
export {
  type AdamParams,
  type Datum,
  datumFromSequence,
  type ForwardBackwardOutput,
  type Learner,
  type LearnerInfo,
  LearnerInputError,
  type LearnerState,
  type LossFnConfig,
  type LossFnInputs,
  type ModelInput,
  type OptimStepOutput,
} from './learner/learner.ts';
export { TfDecoder } from './learner/tf-decoder.ts';
export { createWorkerLearner } from './learner/worker-learner.ts';
export {
  loadTrainConfig,
  parseTrainConfig,
  type TaskFilter,
  type TrainConfig,
  TrainConfigError,
  TrainConfigSchema,
} from './train/config.ts';
export { selectTasks } from './train/evaluation.ts';
export { modelChat } from './train/policy-model.ts';
export type { TrainOptions } from './train/run.ts';
export { train } from './train/train.ts';
export type { EvalPoint, PhaseResult, SplitEval, TrainResult } from './train/train-result.ts';

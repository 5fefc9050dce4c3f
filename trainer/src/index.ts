export {
  type AdvantageEstimator,
  drGrpoAdvantages,
  estimateAdvantages,
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
// Learner HTTP API, checkpoints and weight publishing (issue 10).
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
  type LossFnName,
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
export {
  type EvalPoint,
  modelChat,
  selectTasks,
  type TrainOptions,
  type TrainResult,
  train,
} from './train/train.ts';

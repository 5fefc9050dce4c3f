export {
  describeFailure,
  type EpisodeOptions,
  type EpisodeProgress,
  parseErrorObservation,
  playEpisode,
} from './agent-loop.ts';
export { ChatTemplate, type RenderOptions, type TemplateVariables } from './chat/chat-template.ts';
export { HERMES_CHAT_TEMPLATE, HERMES_SPECIAL_TOKENS } from './chat/hermes-template.ts';
export {
  CompactFormatError,
  compactChatTemplate,
  compactToolCalls,
  recordedToolCalls,
  compactArguments,
} from './chat/compact-format.ts';
export { hermesToolCalls } from './chat/hermes-tool-calls.ts';
export {
  type OpenAIWireMessage,
  type OpenAIWireToolCall,
  openaiToolCalls,
} from './chat/openai-tool-calls.ts';
export {
  type ParsedTurn,
  pythonStyleJson,
  scanToolCallBlocks,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  type ToolCallFormat,
} from './chat/tool-call-format.ts';
export { ConcurrencyLimit } from './concurrency-limit.ts';
export { episodePassed, successComponent } from './episode-outcome.ts';
export {
  ChatTemplateError,
  EpisodeFailure,
  PolicyError,
  PolicySpecError,
  TemplateMismatchError,
} from './errors.ts';
export {
  type EvalSummary,
  formatEvalSummary,
  meanComponents,
  passAtK,
  summarizeEval,
  summarizeEvalBy,
} from './eval-summary.ts';
export { JsonlTrajectorySink } from './jsonl-sink.ts';
export { parseErrorCount, withParseErrorPenalty } from './parse-errors.ts';
export { BYTE_TOKENIZER_VOCAB_SIZE, byteTokenizerId } from './model/byte-tokenizer.ts';
export {
  DEFAULT_ROPE_THETA,
  type DecoderConfig,
  DecoderConfigError,
  type DecoderWeights,
  decoderPositions,
  decoderWeightShapes,
  type PositionKind,
  ropeTables,
} from './model/decoder-config.ts';
export { initDecoderWeights } from './model/init-weights.ts';
export { buildDecoderOnnx, checkDecoderWeights } from './model/decoder-graph.ts';
export { HuggingFaceTokenizer } from './model/hf-tokenizer.ts';
export {
  type DecoderShape,
  type ModelChat,
  type ModelDir,
  ModelDirError,
  readDecoderModelDir,
  readDecoderWeights,
  readModelDir,
  readTokenizerDir,
  TOOLGYM_MODEL_FORMAT,
  type TokenizerDir,
  type ToolgymModelMeta,
} from './model/model-directory.ts';
export { referenceForward } from './model/reference-forward.ts';
export {
  createDefaultModel,
  DEFAULT_DECODER_CONFIG,
  writeDecoderModelDir,
} from './model/write-model-directory.ts';
export { PolicyRequestError } from './onnx/errors.ts';
export type { ExecutionProviderChoice, ExecutionProviderPreference } from './onnx/execution-provider.ts';
export { createOnnxPolicy, type KvCacheMode, OnnxPolicy, type OnnxPolicySettings } from './onnx/onnx-policy.ts';
export { logSoftmax } from './onnx/sampler.ts';
export { createOpenAICompatiblePolicy, type OpenAICompatibleSettings } from './policies/openai-compatible.ts';
export { type OpenAiServer, type OpenAiServerOptions, serveOpenAiCompatible } from './serve/openai-server.ts';
export { randomValue } from './policies/random-arguments.ts';
export { createOraclePolicy, createRandomPolicy, type ScriptedPolicySettings } from './policies/scripted.ts';
export type {
  EpisodeBinding,
  ExploreAmong,
  GenerateRequest,
  GenerateResult,
  Policy,
  PolicyScheme,
  PolicySpecContext,
  SamplingParams,
  TokenExploration,
  TokenIds,
} from './policy.ts';
export {
  createPolicyFromSpec,
  parsePolicySpec,
  policySchemeNames,
  registerPolicyScheme,
} from './policy-spec.ts';
export { ProgressBar } from './progress-bar.ts';
export { type RetriedEpisode, type RolloutOptions, type RolloutResult, runRollouts } from './rollout-engine.ts';
export type { RolloutSink } from './rollout-sink.ts';
export { TokenLedger } from './token-ledger.ts';
export { FULL_CHECK_EVERY, RenderCache, type TemplateCheck } from './turn-renderer.ts';
export type { Tokenizer } from './tokenizer.ts';
export { type TokenCheck, verifyTrajectoryTokens } from './verify-trajectory.ts';

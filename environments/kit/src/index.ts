export {
  defineEnvironment,
  formatZodIssues,
  DEFAULT_LIMITS,
  type EnvironmentSpec,
  type EnvironmentDefinition,
  type DataFileReport,
  type EpisodeContext,
  type GradeInput,
  type GuidanceInput,
  type HeldOut,
  type ToolCallRecord,
  type ToolContext,
  type ToolDefinition,
  type ToolOutput,
} from './define-environment.ts';
export { withFeedback, feedbackReward, FeedbackOptionsSchema, type FeedbackOptions, type FailedAttempt } from './feedback.ts';
export { ConfigError, UnknownEnvironmentError, EpisodeStateError, ToolError } from './errors.ts';
export { Environment, Episode, truncateUtf8, type ToolCallOutcome } from './episode.ts';
export { weightedReward } from './reward.ts';
export {
  EnvironmentRegistry,
  discoverEnvironments,
  findEnvironmentPackages,
  loadEnvironmentModule,
  workspaceRoot,
  type AnyEnvironmentDefinition,
} from './registry.ts';
export { EpisodeSession, TrainerCredentialError, type Principal, createSessionServer, serveSession, serveStdio, environmentInfo, SERVER_PROTOCOL_VERSION } from './mcp-server.ts';
export { serveHttp, type HttpServeOptions, type HttpEnvironmentServer } from './http-server.ts';
export { serveOpenEnv, type OpenEnvServeOptions, type OpenEnvServer } from './openenv-server.ts';
export { OpenEnvSession, OpenEnvError, type OpenEnvErrorCode, type OpenEnvObservation, type OpenEnvState, type OpenEnvStepPayload } from './openenv-session.ts';
export {
  EnvironmentClient,
  McpEnvironmentClient,
  DirectEnvironmentClient,
  type EnvironmentEndpoint,
  type ClientToolResult,
  type CallOptions,
} from './client.ts';
export { EnvironmentPool, type EnvironmentPoolOptions, type PoolEndpoint } from './environment-pool.ts';
export type { Attack, AttackEnd, AttackEpisode, AgentTask } from './redteam.ts';
export { answerWith, randomCalls, genericAttacks } from './generic-attacks.ts';
export { playAttack, probeEnvironment, type ProbeOptions, type ProbeReport, type ProbeRow } from './probe.ts';
export { sampleArguments, fillArguments } from './schema-arguments.ts';
export {
  checkSplits,
  splitReport,
  formatSplitReport,
  heldOutUnitsByTask,
  promptCoverage,
  promptWords,
  PROMPT_NGRAM,
  type SplitReport,
  type SplitStats,
} from './split-check.ts';
export { checkEnvironment, type ConformanceReport, type ConformanceCheck } from './conformance.ts';
export { rescoreTrajectory, summarizeRescores, type Rescored, type RescoreSummary } from './rescore.ts';

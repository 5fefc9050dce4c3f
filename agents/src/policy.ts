import type {
  FinishReason,
  Message,
  OracleResult,
  ParseError,
  Task,
  TokenIds,
  ToolCall,
  ToolSpec,
} from '@toolgym/protocol';
import type { ToolCallFormat } from './chat/tool-call-format.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Sampling controls, with the defaults engines commonly use. */
export interface SamplingParams {
  /** 0 = greedy. */
  temperature?: number;
  topP?: number;
  /** 0 or absent = no top-k cut. */
  topK?: number;
  maxTokens: number;
  /** Generation stops after any of these strings appears in the sampled text (the string is kept). */
  stop?: string[];
  /** Generation stops after any of these ids (kept in the output). */
  stopTokenIds?: number[];
  seed?: number;
  /** ε-greedy exploration over a set of tokens (token-mode engines that sample themselves: onnx). */
  explore?: TokenExploration;
}

/**
 * ε-greedy exploration (Sutton & Barto, ch. 2) at chosen decision points: right after any of
 * `afterTokenIds` (e.g. `<tool_call>`), with probability `epsilon` the next token is drawn uniformly
 * from `tokenIds` (e.g. the tool-name tokens) instead of from the policy. The reported logprob is the
 * mixture's, ε/|choices| + (1 − ε)·p, at every token of such a decision point, explored or not: the
 * distribution the token was drawn from, so importance ratios stay unbiased (`policyLogprobs` keeps
 * the policy's own).
 */
export type ExploreAmong = 'all' | 'mentioned' | 'untried';

export interface TokenExploration {
  epsilon: number;
  tokenIds: number[];
  afterTokenIds: number[];
  /**
   * Which of `tokenIds` to draw from: `all` (default); `mentioned`, those already in the sequence
   * (e.g. the tools a task's prompt names); `untried`, those mentioned but never yet chosen at a
   * decision point (the named tools not called so far). With none mentioned, the draw is from all;
   * with every mentioned one tried, the policy decides (no exploration).
   */
  among?: ExploreAmong;
  /**
   * The first decision point of the sequence (1-based) that explores; earlier ones are left to the
   * policy. Default 1. E.g. 2 on a compose episode explores only the calls after the first.
   */
  fromDecision?: number;
}

/** Token ids as the agent loop lends them: a view onto its int32 record, or a plain array. */
export type { TokenIds };

/**
 * Token mode: the policy continues exactly these token ids (the agent loop rendered them with the
 * chat template). They are the episode's record itself, lent for the call: the loop appends to it
 * only after the result resolves, and a policy copies what it keeps past that. Message mode: for
 * engines that only take chat messages.
 */
export type GenerateRequest =
  | { tokens: TokenIds; sampling: SamplingParams; signal?: AbortSignal }
  | { messages: Message[]; tools: ToolSpec[]; sampling: SamplingParams; signal?: AbortSignal };

export interface GenerateResult {
  text: string;
  /** Sampled token ids, from the engine. Absent when the engine does not expose them. */
  tokens?: number[];
  /**
   * Logprob of each sampled token under the distribution it was drawn from (the behaviour policy:
   * temperature, truncation and exploration as applied): what importance ratios divide by.
   */
  logprobs?: number[];
  /**
   * The policy's own logprob of each sampled token, log-softmax(logits / temperature), when the
   * engine reports it apart from `logprobs` (onnx). Differs where truncation or exploration changed
   * the distribution; for diagnostics.
   */
  policyLogprobs?: number[];
  /** Native tool calls (OpenAI `tool_calls`), when the engine parsed them itself. */
  toolCalls?: ToolCall[];
  /** Native tool calls the engine returned but that could not be read (arguments not JSON, …). */
  toolCallErrors?: ParseError[];
  /**
   * Prompt token ids the engine actually used, when it reports them (vLLM `prompt_token_ids`); for
   * a token-mode request this may be the lent record itself.
   */
  promptTokens?: readonly number[];
  finishReason: FinishReason;
  policyVersion: number;
}

/**
 * A policy: one module per engine (onnx, openai-compatible, scripted). `tokenizer` is present
 * exactly when the policy accepts token-mode requests and returns sampled token ids.
 */
export interface Policy {
  /** Human-readable spec, e.g. `onnx:./models/tiny`, `openai:http://host/v1#model`. */
  readonly id: string;
  /** Increases every time new weights are loaded. */
  readonly version: number;
  readonly tokenizer?: Tokenizer;
  /** The model's own chat template (Jinja source), when it ships one. */
  readonly chatTemplate?: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /**
   * Policies that need the episode (the scripted `oracle` asks the environment for its solution,
   * `random` draws from the tool schemas with the episode's seed) return a per-episode policy
   * here; the agent loop calls it once after the episode has started and uses what it returns.
   */
  bindEpisode?(episode: EpisodeBinding): Promise<Policy>;
  /** Batched token-mode generation; engines that batch natively implement it, others loop. */
  generateBatch?(requests: Array<Extract<GenerateRequest, { tokens: TokenIds }>>): Promise<GenerateResult[]>;
  close?(): Promise<void>;
}

/** What a policy may know about the episode it plays (see `Policy.bindEpisode`). */
export interface EpisodeBinding {
  /** The task as the agent sees it (no gold answer). */
  task: Omit<Task, 'answer'>;
  tools: ToolSpec[];
  seed: number;
  /** The environment's scripted solution (`toolgym/episode/oracle`), fetched on demand. */
  oracle(): Promise<OracleResult>;
}

/** What a policy spec is resolved with besides its own text (from CLI flags or a config file). */
export interface PolicySpecContext {
  /** How the policy writes tool calls: a text format, or `native` (OpenAI `tool_calls`). */
  toolFormat: ToolCallFormat | 'native';
  /** Free-form `key=value` settings for the scheme (`--policy-option apiKey=…`). */
  options: Readonly<Record<string, string>>;
}

/**
 * One kind of policy, by the scheme of its spec (`openai:…`, `onnx:…`, `oracle`). Engines implement
 * it; `policy-spec.ts` resolves a spec to the scheme that creates it.
 */
export interface PolicyScheme {
  /** How the spec is written, for help and error messages: `openai:<baseURL>#<model>`. */
  usage: string;
  /** `target` is the spec after `<scheme>:` (empty when there is none). */
  create(target: string, context: PolicySpecContext): Promise<Policy>;
}

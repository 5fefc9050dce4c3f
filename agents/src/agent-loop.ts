import { randomUUID } from 'node:crypto';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { EnvironmentClient } from '@toolgym/env-kit';
import { ToolGymError } from '@toolgym/protocol';
import {
  type Failure,
  type FinishReason,
  type Message,
  type ParseError,
  type RewardBreakdown,
  type Span,
  type StartParams,
  type ToolCall,
  type ToolResult,
  type ToolSpec,
  TRAJECTORY_SCHEMA_VERSION,
  type Trajectory,
  type Turn,
} from '@toolgym/protocol';
import { ChatTemplate } from './chat/chat-template.ts';
import { hermesToolCalls } from './chat/hermes-tool-calls.ts';
import type { ToolCallFormat } from './chat/tool-call-format.ts';
import { EngineTokenRecord } from './engine-token-record.ts';
import { PolicyError } from './errors.ts';
import type { GenerateResult, Policy, SamplingParams } from './policy.ts';
import { TokenLedger } from './token-ledger.ts';
import { type RenderCache, type TemplateCheck, TurnRenderer } from './turn-renderer.ts';

export interface EpisodeOptions {
  /** A connected session of the environment; one episode plays on it at a time. */
  client: EnvironmentClient;
  policy: Policy;
  /** Which task: by id, or drawn from a split with the seed. The seed also seeds sampling. */
  start: StartParams;
  sampling: SamplingParams;
  /**
   * Token mode renders with this template; defaults to the policy's own (`policy.chatTemplate`),
   * else the built-in Hermes/Qwen template.
   */
  template?: ChatTemplate;
  /** How tool calls are read from the assistant's text. Default: Hermes. */
  toolFormat?: ToolCallFormat;
  /** A system message before the task prompt (templates add their default when absent). */
  systemPrompt?: string;
  /** At most this many assistant turns (the environment's own limit applies too). */
  maxTurns?: number;
  /** The whole episode stays within this many tokens (prompt, turns, observations). Token mode only. */
  maxContextTokens?: number;
  /** The environment's tools and id, when the caller already has them (saves round trips per episode). */
  tools?: ToolSpec[];
  envId?: string;
  /** How the template's render is checked against the token record (default `window`). */
  templateCheck?: TemplateCheck;
  /**
   * What episodes that use the same policy, template and tools share (the rollout engine keeps one
   * per run): the members of a group render their common prompt once.
   */
  renderCache?: RenderCache;
  /** Client-side limit on control requests (start, end, oracle). */
  controlTimeoutMs?: number;
  signal?: AbortSignal;
  ids?: { trajectoryId?: string; runId?: string; step?: number; groupId?: string };
  /** Called after each turn, as it happens (the replay feed shows running episodes); must not throw. */
  onTurn?: (turn: Turn, progress: EpisodeProgress) => void;
}

/** A running episode as of its latest turn: the conversation and the token record so far. */
export interface EpisodeProgress {
  envId: string;
  taskId: string;
  seed: number;
  startedAt: number;
  messages: readonly Message[];
  /**
   * The token record (empty when the episode is not recorded at token level): in token mode, views
   * onto the loop's typed record, valid for good (the record only appends).
   */
  record: {
    readonly tokens: ArrayLike<number>;
    /** 1 on sampled tokens, else 0. */
    readonly lossMask: ArrayLike<number>;
    readonly logprobs: ArrayLike<number>;
    readonly policyLogprobs?: ArrayLike<number> | undefined;
    /** Sequences closed because the template rewrote history (when the record keeps them). */
    readonly branches?: readonly unknown[] | undefined;
  };
}

/**
 * Extra time a tool call gets on the client beyond the environment's own tool timeout, which the
 * server enforces itself: it covers what the server does before that clock starts, such as a tool
 * worker loading the environment's module on a new server (seconds on a loaded machine).
 */
const TOOL_CALL_GRACE_MS = 10_000;
const DEFAULT_CONTEXT_TOKENS = 32_768;
const NO_RECORD: EpisodeProgress['record'] = { tokens: [], lossMask: [], logprobs: [] };
const ZERO_REWARD: RewardBreakdown = { total: 0, components: {}, weights: {}, info: {} };

type EpisodeEnd =
  | { status: 'terminated' }
  | { status: 'truncated'; truncation: string }
  | { status: 'failed'; failure: Failure };

/**
 * Plays one episode: start it on the environment, then turn by turn let the policy generate,
 * parse its tool calls, run them over MCP and show it the results, until an answer, a limit, or a
 * failure; then grade it. Never throws for anything an episode can do: environment, policy and
 * template failures end the episode as `failed` with the reason.
 */
export async function playEpisode(options: EpisodeOptions): Promise<Trajectory> {
  const { client } = options;
  const startedAt = Date.now();
  const t0 = performance.now();
  const format = options.toolFormat ?? hermesToolCalls;
  const tokenizer = options.policy.tokenizer;
  const template =
    options.template ??
    (options.policy.chatTemplate
      ? new ChatTemplate(options.policy.chatTemplate, {}, `policy ${options.policy.id}`)
      : ChatTemplate.hermes());
  const ledger = tokenizer ? new TokenLedger(tokenizer, options.renderCache?.recordHeadroom) : undefined;
  let renderer: TurnRenderer | undefined;
  // Message mode: exact only if the engine reports the ids of its own prompts and samples.
  const engineRecord = ledger ? undefined : new EngineTokenRecord();
  const messages: Message[] = [];
  const turns: Turn[] = [];
  const seed = options.start.seed ?? 0;
  const controlOptions = {
    timeoutMs: options.controlTimeoutMs ?? 60_000,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  let taskId = options.start.taskId ?? '';
  let envId = options.envId ?? '';
  let reward = ZERO_REWARD;
  let end: EpisodeEnd | undefined;

  try {
    if (!options.envId) envId = (await client.info(controlOptions)).id;
    const started = await client.start(options.start, controlOptions);
    taskId = started.task.id;
    const tools = options.tools ?? (await client.listTools(controlOptions));
    const maxTurns = Math.min(options.maxTurns ?? Number.POSITIVE_INFINITY, started.limits.maxTurns);
    const contextBudget = options.maxContextTokens ?? DEFAULT_CONTEXT_TOKENS;
    const policy = options.policy.bindEpisode
      ? await options.policy.bindEpisode({
          task: started.task,
          tools,
          seed,
          oracle: () => client.oracle(controlOptions),
        })
      : options.policy;

    if (options.systemPrompt !== undefined) messages.push({ role: 'system', content: options.systemPrompt });
    messages.push({ role: 'user', content: started.task.prompt });
    if (ledger && tokenizer) {
      renderer = new TurnRenderer(
        template,
        tokenizer,
        tools,
        options.templateCheck ?? 'window',
        options.renderCache,
        options.sampling.stopTokenIds,
      );
      ledger.appendObservation(renderer.prompt(ledger, messages));
      if (ledger.length >= contextBudget) end = { status: 'truncated', truncation: 'token_budget' };
    }

    let finalText: string | undefined;
    const stopTokenIds = options.sampling.stopTokenIds ?? [...(tokenizer?.eosTokenIds ?? [])];
    while (!end) {
      const index = turns.length;
      const g0 = performance.now();
      const sampling: SamplingParams = {
        ...options.sampling,
        seed: options.sampling.seed ?? seed * 1_000 + index,
        ...(ledger
          ? {
              maxTokens: Math.min(options.sampling.maxTokens, contextBudget - ledger.length),
              stopTokenIds,
            }
          : {}),
      };
      const signal = options.signal;
      let result: GenerateResult;
      try {
        result = await policy.generate(
          ledger
            ? { tokens: ledger.tokens, sampling, ...(signal ? { signal } : {}) }
            : { messages: [...messages], tools, sampling, ...(signal ? { signal } : {}) },
        );
      } catch (error) {
        if (error instanceof ToolGymError) throw error;
        throw new PolicyError(
          `policy ${policy.id} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const generateMs = performance.now() - g0;

      // The assistant's turn, as sampled.
      let sampled: Span = { start: 0, end: 0 };
      let content: string;
      let stopTokenId: number | undefined;
      if (ledger && renderer) {
        if (!result.tokens)
          throw new PolicyError(
            `policy ${policy.id} has a tokenizer but returned no token ids`,
            undefined,
            'policy_no_tokens',
          );
        const read = renderer.readSampled(result.tokens);
        sampled = ledger.appendSampled(result.tokens, result.logprobs, read.text, result.policyLogprobs);
        renderer.sampled(messages.length, read.text);
        content = read.content;
        stopTokenId = read.stopTokenId;
      } else {
        content = result.text;
        const spans = engineRecord?.addTurn(result);
        if (spans) {
          sampled = spans.sampled;
          const previous = turns.at(-1);
          if (previous && spans.previousObservation) previous.observation = spans.previousObservation;
        }
      }
      const callIdPrefix = `call-${index}`;
      // Calls the engine parsed natively win; otherwise they are read from the text.
      const fromText = result.toolCalls ? undefined : format.parse(content, callIdPrefix);
      const parsed = {
        calls: result.toolCalls ?? fromText?.calls ?? [],
        errors: [...(fromText?.errors ?? []), ...(result.toolCallErrors ?? [])],
      };
      messages.push({
        role: 'assistant',
        content,
        ...(parsed.calls.length > 0 ? { toolCalls: parsed.calls } : {}),
      });

      // The environment's answers.
      const t1 = performance.now();
      const toolResults: ToolResult[] = [];
      let terminated = false;
      let cutShort: string | undefined;
      for (const call of parsed.calls) {
        const outcome = await runToolCall(
          client,
          call,
          { timeoutMs: started.limits.toolTimeoutMs + TOOL_CALL_GRACE_MS, turn: index },
          signal,
        );
        toolResults.push(outcome.record);
        terminated ||= outcome.terminated;
        cutShort ??= outcome.truncation;
        messages.push({
          role: 'tool',
          content: outcome.record.content,
          toolCallId: call.id,
          name: call.name,
        });
      }
      for (const error of parsed.errors)
        messages.push({ role: 'tool', content: parseErrorObservation(error) });
      const toolMs = performance.now() - t1;

      const finishReason: FinishReason =
        parsed.calls.length > 0 && result.finishReason === 'stop' ? 'tool_call' : result.finishReason;
      if (terminated) end = { status: 'terminated' };
      // The environment refused calls past one of its limits: the episode is over there.
      else if (cutShort) end = { status: 'truncated', truncation: cutShort };
      else if (parsed.calls.length === 0 && parsed.errors.length === 0) {
        // No call: the model answered in text (graded from `finalText`) or ran out of tokens.
        finalText = content;
        end =
          result.finishReason === 'length'
            ? { status: 'truncated', truncation: 'turn_length' }
            : { status: 'terminated' };
      } else if (index + 1 >= maxTurns) end = { status: 'truncated', truncation: 'max_turns' };

      let observation: Span = { start: 0, end: 0 };
      let branch: number | undefined;
      if (ledger && renderer) {
        // An ending episode still renders its last results (no generation prompt), so the tokens
        // decode to the whole conversation.
        let next = renderer.afterTurn(ledger, messages, !end);
        if (
          !end &&
          ledger.length + ('observation' in next ? next.observation.tokens.length : 0) >= contextBudget
        ) {
          end = { status: 'truncated', truncation: 'token_budget' };
          next = renderer.afterTurn(ledger, messages, false);
        }
        if ('observation' in next) {
          observation = ledger.appendObservation(next.observation);
          renderer.observed(next.observation.text);
        } else if (!end) {
          // The template rewrote history: the record so far closes as a branch and the next turn
          // continues from the template's new render of the whole conversation.
          branch = ledger.branch(next.rewritten);
          renderer.branched(next.rewritten);
          for (const turn of turns) turn.branch ??= branch;
          if (ledger.length >= contextBudget) end = { status: 'truncated', truncation: 'token_budget' };
        }
        if (end) renderer.checkEnd(ledger, messages, !('observation' in next));
      }
      turns.push({
        index,
        policyVersion: result.policyVersion,
        sampled,
        observation,
        text: content,
        finishReason,
        toolCalls: parsed.calls,
        toolResults,
        parseErrors: parsed.errors,
        ...(stopTokenId !== undefined ? { stopTokenId } : {}),
        ...(branch !== undefined ? { branch } : {}),
        generateMs,
        toolMs,
      });
      options.onTurn?.(turns.at(-1)!, {
        envId,
        taskId,
        seed,
        startedAt,
        messages,
        record: ledger ?? engineRecord ?? NO_RECORD,
      });
    }

    reward = (await client.end(finalText, controlOptions)).reward;
  } catch (error) {
    end = { status: 'failed', failure: describeFailure(error, client) };
    reward = ZERO_REWARD;
  }

  if (ledger) options.renderCache?.noteRecord(ledger.length - ledger.promptLength);
  // The trajectory holds the record's typed arrays themselves: no copy.
  const sequence = ledger ? ledger.sequence() : engineRecord?.exact ? engineRecord.sequence() : undefined;
  if (!sequence) {
    for (const turn of turns) {
      turn.sampled = { start: 0, end: 0 };
      turn.observation = { start: 0, end: 0 };
    }
  }
  const status = end ?? {
    status: 'failed' as const,
    failure: { code: 'internal_error', message: 'the episode ended without a status' },
  };
  return {
    schemaVersion: TRAJECTORY_SCHEMA_VERSION,
    id: options.ids?.trajectoryId ?? randomUUID(),
    ...(options.ids?.runId !== undefined ? { runId: options.ids.runId } : {}),
    ...(options.ids?.step !== undefined ? { step: options.ids.step } : {}),
    ...(options.ids?.groupId !== undefined ? { groupId: options.ids.groupId } : {}),
    envId,
    taskId,
    seed,
    messages,
    tokens: sequence ? sequence.tokens : new Int32Array(0),
    lossMask: sequence ? sequence.lossMask : new Uint8Array(0),
    logprobs: sequence ? sequence.logprobs : new Float64Array(0),
    ...(sequence?.policyLogprobs ? { policyLogprobs: sequence.policyLogprobs } : {}),
    promptLength: sequence ? sequence.promptLength : 0,
    turns,
    ...(ledger && ledger.branches.length > 0 ? { branches: ledger.branches } : {}),
    tokenization: sequence ? 'exact' : 'text-only',
    status: status.status,
    ...(status.status === 'truncated' ? { truncation: status.truncation } : {}),
    ...(status.status === 'failed' ? { failure: status.failure } : {}),
    reward,
    timing: {
      startedAt,
      ms: performance.now() - t0,
      generateMs: turns.reduce((s, t) => s + t.generateMs, 0),
      toolMs: turns.reduce((s, t) => s + t.toolMs, 0),
    },
  };
}

async function runToolCall(
  client: EnvironmentClient,
  call: ToolCall,
  options: { timeoutMs: number; turn: number },
  signal: AbortSignal | undefined,
): Promise<{ record: ToolResult; terminated: boolean; truncation?: string }> {
  const t0 = performance.now();
  const result = await client.callTool(call.name, call.arguments, {
    ...options,
    ...(signal ? { signal } : {}),
  });
  return {
    record: {
      callId: call.id,
      name: call.name,
      content: result.content,
      isError: result.isError,
      truncated: result.truncated,
      ms: performance.now() - t0,
    },
    terminated: result.terminated,
    ...(result.truncation ? { truncation: result.truncation } : {}),
  };
}

/** What the model sees for a call it wrote but that could not be read. */
export function parseErrorObservation(error: ParseError): string {
  return `Error (${error.code}): ${error.message}`;
}

/** Sorts an episode-ending error into a recorded failure reason (by class and code, never by message text). */
export function describeFailure(error: unknown, client?: EnvironmentClient): Failure {
  const message = error instanceof Error ? error.message : String(error);
  if (client?.lostReason) return { code: 'environment_lost', message: `${client.lostReason} (${message})` };
  if (error instanceof ToolGymError) return { code: error.code, message: error.render() };
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) return { code: 'environment_timeout', message };
    if (error.code === ErrorCode.ConnectionClosed) return { code: 'environment_lost', message };
    const dataCode = (error.data as { code?: unknown } | undefined)?.code;
    return { code: typeof dataCode === 'string' ? dataCode : 'environment_error', message };
  }
  if (error instanceof Error && error.name === 'AbortError') return { code: 'aborted', message };
  return { code: 'internal_error', message: error instanceof Error && error.stack ? error.stack : message };
}

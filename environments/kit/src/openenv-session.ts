/**
 * A ToolGym episode seen through OpenEnv's Gym-style interface (reset, step, state), with OpenEnv's
 * wire shapes. Followed: meta-pytorch/OpenEnv 685de411e5f77286b0fd94798d42c4467cf8a1bc,
 * `src/openenv/core/env_server/types.py`, `mcp_types.py` and `serialization.py`.
 */
import { type RewardBreakdown, SplitSchema, ToolGymError } from '@toolgym/protocol';
import { z } from 'zod';
import type { Environment, ToolCallOutcome } from './episode.ts';
import { EpisodeSession } from './mcp-server.ts';

/** OpenEnv's `WSErrorCode`: what a `{"type":"error"}` answer's `data.code` says. */
export type OpenEnvErrorCode =
  | 'INVALID_JSON'
  | 'UNKNOWN_TYPE'
  | 'VALIDATION_ERROR'
  | 'EXECUTION_ERROR'
  | 'CAPACITY_REACHED'
  | 'FACTORY_ERROR'
  | 'SESSION_ERROR';

/** One field that failed validation, shaped like a pydantic error (`loc`, `msg`, `type`). */
export interface OpenEnvFieldError {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/** A message or action OpenEnv's protocol refuses, with the code its clients read. */
export class OpenEnvError extends ToolGymError {
  constructor(
    readonly wireCode: OpenEnvErrorCode,
    code: string,
    message: string,
    hint?: string,
    readonly errors: OpenEnvFieldError[] = [],
  ) {
    super(code, message, hint);
  }

  /** The `data` of OpenEnv's `WSErrorResponse`. */
  data(): Record<string, unknown> {
    return {
      message: this.message,
      code: this.wireCode,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.errors.length > 0 ? { errors: this.errors } : {}),
    };
  }
}

/** `ResetRequest` (seed ≥ 0, episode_id ≤ 255 chars) plus ToolGym's task choice. Other keys are dropped, as OpenEnv drops kwargs an env does not take. */
export const ResetDataSchema = z.object({
  seed: z.number().int().min(0).optional().describe('draws the task from the split (default 0)'),
  episode_id: z.string().max(255).optional().describe('an id of your own for the episode, reported by state'),
  task_id: z.string().min(1).optional().describe('play this task instead of drawing one'),
  split: SplitSchema.optional().describe('the split to draw from (default train)'),
});

export type ResetData = z.infer<typeof ResetDataSchema>;

/** MCP's `CallToolResult` as a ToolGym tool call answers it. */
export interface McpCallToolResult {
  content: Array<{ type: 'text'; text: string }>;
  isError: boolean;
  data: string;
  _meta?: { done: true; reward: number; reward_breakdown: RewardBreakdown };
}

const metadata = z.record(z.string(), z.unknown()).default({});

/** OpenEnv's `CallToolAction`; `type` may be left out, as `call_tool` is the environment's action class. */
export const CallToolActionSchema = z.strictObject({
  type: z.literal('call_tool').default('call_tool'),
  tool_name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).default({}),
  metadata,
});

/** OpenEnv's `ListToolsAction`. */
export const ListToolsActionSchema = z.strictObject({ type: z.literal('list_tools'), metadata });

const ToolErrorSchema = z.object({
  error_type: z.enum(['execution_error', 'invalid_args', 'transport_error', 'tool_not_found', 'timeout']),
  message: z.string(),
});

const ToolSchema = z.object({ name: z.string(), description: z.string(), input_schema: z.record(z.string(), z.unknown()) });

/**
 * What an observation's `observation` object holds. A key is present only when it applies, since
 * OpenEnv's MCP client tells a ListToolsObservation (`tools`) from a CallToolObservation
 * (`tool_name`) by which keys are there; ToolGym's extras ride in `metadata`, which it keeps.
 */
export const OpenEnvObservationSchema = z.object({
  tools: z.array(ToolSchema).optional().describe('the tools, at reset and for list_tools'),
  tool_name: z.string().optional(),
  result: z.string().optional().describe("the tool's output, as the model would read it"),
  error: ToolErrorSchema.nullable().optional().describe('why the call failed, when it did'),
  metadata: z.object({
    episode_id: z.string().nullable(),
    task: z.record(z.string(), z.unknown()).optional().describe('the task (without its answer), at reset'),
    truncated: z.boolean().optional().describe('the output was cut to the episode limit'),
    reward_breakdown: z.record(z.string(), z.unknown()).optional().describe('the grade, once done'),
  }),
});
export type OpenEnvObservation = z.infer<typeof OpenEnvObservationSchema>;

/** OpenEnv's `State` with ToolGym's extras (extra fields are allowed there). */
export const OpenEnvStateSchema = z.object({
  episode_id: z.string().nullable(),
  step_count: z.number().int().min(0),
  task_id: z.string().nullable(),
  done: z.boolean(),
});
export type OpenEnvState = z.infer<typeof OpenEnvStateSchema>;

/** `serialize_observation`'s output: what `/reset`, `/step` and a WS observation carry. */
export interface OpenEnvStepPayload {
  observation: OpenEnvObservation;
  reward: number | null;
  done: boolean;
}

/** Reads `value` with `schema`, or throws VALIDATION_ERROR naming each bad field under `at`. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, at: Array<string | number>): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((i) => ({
    loc: [...at, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    msg: i.message,
    type: i.code,
  }));
  const first = errors[0];
  throw new OpenEnvError(
    'VALIDATION_ERROR',
    'invalid_message',
    `Invalid message: ${errors.map((e) => `${e.loc.join('.') || '(root)'}: ${e.msg}`).join('; ')}`,
    first ? `fix ${first.loc.join('.') || 'the message'}; GET /schema lists the action, observation and state` : undefined,
    errors,
  );
}

const ERROR_TYPES: Record<string, z.infer<typeof ToolErrorSchema>['error_type']> = {
  unknown_tool: 'tool_not_found',
  invalid_arguments: 'invalid_args',
  tool_timeout: 'timeout',
};

/**
 * One OpenEnv environment instance: at most one ToolGym episode at a time, held by an agent (the
 * protocol has no way to ask for answers or oracles). An episode ends when a tool ends it or when
 * its steps reach the environment's turn limit; it is then graded and released at once.
 */
export class OpenEnvSession {
  private readonly session: EpisodeSession;
  private episodeId: string | null = null;
  private taskId: string | null = null;
  private stepCount = 0;
  private done = false;

  constructor(readonly env: Environment) {
    this.session = new EpisodeSession(env, 'agent');
  }

  /** Opens a new episode (releasing the previous one). */
  async reset(data: unknown): Promise<OpenEnvStepPayload> {
    const d = validate(ResetDataSchema, data ?? {}, ['data']);
    // Starting releases the previous episode even when the new one fails to open.
    this.episodeId = null;
    this.taskId = null;
    this.stepCount = 0;
    this.done = false;
    const started = await this.session
      .start({ seed: d.seed ?? 0, ...(d.task_id ? { taskId: d.task_id } : {}), ...(d.split ? { split: d.split } : {}) })
      .catch(asExecutionError);
    this.episodeId = d.episode_id ?? started.episodeId;
    this.taskId = started.task.id;
    return {
      observation: { tools: this.tools(), metadata: { episode_id: this.episodeId, task: started.task } },
      reward: null,
      done: false,
    };
  }

  /** Runs one action: a tool call of the open episode, or listing the tools (which needs no episode). */
  async step(action: unknown): Promise<OpenEnvStepPayload> {
    const isList = typeof action === 'object' && action !== null && (action as { type?: unknown }).type === 'list_tools';
    if (isList) {
      validate(ListToolsActionSchema, action, ['data']);
      return { observation: { tools: this.tools(), metadata: { episode_id: this.episodeId } }, reward: null, done: this.done };
    }
    const call = validate(CallToolActionSchema, action, ['data']);
    const { outcome, reward } = await this.call(call.tool_name, call.arguments);
    const observation = {
      tool_name: call.tool_name,
      result: outcome.content,
      error: outcome.isError
        ? { error_type: ERROR_TYPES[outcome.errorCode ?? ''] ?? 'execution_error', message: outcome.content }
        : null,
    };
    const metadata = { episode_id: this.episodeId, truncated: outcome.truncated };
    if (!reward) return { observation: { ...observation, metadata }, reward: null, done: false };
    return { observation: { ...observation, metadata: { ...metadata, reward_breakdown: reward } }, reward: reward.total, done: true };
  }

  /**
   * MCP's `tools/call`: runs `name` in the open episode, first opening one with `open` when none has
   * been (an MCP-only client never sends reset). The result is MCP's `CallToolResult`; `data` is the
   * text again, which OpenEnv's MCP client returns, and `_meta` says when the call ended the episode.
   */
  async callTool(name: string, args: Record<string, unknown>, open: ResetData): Promise<McpCallToolResult> {
    if (!this.session.current && !this.done) await this.reset(open);
    const { outcome, reward } = await this.call(name, args);
    return {
      content: [{ type: 'text', text: outcome.content }],
      isError: outcome.isError,
      data: outcome.content,
      ...(reward ? { _meta: { done: true, reward: reward.total, reward_breakdown: reward } } : {}),
    };
  }

  /** The tools as MCP's `tools/list` names them. */
  mcpTools(): Array<{ name: string; description: string; inputSchema: Record<string, unknown> }> {
    return this.env.toolSpecs.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
  }

  /** One tool call of the open episode; the episode is graded (and `reward` set) when the call ends it. */
  private async call(name: string, args: Record<string, unknown>): Promise<{ outcome: ToolCallOutcome; reward?: RewardBreakdown }> {
    if (this.done)
      throw new OpenEnvError('EXECUTION_ERROR', 'episode_done', `episode ${this.episodeId} is done`, 'send reset to start another, or open a new session');
    if (!this.session.current)
      throw new OpenEnvError('EXECUTION_ERROR', 'no_episode', 'no episode is open', 'send reset first');
    const { outcome } = await this.session.callTool(name, args);
    this.stepCount++;
    if (!outcome.terminated && this.stepCount < this.env.limits.maxTurns) return { outcome };
    return { outcome, reward: await this.finish() };
  }

  state(): OpenEnvState {
    return { episode_id: this.episodeId, step_count: this.stepCount, task_id: this.taskId, done: this.done };
  }

  /** Releases the open episode, if any. Safe to call repeatedly. */
  close(): Promise<void> {
    return this.session.close();
  }

  private async finish(): Promise<RewardBreakdown> {
    this.done = true;
    return (await this.session.end({}).catch(asExecutionError)).reward;
  }

  private tools(): z.infer<typeof ToolSchema>[] {
    return this.env.toolSpecs.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema }));
  }
}

/** A ToolGym failure of a well-formed request (an unknown task id, a grader that failed) is OpenEnv's EXECUTION_ERROR. */
function asExecutionError(error: unknown): never {
  if (error instanceof ToolGymError && !(error instanceof OpenEnvError))
    throw new OpenEnvError('EXECUTION_ERROR', error.code, error.message, error.hint);
  throw error;
}

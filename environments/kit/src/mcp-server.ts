import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import {
  CONTROL_METHODS,
  EndParamsSchema,
  EPISODE_META_KEY,
  type EndResult,
  type EnvironmentInfo,
  type EpisodeMeta,
  type OracleResult,
  type StartResult,
  StartParamsSchema,
  type Task,
  TasksParamsSchema,
  TURN_META_KEY,
} from '@toolgym/protocol';
import { z } from 'zod';
import { formatZodIssues } from './define-environment.ts';
import { ToolGymError } from '@toolgym/protocol';
import { EpisodeStateError } from './errors.ts';
import type { Environment, Episode, ToolCallOutcome } from './episode.ts';

export const SERVER_PROTOCOL_VERSION = 1;

const TurnMarkerSchema = z.number().int().nonnegative().optional();

const controlRequest = <M extends string>(method: M) =>
  z.object({ method: z.literal(method), params: z.record(z.string(), z.unknown()).optional() });

/** Environment facts for `toolgym/info`. */
export async function environmentInfo(env: Environment): Promise<EnvironmentInfo> {
  const tasks = await env.tasks();
  return {
    id: env.id,
    version: env.definition.version,
    description: env.definition.description,
    rewardRange: env.definition.rewardRange,
    limits: env.limits,
    taskCounts: {
      train: tasks.filter((t) => t.split === 'train').length,
      test: tasks.filter((t) => t.split === 'test').length,
    },
    tools: env.toolSpecs,
  };
}

/**
 * Who holds a session. The trainer may read what grades an episode (gold answers, the oracle,
 * hidden tests); an agent may only play. In-process, direct and stdio sessions belong to the
 * process that made them, which is the trainer; over HTTP the credential decides.
 */
export type Principal = 'trainer' | 'agent';

/** Refused because the session lacks the trainer credential. */
export class TrainerCredentialError extends EpisodeStateError {
  constructor(what: string) {
    super(
      'trainer_credential_required',
      `${what} is only for the trainer, and this session holds an agent credential`,
      'connect with the trainer token (toolgym env serve --trainer-token) to read answers, oracles or hidden tests',
    );
  }
}

/**
 * One MCP session = one episode at a time. The agent sees only the environment's tools; the
 * control plane (`toolgym/*` requests) starts, ends and grades episodes. A tool call before any
 * `start` opens an episode on a train task, so a plain MCP client can play too.
 */
export class EpisodeSession {
  private episode?: Episode;
  private opening?: Promise<Episode>;
  private autoSeed = 0;
  /** Its client is gone: no episode opens any more. */
  private closed = false;

  constructor(
    readonly env: Environment,
    readonly principal: Principal,
  ) {}

  get current(): Episode | undefined {
    return this.episode;
  }

  async start(params: unknown): Promise<StartResult> {
    const parsed = parseParams(StartParamsSchema, params, CONTROL_METHODS.start);
    // Training progress sets schedules that shape the reward's difficulty (ZeroSearch's noise).
    if (parsed.progress !== undefined && this.principal !== 'trainer')
      throw new TrainerCredentialError(`${CONTROL_METHODS.start} with progress`);
    this.refuseIfClosed();
    await this.episode?.close();
    this.episode = undefined;
    this.opening = this.env.openEpisode(parsed);
    let episode: Episode;
    try {
      episode = await this.opening;
    } finally {
      this.opening = undefined;
    }
    // The client left while the episode opened (its start was still queued when its transport
    // closed): nobody would ever end the episode, and it would hold what its setup leased.
    if (this.closed) {
      await episode.close();
      this.refuseIfClosed();
    }
    this.episode = episode;
    const { answer: _answer, ...task } = episode.task;
    return { episodeId: episode.id, task: { ...task, prompt: episode.prompt }, limits: this.env.limits };
  }

  /**
   * Grades and releases the open episode. An agent gets the reward without `info`, and a failed
   * grade only as its code: `info` and grading errors are where environments put what grading
   * compared against (gold answers, supporting documents, hidden tests), and tasks repeat across
   * episodes. The server's log keeps the details of a failure.
   */
  async end(params: unknown): Promise<EndResult> {
    const { finalText } = parseParams(EndParamsSchema, params, CONTROL_METHODS.end);
    const episode = this.episode;
    if (!episode) {
      throw new EpisodeStateError('no_episode', 'no episode to end in this session', `send ${CONTROL_METHODS.start} first`);
    }
    this.episode = undefined;
    if (this.principal === 'trainer') return episode.end(finalText);
    try {
      const result = await episode.end(finalText);
      return { ...result, reward: { ...result.reward, info: {} } };
    } catch (error) {
      const code = error instanceof ToolGymError ? error.code : 'grading_failed';
      process.stderr.write(`toolgym: grading episode ${episode.id} failed: ${error instanceof ToolGymError ? error.render() : String(error)}\n`);
      throw new EpisodeStateError(code, `grading episode ${episode.id} failed (${code})`, "the details are in the environment server's log");
    }
  }

  oracle(): OracleResult {
    if (this.principal !== 'trainer') throw new TrainerCredentialError(CONTROL_METHODS.oracle);
    const episode = this.requireEpisode();
    const oracle = this.env.definition.oracle;
    if (!oracle) throw new EpisodeStateError('no_oracle', `environment '${this.env.ref}' has no oracle`);
    return { calls: oracle(episode.task, this.env.config) };
  }

  info(): Promise<EnvironmentInfo> {
    return environmentInfo(this.env);
  }

  async tasks(params: unknown): Promise<{ tasks: Task[]; total: number }> {
    const p = parseParams(TasksParamsSchema, params, CONTROL_METHODS.tasks);
    if (p.withAnswers && this.principal !== 'trainer') throw new TrainerCredentialError(`${CONTROL_METHODS.tasks} with answers`);
    const all = p.split ? await this.env.tasksOf(p.split) : await this.env.tasks();
    const page = all.slice(p.offset, p.offset + p.limit);
    return { tasks: p.withAnswers ? page : page.map(({ answer: _a, ...t }) => t), total: all.length };
  }

  /** Runs a tool call in the open episode (opening one first for a client that never sent start). */
  async callTool(
    name: string,
    args: unknown,
    options: { signal?: AbortSignal; turn?: number } = {},
  ): Promise<{ outcome: ToolCallOutcome; meta: EpisodeMeta }> {
    if (!this.episode) await (this.opening ?? this.start({ seed: this.autoSeed++ }));
    const episode = this.requireEpisode();
    const outcome = await episode.callTool(name, args, options);
    const meta: EpisodeMeta = {
      episodeId: episode.id,
      terminated: outcome.terminated,
      toolCalls: episode.calls.length,
      truncated: outcome.truncated,
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(episode.truncation ? { truncation: episode.truncation } : {}),
    };
    return { outcome, meta };
  }

  /** Releases the open episode, if any (client gone, server closing), and opens none after. Safe to call repeatedly. */
  async close(): Promise<void> {
    this.closed = true;
    const episode = this.episode ?? (await this.opening?.catch(() => undefined));
    this.episode = undefined;
    await episode?.close();
  }

  private refuseIfClosed(): void {
    if (this.closed)
      throw new EpisodeStateError('session_closed', 'this session is closed: it opens no episode', 'open a new session');
  }

  private requireEpisode(): Episode {
    if (!this.episode) throw new EpisodeStateError('no_episode', 'no episode is open in this session', `send ${CONTROL_METHODS.start} first`);
    return this.episode;
  }
}

function parseParams<T extends z.ZodType>(schema: T, params: unknown, method: string): z.infer<T> {
  const { _meta, ...rest } = (params ?? {}) as Record<string, unknown>;
  const parsed = schema.safeParse(rest);
  if (!parsed.success) throw new McpError(ErrorCode.InvalidParams, `${method}: ${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

/** Control-plane failures travel as JSON-RPC errors whose `data.code` names the failure. */
async function asMcpErrors<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ToolGymError) {
      throw new McpError(ErrorCode.InvalidRequest, error.render(), { code: error.code });
    }
    throw error;
  }
}

/** An MCP server for one session, bound to `session`. */
export function createSessionServer(session: EpisodeSession): Server {
  const env = session.env;
  const server = new Server(
    { name: `toolgym-${env.id}`, version: String(env.definition.version) },
    {
      capabilities: { tools: {}, experimental: { toolgym: { protocolVersion: SERVER_PROTOCOL_VERSION } } },
      instructions: env.definition.description,
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: env.toolSpecs }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    asMcpErrors(async (): Promise<CallToolResult> => {
      const turn = TurnMarkerSchema.safeParse(request.params._meta?.[TURN_META_KEY]);
      if (!turn.success)
        throw new McpError(ErrorCode.InvalidParams, `tools/call: _meta["${TURN_META_KEY}"] must be the assistant turn's index, a whole number from 0`);
      const { outcome, meta } = await session.callTool(request.params.name, request.params.arguments ?? {}, {
        signal: extra.signal,
        ...(turn.data !== undefined ? { turn: turn.data } : {}),
      });
      return { content: [{ type: 'text', text: outcome.content }], isError: outcome.isError, _meta: { [EPISODE_META_KEY]: meta } };
    }),
  );
  server.setRequestHandler(controlRequest(CONTROL_METHODS.info), () => asMcpErrors(() => session.info()));
  server.setRequestHandler(controlRequest(CONTROL_METHODS.tasks), (request) => asMcpErrors(() => session.tasks(request.params)));
  server.setRequestHandler(controlRequest(CONTROL_METHODS.start), (request) => asMcpErrors(() => session.start(request.params)));
  server.setRequestHandler(controlRequest(CONTROL_METHODS.end), (request) => asMcpErrors(() => session.end(request.params)));
  server.setRequestHandler(controlRequest(CONTROL_METHODS.oracle), () => asMcpErrors(() => session.oracle()));
  return server;
}

/** Connects a fresh session to `transport`; the episode is released when the transport closes. */
export async function serveSession(
  env: Environment,
  transport: Transport,
  principal: Principal,
): Promise<{ server: Server; session: EpisodeSession }> {
  const session = new EpisodeSession(env, principal);
  const server = createSessionServer(session);
  server.onclose = () => void session.close();
  await server.connect(transport);
  return { server, session };
}

/**
 * Serves one environment over stdio until stdin closes; then releases the episode and exits. The
 * process that spawned the server holds its only channel, so it is the trainer.
 */
export async function serveStdio(env: Environment): Promise<void> {
  const transport = new StdioServerTransport();
  const { session } = await serveSession(env, transport, 'trainer');
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await session.close().catch(() => {});
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  // A client that dies abruptly leaves a broken pipe: release the episode and exit quietly
  // instead of crashing on an unhandled EPIPE.
  process.stdout.on('error', shutdown);
  process.stdin.on('error', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

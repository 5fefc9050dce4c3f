import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CONTROL_METHODS,
  EndResultSchema,
  EnvironmentInfoSchema,
  EPISODE_META_KEY,
  type EndResult,
  type EnvironmentInfo,
  EpisodeMetaSchema,
  type OracleResult,
  OracleResultSchema,
  type StartParams,
  type Split,
  type StartResult,
  StartResultSchema,
  type Task,
  TasksResultSchema,
  type ToolSpec,
  type Truncation,
  TURN_META_KEY,
} from '@toolgym/protocol';
import type { z } from 'zod';
import type { Environment } from './episode.ts';
import { EpisodeSession, type Principal, serveSession } from './mcp-server.ts';

/**
 * Where an environment lives: spawned over stdio, a Streamable HTTP URL, or this process. In this
 * process, `in-process` speaks MCP over the SDK's linked in-memory transport (the protocol is
 * exercised end to end); `direct` calls the same session without JSON-RPC, for embedded training
 * where tool calls are cheap and protocol overhead would dominate.
 */
export type EnvironmentEndpoint =
  | { kind: 'stdio'; command: string; args?: string[]; cwd?: string; env?: Record<string, string> }
  /** `token` is the bearer sent: the server's trainer token makes this client the trainer, its agent token an agent. */
  | { kind: 'http'; url: string; token?: string }
  /** In this process the session is the trainer's unless `principal` says `agent` (red-team attacks play as agents). */
  | { kind: 'in-process'; environment: Environment; principal?: Principal }
  | { kind: 'direct'; environment: Environment; principal?: Principal };

export interface ClientToolResult {
  content: string;
  isError: boolean;
  errorCode?: string;
  truncated: boolean;
  /** The episode ended with this call (an answer was given). */
  terminated: boolean;
  /** Set once an episode limit has cut the episode short (calls are then refused with `episode_over`). */
  truncation?: Truncation;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Client-side limit for this request; the server's own tool timeout normally fires first. */
  timeoutMs?: number;
  /** The assistant turn (from 0) that made a tool call, so the environment can enforce `maxTurns`. */
  turn?: number;
}

/**
 * One session with a ToolGym environment: its tools plus the control plane. The same API over
 * every endpoint; this is what the agent loop holds.
 */
export abstract class EnvironmentClient {
  /** Set when the connection drops (server crashed, killed, network gone). */
  lostReason?: string;

  /**
   * Connects and, over MCP, runs the handshake. `connectTimeoutMs` bounds the handshake (default
   * 60 s, the SDK's): a stdio server that loads a large environment on a busy machine may need longer.
   */
  static async connect(endpoint: EnvironmentEndpoint, options: { name?: string; connectTimeoutMs?: number } = {}): Promise<EnvironmentClient> {
    if (endpoint.kind === 'direct') return new DirectEnvironmentClient(new EpisodeSession(endpoint.environment, endpoint.principal ?? 'trainer'));
    return McpEnvironmentClient.open(endpoint, options);
  }

  /** Pid of a spawned stdio server (tests kill it to simulate a crash). */
  get serverPid(): number | undefined {
    return undefined;
  }

  abstract info(options?: CallOptions): Promise<EnvironmentInfo>;
  abstract tasks(params?: { split?: Split; offset?: number; limit?: number; withAnswers?: boolean }): Promise<{ tasks: Task[]; total: number }>;
  abstract start(params?: StartParams, options?: CallOptions): Promise<StartResult>;
  abstract end(finalText?: string, options?: CallOptions): Promise<EndResult>;
  abstract oracle(options?: CallOptions): Promise<OracleResult>;
  abstract listTools(options?: CallOptions): Promise<ToolSpec[]>;
  abstract callTool(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<ClientToolResult>;
  abstract close(): Promise<void>;
}

/** A session over MCP: stdio, Streamable HTTP, or the SDK's in-memory transport. */
export class McpEnvironmentClient extends EnvironmentClient {
  private closed = false;

  private constructor(
    readonly client: Client,
    private readonly transport: Transport,
  ) {
    super();
    client.onclose = () => {
      if (!this.closed) this.lostReason ??= 'the environment server closed the connection';
    };
    client.onerror = (error) => {
      this.lostReason ??= `transport error: ${error.message}`;
    };
  }

  static async open(
    endpoint: Exclude<EnvironmentEndpoint, { kind: 'direct' }>,
    options: { name?: string; connectTimeoutMs?: number },
  ): Promise<McpEnvironmentClient> {
    const client = new Client({ name: options.name ?? 'toolgym-agent', version: '0.1.0' }, { capabilities: {} });
    let transport: Transport;
    switch (endpoint.kind) {
      case 'stdio':
        transport = new StdioClientTransport({
          command: endpoint.command,
          args: endpoint.args ?? [],
          ...(endpoint.cwd ? { cwd: endpoint.cwd } : {}),
          env: { ...(process.env as Record<string, string>), ...endpoint.env },
          stderr: 'inherit',
        });
        break;
      case 'http':
        transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
          requestInit: endpoint.token ? { headers: { authorization: `Bearer ${endpoint.token}` } } : {},
        });
        break;
      case 'in-process': {
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
        await serveSession(endpoint.environment, serverSide, endpoint.principal ?? 'trainer');
        transport = clientSide;
        break;
      }
    }
    await client.connect(transport, options.connectTimeoutMs ? { timeout: options.connectTimeoutMs } : undefined);
    return new McpEnvironmentClient(client, transport);
  }

  override get serverPid(): number | undefined {
    return this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined;
  }

  info(options?: CallOptions): Promise<EnvironmentInfo> {
    return this.control(CONTROL_METHODS.info, {}, EnvironmentInfoSchema, options);
  }

  tasks(params: { split?: Split; offset?: number; limit?: number; withAnswers?: boolean } = {}): Promise<{ tasks: Task[]; total: number }> {
    return this.control(CONTROL_METHODS.tasks, params, TasksResultSchema);
  }

  start(params: StartParams = {}, options?: CallOptions): Promise<StartResult> {
    return this.control(CONTROL_METHODS.start, params, StartResultSchema, options);
  }

  end(finalText?: string, options?: CallOptions): Promise<EndResult> {
    return this.control(CONTROL_METHODS.end, finalText === undefined ? {} : { finalText }, EndResultSchema, options);
  }

  oracle(options?: CallOptions): Promise<OracleResult> {
    return this.control(CONTROL_METHODS.oracle, {}, OracleResultSchema, options);
  }

  async listTools(options?: CallOptions): Promise<ToolSpec[]> {
    const { tools } = await this.client.listTools({}, requestOptions(options));
    return tools.map((t) => ({ name: t.name, description: t.description ?? '', inputSchema: t.inputSchema }));
  }

  async callTool(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<ClientToolResult> {
    const result = await this.client.callTool(
      { name, arguments: args, ...(options?.turn !== undefined ? { _meta: { [TURN_META_KEY]: options.turn } } : {}) },
      undefined,
      requestOptions(options),
    );
    const content = (result.content as Array<{ type: string; text?: string }>)
      .map((part) => (part.type === 'text' ? (part.text ?? '') : `[${part.type} content]`))
      .join('\n');
    const meta = EpisodeMetaSchema.safeParse(result._meta?.[EPISODE_META_KEY]);
    return {
      content,
      isError: result.isError === true,
      ...(meta.success && meta.data.errorCode ? { errorCode: meta.data.errorCode } : {}),
      truncated: meta.success && meta.data.truncated,
      terminated: meta.success && meta.data.terminated,
      ...(meta.success && meta.data.truncation ? { truncation: meta.data.truncation } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private async control<T extends z.ZodType>(method: string, params: Record<string, unknown>, schema: T, options?: CallOptions): Promise<z.infer<T>> {
    return this.client.request({ method, params }, schema as never, requestOptions(options)) as Promise<z.infer<T>>;
  }
}

/** A session in this process without JSON-RPC: same session semantics, no protocol cost. */
export class DirectEnvironmentClient extends EnvironmentClient {
  constructor(private readonly session: EpisodeSession) {
    super();
  }

  info(): Promise<EnvironmentInfo> {
    return this.session.info();
  }

  tasks(params: { split?: Split; offset?: number; limit?: number; withAnswers?: boolean } = {}): Promise<{ tasks: Task[]; total: number }> {
    return this.session.tasks(params);
  }

  start(params: StartParams = {}): Promise<StartResult> {
    return this.session.start(params);
  }

  end(finalText?: string): Promise<EndResult> {
    return this.session.end(finalText === undefined ? {} : { finalText });
  }

  async oracle(): Promise<OracleResult> {
    return this.session.oracle();
  }

  async listTools(): Promise<ToolSpec[]> {
    return this.session.env.toolSpecs;
  }

  async callTool(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<ClientToolResult> {
    const { outcome, meta } = await this.session.callTool(name, args, {
      ...(options?.signal ? { signal: options.signal } : {}),
      ...(options?.turn !== undefined ? { turn: options.turn } : {}),
    });
    return {
      content: outcome.content,
      isError: outcome.isError,
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      truncated: outcome.truncated,
      terminated: outcome.terminated,
      ...(meta.truncation ? { truncation: meta.truncation } : {}),
    };
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

function requestOptions(options?: CallOptions) {
  return { ...(options?.signal ? { signal: options.signal } : {}), ...(options?.timeoutMs ? { timeout: options.timeoutMs } : {}) };
}

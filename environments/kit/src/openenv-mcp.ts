/**
 * OpenEnv's MCP path: JSON-RPC 2.0 `tools/list` and `tools/call`, plus OpenEnv's session methods
 * `openenv/session/create` and `openenv/session/close`, as answered on `POST /mcp`, on the `/mcp`
 * WebSocket and in a `/ws` `{"type": "mcp"}` message. Followed: meta-pytorch/OpenEnv
 * 685de411e5f77286b0fd94798d42c4467cf8a1bc, `src/openenv/core/env_server/http_server.py`
 * (`mcp_handler`) and `mcp_types.py` (`JsonRpcRequest`, `JsonRpcResponse`, `JsonRpcErrorCode`).
 */
import { ToolGymError } from '@toolgym/protocol';
import { z } from 'zod';
import { OpenEnvError, type OpenEnvSession, ResetDataSchema, validate } from './openenv-session.ts';

/** OpenEnv's `JsonRpcErrorCode`. */
export const JSON_RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SERVER_ERROR: -32000,
} as const;

type Id = string | number | null;

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: Id; result: unknown }
  | { jsonrpc: '2.0'; id: Id; error: { code: number; message: string; data: unknown } };

/** `JsonRpcRequest`: extra keys are refused, as pydantic's `extra="forbid"` refuses them. */
const RequestSchema = z.strictObject({
  jsonrpc: z.literal('2.0'),
  method: z.string(),
  params: z.record(z.string(), z.unknown()).default({}),
  id: z.union([z.string(), z.number().int()]).nullable().default(null),
});

/** `tools/call`'s params; the reset fields choose the episode a call opens when none is open. */
const CallParamsSchema = ResetDataSchema.extend({
  name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).default({}),
  session_id: z.string().optional(),
});

export function rpcError(code: number, message: string, id: Id = null, data: unknown = null): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message, data } };
}

/** A session the handler plays in, and how to reach the server's others. */
export interface McpContext {
  /** The connection's own session (an `/mcp` or `/ws` socket); HTTP requests have none. */
  own?: { id: string; env: OpenEnvSession };
  /** Opens an HTTP-managed session, or refuses with CAPACITY_REACHED. */
  create(): string;
  /** Runs `work` in the named session, in its turn; undefined when no such session is open. */
  within<T>(id: string, work: (env: OpenEnvSession) => Promise<T>): Promise<T> | undefined;
  /** Closes a session opened by `create`; false when none by that id is open. */
  close(id: string): boolean;
  /** Runs `work` in a fresh instance, released afterwards (OpenEnv's stateless request). */
  fresh<T>(work: (env: OpenEnvSession) => Promise<T>): Promise<T>;
}

/** Parses one JSON-RPC message's text and answers it; never throws. */
export async function answerMcpText(text: string, context: McpContext): Promise<JsonRpcResponse> {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    return rpcError(JSON_RPC.PARSE_ERROR, `Parse error: ${(error as Error).message}`);
  }
  return answerMcp(message, context);
}

/** Answers one JSON-RPC request (already parsed); never throws. */
export async function answerMcp(message: unknown, context: McpContext): Promise<JsonRpcResponse> {
  const parsed = RequestSchema.safeParse(message);
  if (!parsed.success) {
    const id = (message as { id?: unknown } | null)?.id;
    return rpcError(
      JSON_RPC.INVALID_REQUEST,
      `Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      typeof id === 'string' || typeof id === 'number' ? id : null,
      { hint: 'send {"jsonrpc": "2.0", "method": …, "params": {…}, "id": …} and nothing else' },
    );
  }
  const { method, params, id } = parsed.data;
  try {
    return { jsonrpc: '2.0', id, result: await dispatch(method, params, context) };
  } catch (error) {
    if (error instanceof OpenEnvError && error.wireCode === 'VALIDATION_ERROR')
      return rpcError(JSON_RPC.INVALID_PARAMS, error.message, id, { code: error.code, hint: error.hint, errors: error.errors });
    if (error instanceof McpRefusal)
      return rpcError(error.rpcCode, error.message, id, { code: error.code, ...(error.hint ? { hint: error.hint } : {}), ...error.extra });
    if (error instanceof ToolGymError)
      return rpcError(JSON_RPC.INTERNAL_ERROR, error.message, id, { code: error.code, ...(error.hint ? { hint: error.hint } : {}) });
    return rpcError(JSON_RPC.INTERNAL_ERROR, error instanceof Error ? error.message : String(error), id);
  }
}

/** A request refused with a JSON-RPC code of its own (unknown session, capacity, unknown method). */
export class McpRefusal extends ToolGymError {
  constructor(
    readonly rpcCode: number,
    code: string,
    message: string,
    hint?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code, message, hint);
  }
}

async function dispatch(method: string, params: Record<string, unknown>, context: McpContext): Promise<unknown> {
  switch (method) {
    case 'openenv/session/create':
      return { session_id: context.own?.id ?? context.create() };
    case 'openenv/session/close': {
      const target = params.session_id;
      if (typeof target !== 'string' || target === '')
        throw new McpRefusal(JSON_RPC.INVALID_PARAMS, 'invalid_params', "Invalid params - 'session_id' is required", 'send the session_id openenv/session/create returned');
      if (target === context.own?.id)
        throw new McpRefusal(
          JSON_RPC.INVALID_REQUEST,
          'own_session',
          'Cannot close active WebSocket-managed session via MCP method',
          'close the WebSocket (or send {"type": "close"} on /ws) to end this session',
        );
      if (!context.close(target)) throw unknownSession(target);
      return { session_id: target, closed: true };
    }
    case 'tools/list':
      return inSession(params, context, async (env) => ({ tools: env.mcpTools() }));
    case 'tools/call': {
      const { name, arguments: args, session_id: _s, ...open } = validate(CallParamsSchema, params, ['params']);
      return inSession(params, context, (env) => env.callTool(name, args, open));
    }
    default:
      throw new McpRefusal(
        JSON_RPC.METHOD_NOT_FOUND,
        'unknown_method',
        `Method not found: ${method}`,
        'use tools/list, tools/call, openenv/session/create or openenv/session/close',
      );
  }
}

/** The connection's own session, else the one `params.session_id` names, else a fresh instance. */
function inSession<T>(params: Record<string, unknown>, context: McpContext, work: (env: OpenEnvSession) => Promise<T>): Promise<T> {
  if (context.own) return work(context.own.env);
  const requested = params.session_id;
  if (requested === undefined) return context.fresh(work);
  if (typeof requested !== 'string')
    throw new McpRefusal(JSON_RPC.INVALID_PARAMS, 'invalid_params', 'session_id must be a string', 'send the session_id openenv/session/create returned');
  const answer = context.within(requested, work);
  if (!answer) throw unknownSession(requested);
  return answer;
}

function unknownSession(id: string): McpRefusal {
  return new McpRefusal(
    JSON_RPC.INVALID_PARAMS,
    'unknown_session',
    `Unknown session_id: ${id}`,
    'open one with openenv/session/create; a session idle past the server idle timeout is closed',
  );
}

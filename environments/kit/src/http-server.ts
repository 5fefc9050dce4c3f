import {
  type AppEnv,
  createHttpApp,
  HttpError,
  type ListenOptions,
  mountRoutes,
  type Route,
  readJson,
  sessionCap,
} from '@toolgym/http';
import type { Context } from 'hono';
import type { Environment } from './episode.ts';
import { HttpSessions } from './http-sessions.ts';
import type { Principal } from './mcp-server.ts';

export interface HttpServeOptions extends ListenOptions {
  /** Bearer token agents must send (`Authorization: Bearer …`); without one, loopback agents need none. */
  token?: string;
  /**
   * Bearer token of the trainer: a session opened with it may read answers, oracles and hidden
   * tests. Without one, every HTTP session is an agent's.
   */
  trainerToken?: string;
  /** A session with no request for this long is closed and its episode released. */
  idleTimeoutMs?: number;
  /** Most sessions (episodes) open at once; one more initialize is answered 503 with Retry-After. Default 1024. */
  maxSessions?: number;
}

export interface HttpEnvironmentServer {
  url: string;
  port: number;
  /** Open sessions (one episode each). */
  sessionCount(): number;
  close(): Promise<void>;
}

type McpEnv = AppEnv<Principal>;

/**
 * Serves an environment over MCP Streamable HTTP at `/mcp`: each MCP session (Mcp-Session-Id) is
 * one isolated episode. The SDK's web-standard transport is mounted inside the shared HTTP app, so
 * auth, the Host/Origin allow-list and the body limit are the same as every other ToolGym server's.
 * Errors are JSON-RPC error objects, as MCP clients expect. Sessions that go idle are closed so a
 * vanished client never holds resources.
 */
export async function serveHttp(
  env: Environment,
  options: HttpServeOptions = {},
): Promise<HttpEnvironmentServer> {
  const { app, listen } = createHttpApp<Principal>({
    ...options,
    name: `the ${env.ref} environment server`,
    auth: {
      tokens: { agent: options.token, trainer: options.trainerToken },
      ...(options.token ? {} : { anonymous: 'agent' as const }),
    },
    defaultMaxBodyBytes: 4 * 1024 * 1024,
    errorBody: jsonRpcError,
  });
  const idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
  const sessions = new HttpSessions(env);

  const mcp = async (c: Context<McpEnv>): Promise<Response> => {
    const principal = c.get('principal');
    const body = c.req.method === 'POST' ? await readJson(c) : undefined;
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId === undefined) {
      if (c.req.method !== 'POST')
        throw new HttpError(400, 'no_session', 'no Mcp-Session-Id', {
          hint: 'start a session with an initialize POST',
        });
      return sessions.open(principal, c.req.raw, body);
    }
    const existing = sessions.get(sessionId);
    if (!existing)
      throw new HttpError(404, 'unknown_session', 'unknown or expired session', {
        hint: 'initialize a new one',
      });
    if (existing.session.principal !== principal)
      throw new HttpError(
        403,
        'wrong_principal',
        `this session belongs to the ${existing.session.principal}`,
        {
          hint: 'send the credential the session was opened with',
        },
      );
    existing.lastSeen = Date.now();
    return existing.transport.handleRequest(c.req.raw, { parsedBody: body });
  };

  const routes: Array<Route<McpEnv>> = [
    {
      method: 'GET',
      path: '/healthz',
      handle: (c) => c.json({ ok: true, env: env.ref, sessions: sessions.size }),
    },
    {
      method: ['GET', 'POST', 'DELETE'],
      path: '/mcp',
      use: [
        sessionCap({
          max: options.maxSessions ?? 1024,
          open: () => sessions.size,
          opens: (c) => c.req.method === 'POST' && c.req.header('mcp-session-id') === undefined,
        }),
      ],
      handle: mcp,
    },
  ];
  mountRoutes(app, routes);

  const sweeper = setInterval(
    () => sessions.reapIdle(Date.now() - idleTimeoutMs),
    Math.min(idleTimeoutMs, 30_000),
  );
  sweeper.unref();
  const server = await listen({ port: options.port ?? 0 }).catch((error: unknown) => {
    clearInterval(sweeper);
    throw error;
  });
  return {
    url: `${server.origin}/mcp`,
    port: server.port,
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweeper);
      await sessions.closeAll();
      await server.close();
    },
  };
}

/** JSON-RPC's codes for the errors a request can hit before it reaches the MCP session. */
const JSON_RPC_CODES: Record<string, number> = { invalid_json: -32700, no_session: -32600 };

/** An HTTP error as a JSON-RPC error object; the shared error body travels in `data`. */
function jsonRpcError(error: HttpError): unknown {
  return {
    jsonrpc: '2.0',
    error: { code: JSON_RPC_CODES[error.code] ?? -32000, message: error.message, data: error.body().error },
    id: null,
  };
}

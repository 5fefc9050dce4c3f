import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ToolGymError } from '@toolgym/protocol';
import { ConfigError } from './errors.ts';
import type { Environment } from './episode.ts';
import { type EpisodeSession, type Principal, serveSession } from './mcp-server.ts';

export interface HttpServeOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1; any other address requires `token`. */
  host?: string;
  /** Bearer token agents must send (`Authorization: Bearer …`); without one, loopback agents need none. */
  token?: string;
  /**
   * Bearer token of the trainer: a session opened with it may read answers, oracles and hidden
   * tests. Without one, every HTTP session is an agent's.
   */
  trainerToken?: string;
  /** A session with no request for this long is closed and its episode released. */
  idleTimeoutMs?: number;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

export interface HttpEnvironmentServer {
  url: string;
  port: number;
  /** Open sessions (one episode each). */
  sessionCount(): number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export class PortInUseError extends ToolGymError {
  constructor(host: string, port: number, hint = 'pick another port, or 0 for any free port') {
    super('port_in_use', `port ${port} on ${host} is already in use`, hint);
  }
}

interface HttpSession {
  transport: StreamableHTTPServerTransport;
  session: EpisodeSession;
  lastSeen: number;
}

/**
 * Serves an environment over MCP Streamable HTTP at `/mcp`: each MCP session (Mcp-Session-Id)
 * is one isolated episode. Sessions that go idle are closed so a vanished client never holds
 * resources.
 */
export async function serveHttp(env: Environment, options: HttpServeOptions = {}): Promise<HttpEnvironmentServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.token) {
    throw new ConfigError(`binding to ${host} exposes the environment beyond this machine`, 'pass an agent bearer token (--token or TOOLGYM_TOKEN), and --trainer-token if a trainer will connect');
  }
  const idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const sessions = new Map<string, HttpSession>();
  const bearer = (token: string | undefined) => (token ? Buffer.from(`Bearer ${token}`) : undefined);
  const trainerBearer = bearer(options.trainerToken);
  const agentBearer = bearer(options.token);
  const matches = (given: Buffer, expected: Buffer | undefined) =>
    expected !== undefined && given.length === expected.length && timingSafeEqual(given, expected);

  /** Who sent the request, or undefined when its credential is missing or wrong. */
  const principalOf = (req: IncomingMessage): Principal | undefined => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (matches(given, trainerBearer)) return 'trainer';
    if (matches(given, agentBearer)) return 'agent';
    if (!agentBearer && given.length === 0) return 'agent';
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname === '/healthz') return reply(res, 200, { ok: true, env: env.ref, sessions: sessions.size });
    if (url.pathname !== '/mcp') return reply(res, 404, { error: 'not found: the MCP endpoint is /mcp' });
    const principal = principalOf(req);
    if (!principal) return reply(res, 401, { error: 'missing or wrong bearer token' });

    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (existing) {
      if (existing.session.principal !== principal)
        return reply(res, 403, jsonRpcError(`this session belongs to the ${existing.session.principal}; send the credential it was opened with`));
      existing.lastSeen = Date.now();
      const body = req.method === 'POST' ? await readJson(req, maxBodyBytes) : undefined;
      return existing.transport.handleRequest(req, res, body);
    }
    if (sessionId !== undefined) return reply(res, 404, jsonRpcError('unknown or expired session; initialize a new one'));
    if (req.method !== 'POST') return reply(res, 400, jsonRpcError('start a session with an initialize POST'));

    const body = await readJson(req, maxBodyBytes);
    let created: HttpSession | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        if (created) sessions.set(id, created);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const { session } = await serveSession(env, transport, principal);
    created = { transport, session, lastSeen: Date.now() };
    await transport.handleRequest(req, res, body);
  };

  const server: NodeHttpServer = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof BodyError ? error.status : 500;
      if (!res.headersSent) reply(res, status, jsonRpcError(error instanceof Error ? error.message : String(error)));
      else res.end();
    });
  });

  const sweeper = setInterval(() => {
    const cutoff = Date.now() - idleTimeoutMs;
    for (const [id, s] of sessions) {
      if (s.lastSeen < cutoff) {
        sessions.delete(id);
        void s.transport.close();
        void s.session.close();
      }
    }
  }, Math.min(idleTimeoutMs, 30_000));
  sweeper.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, options.port ?? 0) : error),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/mcp`,
    port,
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweeper);
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.all(open.map(async (s) => {
        await s.transport.close();
        await s.session.close();
      }));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyError(413, `request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BodyError(400, 'request body is not valid JSON');
  }
}

function jsonRpcError(message: string) {
  return { jsonrpc: '2.0', error: { code: -32000, message }, id: null };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

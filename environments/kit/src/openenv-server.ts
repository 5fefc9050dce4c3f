/**
 * Any environment over OpenEnv's HTTP + WebSocket protocol, so Python trainers that consume OpenEnv
 * (TRL, SkyRL, torchforge) can play ToolGym episodes. Followed: meta-pytorch/OpenEnv
 * 685de411e5f77286b0fd94798d42c4467cf8a1bc, `src/openenv/core/env_server/http_server.py`.
 * Sessions are `/ws` and `/mcp` sockets and sessions opened by `openenv/session/create` on `POST /mcp`;
 * all count toward `maxSessions` and all are closed when idle.
 */
import {
  type AppEnv,
  createHttpApp,
  type ListenOptions,
  mountRoutes,
  type Route,
  readJson,
  upgradeWebSocket,
} from '@toolgym/http';
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Environment } from './episode.ts';
import { answerMcp, answerMcpText, JSON_RPC, type McpContext, McpRefusal, rpcError } from './openenv-mcp.ts';
import {
  CallToolActionSchema,
  ListToolsActionSchema,
  OpenEnvError,
  OpenEnvObservationSchema,
  OpenEnvSession,
  OpenEnvStateSchema,
  ResetDataSchema,
  validate,
} from './openenv-session.ts';

export interface OpenEnvServeOptions extends ListenOptions {
  /** Bearer token every request and WebSocket upgrade must send; required off loopback. */
  token?: string;
  /** Most sessions open at once; one more is answered CAPACITY_REACHED (JSON-RPC -32000 on `/mcp`) and closed. Default 1024. */
  maxSessions?: number;
  /** A session with no message for this long is closed, its episode released (a socket is told why). Default 10 minutes. */
  idleTimeoutMs?: number;
}

export interface OpenEnvServer {
  /** The base URL an OpenEnv client takes (`http://…`; its `/ws` is the session socket). */
  url: string;
  port: number;
  /** Open sessions: `/ws` and `/mcp` sockets, and HTTP MCP sessions. */
  sessionCount(): number;
  close(): Promise<void>;
}

/** The largest request body, and the largest `/ws` frame, unless `maxBodyBytes` says otherwise. */
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** What a `/ws` client may send (OpenEnv's `WSIncomingMessage`). */
const MESSAGES = {
  reset: z.strictObject({ type: z.literal('reset'), data: z.record(z.string(), z.unknown()).default({}) }),
  step: z.strictObject({ type: z.literal('step'), data: z.record(z.string(), z.unknown()) }),
  state: z.strictObject({ type: z.literal('state') }),
  close: z.strictObject({ type: z.literal('close') }),
  mcp: z.strictObject({ type: z.literal('mcp'), data: z.record(z.string(), z.unknown()) }),
};

/** `StepRequest`: the action, plus ToolGym's task choice for the fresh episode a stateless step plays in. */
const StepRequestSchema = ResetDataSchema.extend({
  action: z.record(z.string(), z.unknown()),
  timeout_s: z.number().positive().optional(),
  request_id: z.string().max(255).optional(),
});

/** One session: its own environment instance, as in OpenEnv. */
interface Session {
  readonly id: string;
  readonly env: OpenEnvSession;
  /** The `/ws` or `/mcp` socket that owns it; none for a session opened over HTTP `/mcp`. */
  readonly socket?: WebSocket;
  /** What the socket speaks: OpenEnv's messages (`/ws`) or JSON-RPC (`/mcp`). */
  readonly speaks?: 'openenv' | 'json-rpc';
  lastSeen: number;
  /** Messages are answered in order, one at a time. */
  queue: Promise<void>;
}

export async function serveOpenEnv(env: Environment, options: OpenEnvServeOptions = {}): Promise<OpenEnvServer> {
  const { app, listen } = createHttpApp<'agent'>({
    ...options,
    name: `the ${env.ref} OpenEnv server`,
    auth: { tokens: { agent: options.token }, ...(options.token ? {} : { anonymous: 'agent' as const }) },
    defaultMaxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  });
  const maxSessions = options.maxSessions ?? 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
  const sessions = new Map<string, Session>();

  /** OpenEnv's stateless HTTP: a fresh instance per request, released before answering. */
  const fresh = async <T>(work: (instance: OpenEnvSession) => Promise<T>): Promise<T> => {
    const instance = new OpenEnvSession(env);
    try {
      return await work(instance);
    } finally {
      await instance.close();
    }
  };

  /** A new session, or the refusal a full server gives. */
  function open(socket?: { raw: WebSocket; speaks: 'openenv' | 'json-rpc' }): Session | McpRefusal {
    if (sessions.size >= maxSessions)
      return new McpRefusal(
        JSON_RPC.SERVER_ERROR,
        'capacity_reached',
        `this server already holds its ${maxSessions} sessions`,
        'retry later, close sessions you no longer use, or start the server with a higher --max-sessions',
        { active_sessions: sessions.size, max_sessions: maxSessions },
      );
    const session: Session = {
      id: randomUUID(),
      env: new OpenEnvSession(env),
      ...(socket ? { socket: socket.raw, speaks: socket.speaks } : {}),
      lastSeen: Date.now(),
      queue: Promise.resolve(),
    };
    sessions.set(session.id, session);
    return session;
  }

  /** Runs `work` after the session's earlier messages. */
  function inTurn<T>(s: Session, work: () => Promise<T>): Promise<T> {
    s.lastSeen = Date.now();
    const result = s.queue.then(work);
    s.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** How an MCP request reaches sessions; `own` is the session of the socket it came on. */
  const mcpContext = (own?: Session): McpContext => ({
    ...(own ? { own: { id: own.id, env: own.env } } : {}),
    create: () => {
      const opened = open();
      if (opened instanceof McpRefusal) throw opened;
      return opened.id;
    },
    within: (id, work) => {
      const s = sessions.get(id);
      return s && !s.socket ? inTurn(s, () => work(s.env)) : undefined;
    },
    close: (id) => {
      const s = sessions.get(id);
      if (!s || s.socket) return false;
      release(s);
      return true;
    },
    fresh,
  });

  /** A socket route: each connection is a session whose messages `answer` handles in order. */
  const socketRoute = (
    speaks: 'openenv' | 'json-rpc',
    answer: (s: Session, text: string) => Promise<void>,
    refuse: (socket: WebSocket, refusal: McpRefusal) => void,
  ) =>
    upgradeWebSocket(() => {
      let session: Session | undefined;
      return {
        onOpen: (_event, socket) => {
          const raw = socket.raw as WebSocket;
          const opened = open({ raw, speaks });
          if (opened instanceof McpRefusal) {
            refuse(raw, opened);
            raw.close(1013, 'capacity reached');
            return;
          }
          session = opened;
        },
        onMessage: (event) => {
          const s = session;
          if (s) void inTurn(s, () => answer(s, String(event.data)));
        },
        onClose: () => {
          if (session) release(session);
        },
        onError: () => session?.socket?.terminate(),
      };
    });

  const ws = socketRoute('openenv', answer, (socket, refusal) =>
    send(socket, errorData(new OpenEnvError('CAPACITY_REACHED', refusal.code, refusal.message, refusal.hint), refusal.extra)),
  );
  const mcpSocket = socketRoute(
    'json-rpc',
    async (s, text) => {
      if (sessions.has(s.id)) send(s.socket!, await answerMcpText(text, mcpContext(s)));
    },
    (socket, refusal) => send(socket, rpcError(refusal.rpcCode, refusal.message, null, { code: refusal.code, hint: refusal.hint, ...refusal.extra })),
  );

  async function answer(s: Session, text: string): Promise<void> {
    const socket = s.socket!;
    if (!sessions.has(s.id)) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (error) {
      send(socket, errorData(new OpenEnvError('INVALID_JSON', 'invalid_json', `Invalid JSON: ${(error as Error).message}`, 'send one JSON object per message')));
      return;
    }
    try {
      if (typeof message !== 'object' || message === null || Array.isArray(message))
        throw new OpenEnvError('VALIDATION_ERROR', 'invalid_message', 'a message is a JSON object with a type', 'send {"type": "reset" | "step" | "state" | "mcp" | "close", …}');
      const type = (message as { type?: unknown }).type;
      switch (type) {
        case 'reset':
          return send(socket, { type: 'observation', data: await s.env.reset(validate(MESSAGES.reset, message, []).data) });
        case 'step':
          return send(socket, { type: 'observation', data: await s.env.step(validate(MESSAGES.step, message, []).data) });
        case 'state':
          validate(MESSAGES.state, message, []);
          return send(socket, { type: 'state', data: s.env.state() });
        case 'mcp':
          return send(socket, { type: 'mcp', data: await answerMcp(validate(MESSAGES.mcp, message, []).data, mcpContext(s)) });
        case 'close':
          validate(MESSAGES.close, message, []);
          release(s);
          socket.close(1000, 'closed by the client');
          return;
        default:
          throw new OpenEnvError('UNKNOWN_TYPE', 'unknown_type', `Unknown message type: ${typeof type === 'string' ? type : JSON.stringify(type ?? '')}`, 'use reset, step, state, mcp or close');
      }
    } catch (error) {
      send(socket, errorData(error instanceof OpenEnvError ? error : new OpenEnvError('EXECUTION_ERROR', 'execution_failed', error instanceof Error ? error.message : String(error))));
    }
  }

  function release(s: Session): void {
    if (!sessions.delete(s.id)) return;
    void s.env.close();
  }

  /** HTTP answers of a refused request: OpenEnv's 422 for a bad body, 500 for a failed step. */
  const http = async (work: () => Promise<unknown>): Promise<Response> => {
    try {
      return Response.json(await work());
    } catch (error) {
      if (!(error instanceof OpenEnvError)) throw error;
      const status = error.wireCode === 'VALIDATION_ERROR' ? 422 : 500;
      return Response.json({ detail: error.errors.length > 0 ? error.errors : error.message, error: error.data() }, { status });
    }
  };

  const routes: Array<Route<AppEnv<'agent'>>> = [
    { method: 'GET', path: '/health', handle: (c) => c.json({ status: 'healthy' }) },
    {
      method: 'GET',
      path: '/metadata',
      handle: (c) =>
        c.json({
          name: env.id,
          description: env.definition.description,
          readme_content: null,
          version: String(env.definition.version),
          author: null,
          documentation_url: null,
        }),
    },
    {
      method: 'GET',
      path: '/schema',
      handle: (c) =>
        c.json({
          action: z.toJSONSchema(z.union([CallToolActionSchema, ListToolsActionSchema]), { io: 'input' }),
          observation: z.toJSONSchema(OpenEnvObservationSchema),
          state: z.toJSONSchema(OpenEnvStateSchema),
        }),
    },
    {
      method: 'POST',
      path: '/reset',
      handle: async (c) => {
        // `ResetRequest` has a default, so an empty body resets with it.
        const body = c.req.header('content-length') === '0' ? {} : await readJson(c);
        return http(() => fresh((instance) => instance.reset(body)));
      },
    },
    {
      method: 'POST',
      path: '/step',
      handle: async (c) => {
        const body = await readJson(c);
        return http(async () => {
          const { action, timeout_s: _t, request_id: _r, ...reset } = validate(StepRequestSchema, body, ['body']);
          return fresh(async (instance) => {
            await instance.reset(reset);
            return instance.step(action);
          });
        });
      },
    },
    { method: 'GET', path: '/state', handle: (c) => c.json(new OpenEnvSession(env).state()) },
    { method: 'GET', path: '/ws', handle: ws },
    { method: 'GET', path: '/mcp', handle: mcpSocket },
    {
      method: 'POST',
      path: '/mcp',
      // JSON-RPC answers every request with 200, errors included, as OpenEnv's `/mcp` does.
      handle: async (c) => c.json(await answerMcpText(await c.req.text(), mcpContext())),
    },
  ];
  mountRoutes(app, routes);

  const reaper = setInterval(
    () => {
      const cutoff = Date.now() - idleTimeoutMs;
      for (const s of sessions.values()) {
        if (s.lastSeen >= cutoff) continue;
        release(s);
        if (!s.socket) continue;
        const message = `the session was idle for over ${idleTimeoutMs} ms and was closed`;
        send(s.socket, s.speaks === 'json-rpc' ? rpcError(JSON_RPC.SERVER_ERROR, message) : errorData(new OpenEnvError('SESSION_ERROR', 'session_idle', message, 'reconnect and reset')));
        s.socket.close(1001, 'idle');
      }
    },
    Math.min(idleTimeoutMs, 30_000),
  );
  reaper.unref();
  const server = await listen({ port: options.port ?? 0, websocket: { maxPayload: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES } }).catch(
    (error: unknown) => {
      clearInterval(reaper);
      throw error;
    },
  );
  return {
    url: server.origin,
    port: server.port,
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(reaper);
      for (const s of [...sessions.values()]) {
        release(s);
        s.socket?.close(1001, 'server closing');
      }
      await server.close();
    },
  };
}

function errorData(error: OpenEnvError, extra: Record<string, unknown> = {}): unknown {
  return { type: 'error', data: { ...error.data(), ...extra } };
}

function send(socket: WebSocket, message: unknown): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

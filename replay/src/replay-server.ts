import { timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FEED_CLOSE_CODES, FeedClientMessageSchema, type FeedServerMessage } from '@toolgym/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import { ReplayConfigError, ReplayError } from './errors.ts';
import { type FeedLimits, FeedSession } from './feed-session.ts';
import { eventToMessage, type StoredEvent, type TrajectoryQuery, TrajectoryStore } from './store.ts';
import { buildViewer } from './viewer-build.ts';

export interface ReplayServerOptions {
  /** An open store (shared with a writer in this process: new events are pushed at once) … */
  store?: TrajectoryStore;
  /** … or the path of one to open (a writer in another process: new events are polled). */
  storePath?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Bearer token; required when `host` is not a loopback address. */
  token?: string;
  /** How often the store is polled for events committed by other processes. */
  pollMs?: number;
  /** Serve the browser viewer (built on demand). Off for feed-only servers. */
  viewer?: boolean;
  limits?: Partial<FeedLimits>;
}

export interface ReplayServer {
  /** http://host:port/ — the viewer and the JSON API. */
  url: string;
  /** ws://host:port/feed — the feed. */
  feedUrl: string;
  port: number;
  store: TrajectoryStore;
  /** Sessions subscribed and not cut off (for tests and metrics). */
  clientCount(): number;
  /** Unsent bytes per connected session (the slow-client bound applies to each). */
  clientBufferedBytes(): number[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const DEFAULT_LIMITS: FeedLimits = {
  maxBufferedBytes: 8 * 1024 * 1024,
  readAheadBytes: 1024 * 1024,
  pageSize: 256,
};
const SUBSCRIBE_TIMEOUT_MS = 10_000;
const RENDER_CACHE_SIZE = 20_000;

/**
 * The replay server: the feed at /feed (websocket), a small JSON API at /api, and the viewer at /.
 * One poller reads new events from the store once and fans them out to every live session.
 */
export async function serveReplay(options: ReplayServerOptions): Promise<ReplayServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.token) {
    throw new ReplayConfigError(
      `The replay server would listen on ${host} without a token.`,
      'Pass --token <secret> (or TOOLGYM_TOKEN), or bind to 127.0.0.1.',
    );
  }
  if (!options.store && !options.storePath)
    throw new ReplayConfigError('serveReplay needs a store or a storePath.');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ReplayConfigError(
      `Port '${options.port}' is not a port number.`,
      'Use an integer from 0 (any free port) to 65535.',
    );
  }
  const ownsStore = !options.store;
  const store = options.store ?? TrajectoryStore.open(options.storePath!);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const viewerDir = options.viewer === false ? undefined : await buildViewer();

  const sessions = new Set<FeedSession>();
  // Recent events as feed JSON: 50 clients following one run serialise each event once.
  const rendered = new Map<number, string>();
  const render = (event: StoredEvent): string => {
    let text = rendered.get(event.cursor);
    if (text === undefined) {
      text = JSON.stringify(eventToMessage(event));
      rendered.set(event.cursor, text);
      if (rendered.size > RENDER_CACHE_SIZE) rendered.delete(rendered.keys().next().value!);
    }
    return text;
  };
  let polledHead = store.head();
  const poll = () => {
    for (;;) {
      const events = store.eventsAfter(polledHead, { limit: 1000 });
      if (events.length === 0) return;
      polledHead = events.at(-1)!.cursor;
      for (const session of sessions) session.broadcast(events);
    }
  };
  let pollScheduled = false;
  const schedulePoll = () => {
    if (pollScheduled) return;
    pollScheduled = true;
    setImmediate(() => {
      pollScheduled = false;
      poll();
    });
  };
  const unsubscribe = store.onCommit(schedulePoll);
  const pollTimer = setInterval(poll, options.pollMs ?? 100);

  const authorised = (req: IncomingMessage): boolean => {
    if (!options.token) return true;
    const url = new URL(req.url ?? '/', 'http://x');
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? '');
    const a = Buffer.from(given);
    const b = Buffer.from(options.token);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const http: Server = createServer((req, res) => {
    if (!authorised(req))
      return sendJson(res, 401, { error: 'unauthorized', message: 'Send Authorization: Bearer <token>.' });
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/api/')) {
        const [status, body] = handleApi(store, url);
        return sendJson(res, status, body);
      }
      if (!viewerDir)
        return sendJson(res, 404, { error: 'not_found', message: 'This server has no viewer.' });
      return serveStatic(viewerDir, url.pathname, res);
    } catch (error) {
      if (error instanceof ReplayError) {
        return sendJson(res, error.code === 'not_found' ? 404 : 400, {
          error: error.code,
          message: error.message,
        });
      }
      return sendJson(res, 500, { error: 'internal', message: (error as Error).message });
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  http.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/feed') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!authorised(req)) {
        sendAndClose(
          ws,
          { type: 'error', code: 'unauthorized', message: 'Missing or wrong bearer token.' },
          FEED_CLOSE_CODES.unauthorized,
        );
        return;
      }
      acceptClient(ws);
    });
  });

  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, 30_000);

  function acceptClient(ws: WebSocket): void {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('error', () => ws.terminate());
    const timeout = setTimeout(() => {
      sendAndClose(
        ws,
        { type: 'error', code: 'no_subscription', message: 'Send a subscribe message first.' },
        FEED_CLOSE_CODES.badSubscription,
      );
    }, SUBSCRIBE_TIMEOUT_MS);
    ws.once('message', (data) => {
      clearTimeout(timeout);
      let json: unknown;
      try {
        json = JSON.parse(String(data));
      } catch {
        json = undefined;
      }
      const parsed = FeedClientMessageSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const message = `Bad subscribe message at ${issue?.path.join('.') || '(root)'}: ${issue?.message}. See replay/PROTOCOL.md.`;
        sendAndClose(
          ws,
          { type: 'error', code: 'bad_subscription', message },
          FEED_CLOSE_CODES.badSubscription,
        );
        return;
      }
      const session = new FeedSession(ws, store, parsed.data, limits, render);
      sessions.add(session);
      ws.once('close', () => sessions.delete(session));
      session.start().catch(() => ws.terminate());
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, resolve);
  });
  const boundPort = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${boundPort}/`,
    feedUrl: `ws://${shownHost}:${boundPort}/feed`,
    port: boundPort,
    store,
    clientCount: () => [...sessions].filter((s) => !s.isClosed).length,
    clientBufferedBytes: () => [...sessions].map((s) => s.bufferedBytes),
    async close() {
      clearInterval(pollTimer);
      clearInterval(heartbeat);
      unsubscribe();
      for (const session of sessions) session.stop();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      if (ownsStore) store.close();
    },
  };
}

function sendAndClose(ws: WebSocket, message: FeedServerMessage, code: number): void {
  ws.send(JSON.stringify(message));
  ws.close(code, message.type === 'error' ? message.code : '');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** GET-only JSON API the viewer uses; documented in replay/PROTOCOL.md. */
function handleApi(store: TrajectoryStore, url: URL): [status: number, body: unknown] {
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent); // ['api', ...]
  const q = url.searchParams;
  if (parts[1] === 'runs' && parts.length === 2) return [200, store.listRuns()];
  if (parts[1] === 'runs' && parts[3] === 'curves' && parts.length === 4)
    return [200, store.curves(parts[2]!)];
  if (parts[1] === 'trajectories' && parts.length === 2) {
    const number = (name: string) => {
      const value = q.get(name);
      if (value === null || value === '') return undefined;
      const n = Number(value);
      if (!Number.isFinite(n))
        throw new ReplayError('bad_query', `Query parameter '${name}' must be a number, got '${value}'.`);
      return n;
    };
    const text = (name: string) => q.get(name) || undefined;
    const query: TrajectoryQuery = {
      runId: text('runId'),
      step: number('step'),
      groupId: text('groupId'),
      envId: text('envId'),
      taskId: text('taskId'),
      status: text('status') as TrajectoryQuery['status'],
      minReward: number('minReward'),
      maxReward: number('maxReward'),
      text: text('text'),
      order: q.get('order') === 'oldest' ? 'oldest' : 'newest',
      limit: Math.min(number('limit') ?? 100, 1000),
      offset: number('offset') ?? 0,
    };
    return [200, store.queryTrajectories(query)];
  }
  if (parts[1] === 'trajectories' && parts.length === 3) return [200, store.getTrajectory(parts[2]!)];
  if (parts[1] === 'groups' && parts.length === 3) return [200, store.getGroup(parts[2]!)];
  if (parts[1] === 'health') return [200, { ok: true, head: store.head() }];
  return [404, { error: 'not_found', message: `No API route ${url.pathname}.` }];
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

function serveStatic(root: string, pathname: string, res: ServerResponse): void {
  const relative = path.normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = path.join(root, relative);
  if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory())
    file = path.join(root, 'index.html');
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': file.endsWith('index.html') ? 'no-store' : 'public, max-age=31536000, immutable',
  });
  createReadStream(file).pipe(res);
}

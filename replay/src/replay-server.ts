import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  FEED_CLOSE_CODES,
  FeedClientMessageSchema,
  type FeedServerMessage,
  trajectoryGroupJson,
  trajectoryJson,
} from '@toolgym/protocol';
import {
  type AppEnv,
  createHttpApp,
  HttpError,
  type ListenOptions,
  mountRoutes,
  type Route,
  sessionCap,
  upgradeWebSocket,
} from '@toolgym/http';
import type { Context } from 'hono';
import type { WebSocket } from 'ws';
import { NotFoundError, ReplayConfigError, ReplayError } from './errors.ts';
import { type FeedLimits, FeedSession } from './feed-session.ts';
import { eventJson, type FeedEvent, type StoredEvent } from './feed-events.ts';
import { type FramePage, type TrajectoryQuery, TrajectoryStore } from './store.ts';
import type { StoreWriter, WriteFailure } from './store-writer.ts';
import { buildViewer } from './viewer-build.ts';

export interface ReplayServerOptions extends ListenOptions {
  /** An open store (its own connection's commits are pushed at once) … */
  store?: TrajectoryStore;
  /**
   * A writer thread on the same store in this process: what it emits is fanned out at once, before
   * its commit (marked pending), and what it commits is confirmed from memory.
   */
  writer?: StoreWriter;
  /** … or the path of one to open (commits of other processes are polled). */
  storePath?: string;
  /** Bearer token (header, or `?token=` where a browser cannot set one); required off loopback. */
  token?: string;
  /** Most feed connections at once; one more is answered 503 with Retry-After. Default 1024. */
  maxClients?: number;
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

const DEFAULT_LIMITS: FeedLimits = {
  maxBufferedBytes: 8 * 1024 * 1024,
  readAheadBytes: 1024 * 1024,
  pageSize: 256,
};
const SUBSCRIBE_TIMEOUT_MS = 10_000;
const RENDER_CACHE_SIZE = 20_000;
const PAGE_CACHE_SIZE = 64;
/** How often a server that may write looks for episodes whose writer died (`markUnfinished`). */
const UNFINISHED_SWEEP_MS = 2_000;

type ReplayEnv = AppEnv<'client'>;

/**
 * The replay server: the feed at /feed (websocket), a small JSON API at /api, and the viewer at /.
 * Each commit's events are fanned out to every live session once, from memory when the commit was
 * this process's, else read from the store by one poller. The
 * feed's upgrade passes the same middleware as every request (Host/Origin, token) before a socket
 * exists.
 */
export async function serveReplay(options: ReplayServerOptions): Promise<ReplayServer> {
  const { app, listen } = createHttpApp({
    ...options,
    name: 'the replay server',
    auth: {
      tokens: { client: options.token },
      queryParam: 'token',
      ...(options.token ? {} : { anonymous: 'client' as const }),
    },
    // The API and the feed take no bodies.
    defaultMaxBodyBytes: 64 * 1024,
  });
  if (!options.store && !options.storePath)
    throw new ReplayConfigError('serveReplay needs a store or a storePath.');
  const ownsStore = !options.store;
  const store = options.store ?? TrajectoryStore.open(options.storePath!);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const viewerDir = options.viewer === false ? undefined : await buildViewer();

  const sessions = new Set<FeedSession>();
  // Recent events as encoded feed frames: 50 clients following one run share each event's bytes
  // (serialised and UTF-8 encoded once, not once per client).
  const rendered = new Map<number, Buffer>();
  const render = (event: FeedEvent | StoredEvent): Buffer => {
    if ('frame' in event && event.frame) return event.frame;
    // An event before its commit keeps its frame with it (`pendingFrame`) until then.
    if (event.cursor === undefined) {
      event.pendingFrame ??= Buffer.from(eventJson(event));
      return event.pendingFrame;
    }
    let frame = rendered.get(event.cursor);
    if (frame === undefined) {
      frame = Buffer.from(eventJson(event));
      rendered.set(event.cursor, frame);
      if (rendered.size > RENDER_CACHE_SIZE) rendered.delete(rendered.keys().next().value!);
    }
    return frame;
  };
  // Full pages of history, by where they start: the log is append-only, so a full page never
  // changes, and clients replaying one run together read each page once. A short page (the end of
  // the log so far) is not kept.
  const readPage = fullPagesKept(
    limits.pageSize,
    (page: readonly StoredEvent[]) => page.length,
    (after, runId) => store.eventsAfter(after, { runId, limit: limits.pageSize }),
  );
  // The same for replays that filter nothing: pages of frames only (`framesAfter`), end to end.
  const readFrames = fullPagesKept(
    limits.pageSize,
    (page: FramePage | undefined) => page?.count ?? 0,
    (after, runId, times: boolean) => store.framesAfter(after, { runId, limit: limits.pageSize, times }),
  );
  /** Each session's frames of one fan-out go to its socket in one write. */
  const toEverySession = (fn: (session: FeedSession) => void) => {
    for (const session of sessions) session.corked(() => fn(session));
  };
  let polledHead = store.head();
  const fanOut = (events: readonly StoredEvent[]) => {
    const fresh = events.filter((e) => e.cursor > polledHead);
    if (fresh.length === 0) return;
    polledHead = fresh.at(-1)!.cursor;
    toEverySession((session) => session.broadcast(fresh));
  };
  // The writer's events before their commit, by run and seq, in the order emitted: live sessions get
  // them at once, and a session that catches up gets them after the stored prefix.
  const uncommitted = new Map<string, FeedEvent>();
  const key = (runId: string, seq: number) => `${seq} ${runId}`;
  const emitted = (events: readonly FeedEvent[]) => {
    for (const e of events) uncommitted.set(key(e.runId, e.seq!), e);
    toEverySession((session) => session.broadcast(events));
  };
  /** The writer committed `events` and will never commit `failed`: confirm the one, withdraw the other. */
  const settled = (events: readonly StoredEvent[], failed: readonly WriteFailure[]) => {
    const confirmed = new Map<string, number>();
    for (const e of events) {
      if (e.seq === null || !uncommitted.delete(key(e.runId, e.seq))) continue;
      confirmed.set(e.runId, Math.max(confirmed.get(e.runId) ?? 0, e.seq));
    }
    if (events.length > 0) follow(events);
    for (const failure of failed) {
      for (const seq of failure.seqs) uncommitted.delete(key(failure.runId, seq));
      const frame = Buffer.from(
        JSON.stringify({ type: 'write-failed', ...failure } satisfies FeedServerMessage),
      );
      for (const session of sessions) session.notify(frame, [failure.runId]);
    }
    if (confirmed.size === 0) return;
    const frame = Buffer.from(
      JSON.stringify({
        type: 'committed',
        cursor: polledHead,
        seqs: Object.fromEntries(confirmed),
      } satisfies FeedServerMessage),
    );
    const runIds = [...confirmed.keys()];
    for (const session of sessions) session.notify(frame, runIds);
  };
  // Set by close: a fan-out or poll queued before it (a commit's, on the next turn of the event
  // loop) finds the store closed, and does nothing.
  let closed = false;
  const poll = () => {
    if (closed) return;
    // What the writer thread committed and has not yet told is its own emitted events: its reply
    // brings them from memory, so they are not read back (only their seqs are looked at).
    if (
      uncommitted.size > 0 &&
      store.seqsAfter(polledHead).every((e) => uncommitted.has(key(e.runId, e.seq!)))
    )
      return;
    for (;;) {
      const events = store.eventsAfter(polledHead, { limit: 1000 });
      if (events.length === 0) return;
      fanOut(events);
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
  // A commit's events come from memory (this process's store connection, or the writer thread), in
  // cursor order. A commit that skipped ahead of the log fanned out so far (another connection or
  // process wrote between) is read from the store instead, so nothing is sent twice or missed.
  const follow = (events: readonly StoredEvent[]) => {
    if (closed) return;
    const contiguous = events.at(-1)!.cursor - events[0]!.cursor === events.length - 1;
    if (events[0]!.cursor === polledHead + 1 && contiguous) fanOut(events);
    else schedulePoll();
  };
  // The store's own commits may be a caller's write on its own thread (a trainer writing in
  // process): their fan-out waits for the next turn of the event loop instead of slowing the write.
  const unsubscribeStore = store.onCommit((events) => setImmediate(() => follow(events)));
  const unsubscribeWriter = [options.writer?.onEmit(emitted), options.writer?.onCommit(settled)];
  const unsubscribe = () => {
    unsubscribeStore();
    for (const stop of unsubscribeWriter) stop?.();
  };
  const pollTimer = setInterval(poll, options.pollMs ?? 100);
  const sweepTimer = store.db.readonly
    ? undefined
    : setInterval(() => store.markUnfinished(), UNFINISHED_SWEEP_MS);
  sweepTimer?.unref();

  /** Open feed sockets, each with whether it answered the last ping; one that did not is dropped. */
  const alive = new Map<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const [ws, answered] of alive) {
      if (!answered) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, 30_000);

  const feed = upgradeWebSocket(() => {
    let raw: WebSocket | undefined;
    let subscribed = false;
    let timeout: NodeJS.Timeout | undefined;
    return {
      onOpen: (_event, ws) => {
        raw = ws.raw as WebSocket;
        const socket = raw;
        alive.set(socket, true);
        socket.on('pong', () => alive.set(socket, true));
        timeout = setTimeout(() => {
          sendAndClose(
            socket,
            { type: 'error', code: 'no_subscription', message: 'Send a subscribe message first.' },
            FEED_CLOSE_CODES.badSubscription,
          );
        }, SUBSCRIBE_TIMEOUT_MS);
      },
      onMessage: (event) => {
        if (subscribed || !raw) return;
        subscribed = true;
        clearTimeout(timeout);
        subscribe(raw, String(event.data));
      },
      onClose: () => {
        if (raw) alive.delete(raw);
        clearTimeout(timeout);
      },
      onError: () => raw?.terminate(),
    };
  });

  /** The client's first message: a valid subscription starts its session, anything else closes it. */
  function subscribe(ws: WebSocket, data: string): void {
    let json: unknown;
    try {
      json = JSON.parse(data);
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
    const session = new FeedSession(
      ws,
      store,
      parsed.data,
      limits,
      render,
      readPage,
      () => uncommitted.values(),
      readFrames,
    );
    sessions.add(session);
    ws.once('close', () => sessions.delete(session));
    session.start().catch(() => ws.terminate());
  }

  const routes: Array<Route<ReplayEnv>> = [
    { method: 'GET', path: '/api/runs', handle: (c) => c.json(store.listRuns()) },
    {
      method: 'GET',
      path: '/api/runs/:runId/curves',
      handle: (c) => c.json(store.curves(c.req.param('runId')!)),
    },
    {
      method: 'GET',
      path: '/api/trajectories',
      handle: (c) => c.json(store.queryTrajectories(trajectoryQuery(c))),
    },
    {
      method: 'GET',
      path: '/api/trajectories/:id',
      handle: (c) => c.json(found(() => trajectoryJson(store.getTrajectory(c.req.param('id')!)))),
    },
    {
      method: 'GET',
      path: '/api/trajectories/:id/pieces',
      handle: (c) =>
        c.json(
          found(() => {
            const t = store.getTrajectory(c.req.param('id')!);
            return store.tokenPieces(t.runId ?? '', t.tokens);
          }),
        ),
    },
    {
      method: 'GET',
      path: '/api/episodes',
      handle: (c) => c.json(store.liveEpisodes({ runId: c.req.query('runId') || undefined })),
    },
    {
      method: 'GET',
      path: '/api/episodes/:id',
      handle: (c) => c.json(found(() => store.getPartialTrajectory(c.req.param('id')!))),
    },
    {
      method: 'GET',
      path: '/api/groups/:id',
      handle: (c) => c.json(found(() => trajectoryGroupJson(store.getGroup(c.req.param('id')!)))),
    },
    { method: 'GET', path: '/api/health', handle: (c) => c.json({ ok: true, head: store.head() }) },
    {
      method: 'GET',
      path: '/feed',
      use: [sessionCap({ max: options.maxClients ?? 1024, open: () => alive.size })],
      handle: feed,
    },
    ...(viewerDir
      ? [
          {
            method: 'GET' as const,
            path: '*',
            handle: (c: Context<ReplayEnv>) => serveStatic(viewerDir, c.req.path),
          },
        ]
      : []),
  ];
  mountRoutes(app, routes);

  const server = await listen({ port: options.port ?? 0, websocket: { maxPayload: 64 * 1024 } }).catch(
    (error: unknown) => {
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
      clearInterval(heartbeat);
      unsubscribe();
      if (ownsStore) store.close();
      throw error;
    },
  );
  return {
    url: `${server.origin}/`,
    feedUrl: `${server.origin.replace(/^http/, 'ws')}/feed`,
    port: server.port,
    store,
    clientCount: () => [...sessions].filter((s) => !s.isClosed).length,
    clientBufferedBytes: () => [...sessions].map((s) => s.bufferedBytes),
    async close() {
      closed = true;
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
      clearInterval(heartbeat);
      unsubscribe();
      for (const session of sessions) session.stop();
      for (const ws of alive.keys()) ws.terminate();
      await server.close();
      if (ownsStore) store.close();
    },
  };
}

function sendAndClose(ws: WebSocket, message: FeedServerMessage, code: number): void {
  ws.send(JSON.stringify(message));
  ws.close(code, message.type === 'error' ? message.code : '');
}

/** A store lookup; a missing id is a 404. */
function found<T>(lookup: () => T): T {
  try {
    return lookup();
  } catch (error) {
    if (error instanceof NotFoundError) throw new HttpError(404, error.code, error.message);
    throw error;
  }
}

/** The query of GET /api/trajectories (replay/PROTOCOL.md). */
function trajectoryQuery(c: Context<ReplayEnv>): TrajectoryQuery {
  const number = (name: string) => {
    const value = c.req.query(name);
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isFinite(n))
      throw new ReplayError('bad_query', `Query parameter '${name}' must be a number, got '${value}'.`);
    return n;
  };
  const text = (name: string) => c.req.query(name) || undefined;
  return {
    runId: text('runId'),
    step: number('step'),
    groupId: text('groupId'),
    envId: text('envId'),
    taskId: text('taskId'),
    status: text('status') as TrajectoryQuery['status'],
    minReward: number('minReward'),
    maxReward: number('maxReward'),
    text: text('text'),
    order: c.req.query('order') === 'oldest' ? 'oldest' : 'newest',
    limit: Math.min(number('limit') ?? 100, 1000),
    offset: number('offset') ?? 0,
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** A file of the built viewer; any other path is the viewer's page (it routes in the browser). */
function serveStatic(root: string, pathname: string): Response {
  const relative = path.normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = path.join(root, relative);
  if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory())
    file = path.join(root, 'index.html');
  return new Response(Readable.toWeb(createReadStream(file)) as ReadableStream, {
    headers: {
      'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': file.endsWith('index.html') ? 'no-store' : 'public, max-age=31536000, immutable',
    },
  });
}

/**
 * `read` with its full pages (`pageSize` rows, as `count` counts them) kept by where they start and
 * what they hold, the last `PAGE_CACHE_SIZE` of them; a short page, or none, is read again next time.
 */
function fullPagesKept<Page, Rest extends unknown[]>(
  pageSize: number,
  count: (page: Page) => number,
  read: (after: number, runId: string | undefined, ...rest: Rest) => Page,
): (after: number, runId: string | undefined, ...rest: Rest) => Page {
  const pages = new Map<string, Page>();
  return (after, runId, ...rest) => {
    const key = `${after} ${runId === undefined ? '*' : `=${runId}`} ${rest.join(' ')}`;
    let page = pages.get(key);
    if (page === undefined) {
      page = read(after, runId, ...rest);
      if (count(page) === pageSize) {
        pages.set(key, page);
        if (pages.size > PAGE_CACHE_SIZE) pages.delete(pages.keys().next().value!);
      }
    }
    return page;
  };
}

/**
 * `pnpm bench concurrency [--sessions 10000] [--calls 4000]`: how many compose episodes one HTTP
 * environment server holds and how fast it answers while holding them, against the bare MCP SDK
 * server (`concurrency-server.ts`) in the same run.
 *
 * For each server, in a process of its own: open `--sessions` MCP sessions (initialize, initialized,
 * an episode start on the kit, one tool call), read the server's RSS after a GC against before, then
 * with every session still open let 100 and then 1,000 of them call tools in a closed loop (about
 * `--calls` calls per level) and report p50/p99 round-trip latency, the clients sharing 256 kept-alive
 * connections as one process's connection pool does. The kit server's cap is the
 * session count, so one more initialize must be answered 503 with Retry-After. Last, reaping: a kit
 * server with a 1,000-session cap and a 2 s idle timeout is filled, left idle until its sweep has
 * released every episode, and filled again, which only works if no slot leaked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    calls: { type: 'string', default: '4000' },
    /** A directory to write each server's CPU profile of its busiest level to (`<kind>-<active>.cpuprofile`). */
    profile: { type: 'string' },
  },
});
const HELD = Number(values.sessions);
const CALLS = Number(values.calls);
const ACTIVE = [100, 1000].filter((n) => n <= HELD);
/** Session opens in flight at once while filling a server. */
const OPENING = 64;
/** Calls each warm-up session makes. */
const WARM_CALLS = 10;
/** Calls each active client makes at `active` clients. */
const perClient = (active: number) => Math.max(2, Math.ceil(CALLS / active));
/** Tool calls one episode makes at most: one as it opens, then its share at every level (and warm-up's). */
const CALLS_PER_EPISODE = 1 + Math.max(WARM_CALLS, ACTIVE.reduce((sum, active) => sum + perClient(active), 0));
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'concurrency-server.ts');

type Kind = 'kit' | 'bare';

interface ServerProcess {
  url: string;
  child: ChildProcess;
}

async function startServer(kind: Kind, maxSessions: number, idleTimeoutMs: number): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, kind, String(maxSessions), String(idleTimeoutMs), String(CALLS_PER_EPISODE)],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${kind} server exited with ${code}`)));
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, child };
}

/** Sends the server `message` over IPC; its answer. */
function ask<T>(server: ServerProcess, message: unknown): Promise<T> {
  return new Promise((resolve) => {
    server.child.once('message', (m) => resolve(m as T));
    server.child.send(message as object);
  });
}
const memoryOf = (server: ServerProcess) => ask<NodeJS.MemoryUsage>(server, 'memory');

async function stop(server: ServerProcess): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill();
  await exited;
}

interface Answer {
  status: number;
  sessionId: string | null;
  retryAfter: string | null;
  body: { result?: { isError?: boolean; content?: { text?: string }[] }; error?: { message: string } } | undefined;
}

/** A tool call that came back with a result that is not an error. */
const answered = (a: Answer) => a.status === 200 && a.body?.result !== undefined && a.body.result.isError !== true;

/** What a failed tool call was answered: the status and the error's own words. */
function failureOf(a: Answer): string {
  const text = a.body?.error?.message ?? a.body?.result?.content?.map((c) => c.text).join(' ') ?? 'no body';
  return `${a.status}${a.body?.result?.isError ? ' isError' : ''}: ${text}`;
}

let nextId = 1;
/**
 * Requests sent again after the server closed or reset the connection under them (a keep-alive
 * socket closed as the client reused it: both sides' idle timers race on a loaded machine), by the
 * server measured. Reported: a server that drops connections under load shows here.
 */
const resets: Record<Kind, number> = { bare: 0, kit: 0 };
let measuring: Kind = 'bare';
const CLOSED_UNDER_US = new Set(['ECONNRESET', 'EPIPE']);
async function post(url: string, sessionId: string | undefined, message: object): Promise<Answer> {
  try {
    return await postOnce(url, sessionId, message);
  } catch (error) {
    if (!CLOSED_UNDER_US.has((error as { code?: string }).code ?? '')) throw error;
    resets[measuring]++;
    return postOnce(url, sessionId, message);
  }
}

/**
 * The load generator's connections: at most `SOCKETS` kept-alive sockets to a server, as one client
 * process with a connection pool has; clients beyond that wait for a socket, and that wait counts.
 */
const SOCKETS = 256;
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });

function postOnce(url: string, sessionId: string | undefined, message: object): Promise<Answer> {
  const body = JSON.stringify({ jsonrpc: '2.0', ...message });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
          ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const header = (name: string) => {
            const value = res.headers[name];
            return typeof value === 'string' ? value : null;
          };
          resolve({
            status: res.statusCode ?? 0,
            sessionId: header('mcp-session-id'),
            retryAfter: header('retry-after'),
            body: text ? JSON.parse(text) : undefined,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const initialize = (url: string) =>
  post(url, undefined, {
    id: nextId++,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
  });

const callTool = (url: string, sessionId: string, text: string) =>
  post(url, sessionId, { id: nextId++, method: 'tools/call', params: { name: 'reverse', arguments: { text } } });

/** One session as an episode's client opens it; its id. */
async function openSession(url: string, kind: Kind, seed: number): Promise<string> {
  const init = await initialize(url);
  if (init.status !== 200 || !init.sessionId) throw new Error(`initialize answered ${init.status}`);
  const sid = init.sessionId;
  await post(url, sid, { method: 'notifications/initialized' });
  if (kind === 'kit') {
    const start = await post(url, sid, { id: nextId++, method: 'toolgym/episode/start', params: { seed } });
    if (start.status !== 200 || start.body?.error) throw new Error(`episode start failed: ${start.body?.error?.message}`);
  }
  const call = await callTool(url, sid, 'hello');
  if (!answered(call)) throw new Error(`tools/call answered ${failureOf(call)}`);
  return sid;
}

async function openSessions(url: string, kind: Kind, n: number): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: OPENING }, async () => {
      while (next < n) {
        const i = next++;
        ids[i] = await openSession(url, kind, i);
      }
    }),
  );
  return ids;
}

/** `sessions` clients each calling a tool `perClient` times in a closed loop; every call's latency. */
async function activeLoad(url: string, sessions: readonly string[], perClient: number): Promise<{ ms: number[]; seconds: number }> {
  const ms: number[] = [];
  const started = performance.now();
  await Promise.all(
    sessions.map(async (sid, c) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        const answer = await callTool(url, sid, `client ${c} call ${i}`);
        if (!answered(answer)) throw new Error(`tools/call answered ${failureOf(answer)} under load`);
        ms.push(performance.now() - t0);
      }
    }),
  );
  return { ms, seconds: (performance.now() - started) / 1000 };
}

const quantile = (xs: readonly number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const mib = (bytes: number) => bytes / 1024 / 1024;

interface Measured {
  opened: number;
  openSeconds: number;
  rssBefore: number;
  rssHeld: number;
  heapPerSession: number;
  latency: Map<number, { p50: number; p99: number; perSecond: number; calls: number }>;
  overCap?: Answer;
}

async function measure(kind: Kind): Promise<Measured> {
  measuring = kind;
  const server = await startServer(kind, HELD, 3_600_000);
  try {
    // Warm-up: JIT and connection pool, then those sessions are closed (the kit's slots come back).
    const warm = await openSessions(server.url, kind, 64);
    await activeLoad(server.url, warm, WARM_CALLS);
    await Promise.all(
      warm.map((sid) =>
        fetch(server.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } }).then((r) => r.arrayBuffer()),
      ),
    );
    const before = await memoryOf(server);
    process.stderr.write(`${kind}: opening ${HELD} sessions…\n`);
    const t0 = performance.now();
    const ids = await openSessions(server.url, kind, HELD);
    const openSeconds = (performance.now() - t0) / 1000;
    const held = await memoryOf(server);
    const latency: Measured['latency'] = new Map();
    for (const active of ACTIVE) {
      process.stderr.write(`${kind}: ${active} active clients…\n`);
      const profiled = values.profile && active === ACTIVE.at(-1);
      if (profiled) await ask(server, 'profile');
      const { ms, seconds } = await activeLoad(server.url, ids.slice(0, active), perClient(active));
      if (profiled) await ask(server, { profileTo: path.resolve(values.profile!, `${kind}-${active}.cpuprofile`) });
      latency.set(active, { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), perSecond: ms.length / seconds, calls: ms.length });
    }
    const overCap = kind === 'kit' ? await initialize(server.url) : undefined;
    return {
      opened: ids.length,
      openSeconds,
      rssBefore: before.rss,
      rssHeld: held.rss,
      heapPerSession: (held.heapUsed - before.heapUsed) / ids.length,
      latency,
      ...(overCap ? { overCap } : {}),
    };
  } finally {
    await stop(server);
  }
}

/** Opens kit sessions (each with an episode) until the server answers 503; how many opened, and that answer. */
async function fill(url: string): Promise<{ opened: number; refused: Answer }> {
  let opened = 0;
  let refused: Answer | undefined;
  await Promise.all(
    Array.from({ length: OPENING }, async () => {
      while (!refused) {
        const init = await initialize(url);
        if (init.status === 503) refused = init;
        if (init.status !== 200 || !init.sessionId) continue;
        await post(url, init.sessionId, { method: 'notifications/initialized' });
        await post(url, init.sessionId, { id: nextId++, method: 'toolgym/episode/start', params: { seed: opened } });
        opened++;
      }
    }),
  );
  return { opened, refused: refused! };
}

/**
 * Fills a small kit server until it refuses, lets its sweep release every idle episode, and fills it
 * again: the second fill reaches the cap only if no slot leaked. (Under heavy load a slow fill may
 * see early sessions reaped before it ends, so a fill counts every session it opened.)
 */
async function reaping(): Promise<string[]> {
  measuring = 'kit';
  const cap = 200;
  const idleMs = 10_000;
  const server = await startServer('kit', cap, idleMs);
  const health = server.url.replace(/\/mcp$/, '/healthz');
  const held = async () => ((await (await fetch(health)).json()) as { sessions: number }).sessions;
  try {
    const first = await fill(server.url);
    const filled = await held();
    const t0 = performance.now();
    while ((await held()) > 0 && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    const emptyAfter = (performance.now() - t0) / 1000;
    const emptied = await held();
    const again = await fill(server.url);
    return [
      `reaping: cap ${cap}, idle timeout ${idleMs / 1000} s: ${first.opened} opened until an initialize was answered ${first.refused.status} (Retry-After ${first.refused.retryAfter ?? 'none'}), ${filled} held`,
      `  every idle episode released ${emptyAfter.toFixed(1)} s later (sessions held: ${emptied})`,
      `  filled again: ${again.opened} opened before the next ${again.refused.status}, so no slot leaked`,
    ];
  } finally {
    await stop(server);
  }
}

process.stdout.write(
  `compose over Streamable HTTP, ${HELD} sessions held, ${cpus().length} cores; load average ${loadavg()[0]!.toFixed(1)} at start (shared machine: other work slows every figure alike)\n\n`,
);
const results = new Map<Kind, Measured>();
for (const kind of ['bare', 'kit'] as const) results.set(kind, await measure(kind));
const bare = results.get('bare')!;
const kit = results.get('kit')!;

const rows: string[][] = [
  ['sessions held', String(bare.opened), String(kit.opened), '—'],
  ['opened per second', (bare.opened / bare.openSeconds).toFixed(0), (kit.opened / kit.openSeconds).toFixed(0), '—'],
  ['RSS before, MiB', mib(bare.rssBefore).toFixed(0), mib(kit.rssBefore).toFixed(0), '—'],
  ['RSS holding them, MiB', mib(bare.rssHeld).toFixed(0), mib(kit.rssHeld).toFixed(0), '—'],
  [
    'RSS per idle episode, KiB',
    ((bare.rssHeld - bare.rssBefore) / bare.opened / 1024).toFixed(1),
    ((kit.rssHeld - kit.rssBefore) / kit.opened / 1024).toFixed(1),
    `${((kit.rssHeld - kit.rssBefore) / (bare.rssHeld - bare.rssBefore)).toFixed(2)}×`,
  ],
  [
    'heap per idle episode, KiB',
    (bare.heapPerSession / 1024).toFixed(1),
    (kit.heapPerSession / 1024).toFixed(1),
    `${(kit.heapPerSession / bare.heapPerSession).toFixed(2)}×`,
  ],
];
for (const active of ACTIVE) {
  const b = bare.latency.get(active)!;
  const k = kit.latency.get(active)!;
  rows.push(
    [`${active} active clients: p50 ms`, b.p50.toFixed(1), k.p50.toFixed(1), `${(k.p50 / b.p50).toFixed(2)}×`],
    [`${active} active clients: p99 ms`, b.p99.toFixed(1), k.p99.toFixed(1), `${(k.p99 / b.p99).toFixed(2)}×`],
    [
      `${active} active clients: calls/s (${k.calls} calls)`,
      b.perSecond.toFixed(0),
      k.perSecond.toFixed(0),
      `${(k.perSecond / b.perSecond).toFixed(2)}×`,
    ],
  );
}
const header = ['', 'bare MCP SDK', 'ToolGym env server', 'kit / bare'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n\n`);
process.stdout.write(
  `session cap (${HELD}): one more initialize → ${kit.overCap?.status}, Retry-After ${kit.overCap?.retryAfter ?? 'none'}\n`,
);
process.stdout.write(`${(await reaping()).join('\n')}\n`);
process.stdout.write(
  `requests sent again after the server closed their connection: bare ${resets.bare}, kit ${resets.kit}\n`,
);
agent.destroy();

/**
 * The two servers `pnpm bench concurrency` compares, each in a process of its own so that its memory
 * is its own:
 *   kit  — compose served by env-kit's `serveHttp`: one episode per MCP session, the session cap, the
 *          idle sweep;
 *   bare — the MCP SDK's McpServer with compose's string functions as tools, one server and transport
 *          per session on `node:http`, as the SDK's own example serves sessions (no cap, no sweep).
 * `node --expose-gc --import tsx concurrency-server.ts <kit|bare> <maxSessions> <idleTimeoutMs> <callsPerEpisode>`
 * prints its port; the kit's episodes are given the turns to make `callsPerEpisode` tool calls (a call
 * past an episode's budget is answered `episode_over`, which is not the latency measured). Sent
 * `'memory'` over IPC, it collects garbage and answers `process.memoryUsage()`; sent `'profile'` and
 * then `{ profileTo }`, it writes a CPU profile of what it did in between to that file.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Environment, serveHttp } from '@toolgym/env-kit';
import { z } from 'zod';
import compose, { FUNCTION_NAMES, STRING_FUNCTIONS } from '../src/index.ts';

function bareServer(): McpServer {
  const server = new McpServer({ name: 'bare-compose', version: '1.0.0' });
  for (const name of FUNCTION_NAMES) {
    server.registerTool(
      name,
      { description: STRING_FUNCTIONS[name].description, inputSchema: { text: z.string().max(4096) } },
      ({ text }) => ({ content: [{ type: 'text', text: STRING_FUNCTIONS[name].apply(text) }] }),
    );
  }
  server.registerTool(
    'answer',
    { description: 'Give the final string. Ends the episode.', inputSchema: { answer: z.string() } },
    () => ({ content: [{ type: 'text', text: 'Answer recorded.' }] }),
  );
  return server;
}

async function serveBare(): Promise<number> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? transports.get(id) : undefined;
    if (existing) return existing.handleRequest(req, res, body);
    const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (sid: string) => {
        transports.set(sid, created);
      },
    });
    created.onclose = () => {
      if (created.sessionId) transports.delete(created.sessionId);
    };
    await bareServer().connect(created);
    await created.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return (http.address() as { port: number }).port;
}

async function serveKit(maxSessions: number, idleTimeoutMs: number, callsPerEpisode: number): Promise<number> {
  const perTurn = new Environment(compose, compose.parseConfig({ maxTurns: 1 })).limits.maxToolCalls;
  const env = new Environment(compose, compose.parseConfig({ maxTurns: Math.ceil(callsPerEpisode / perTurn) }));
  if (env.limits.maxToolCalls < callsPerEpisode)
    throw new Error(`compose allows ${env.limits.maxToolCalls} tool calls an episode; the bench makes ${callsPerEpisode}`);
  return (await serveHttp(env, { maxSessions, idleTimeoutMs })).port;
}

const [kind, ...numbers] = process.argv.slice(2);
const [maxSessions, idleTimeoutMs, callsPerEpisode] = numbers.map(Number) as [number, number, number];
const port = kind === 'bare' ? await serveBare() : await serveKit(maxSessions, idleTimeoutMs, callsPerEpisode);
const profiler = new Session();
process.on('message', async (message: unknown) => {
  if (message === 'memory') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.(process.memoryUsage());
  } else if (message === 'profile') {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    process.send?.('profiling');
  } else if (typeof message === 'object' && message !== null && 'profileTo' in message) {
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    writeFileSync(String(message.profileTo), JSON.stringify(profile));
    process.send?.('profiled');
  }
});
process.stdout.write(`${port}\n`);

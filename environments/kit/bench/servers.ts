/**
 * The two servers `pnpm bench mcp` compares, each with the same trivial `echo` tool:
 *   bare  — the MCP SDK's McpServer with registerTool, nothing else;
 *   kit   — a ToolGym environment (defineEnvironment) served by the env-kit.
 * Run as a script: `node --import tsx servers.ts <bare|kit> <stdio|http> [port]`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { defineEnvironment, Environment, serveHttp, serveStdio, weightedReward } from '../src/index.ts';

export const echoEnvironment = defineEnvironment({
  id: 'echo',
  version: 1,
  description: 'One trivial tool.',
  config: z.object({}),
  tasks: () => [
    { id: 'a', split: 'train', prompt: 'echo', meta: {} },
    { id: 'b', split: 'test', prompt: 'echo', meta: {} },
  ],
  tools: { echo: { description: 'Echo the text.', input: z.object({ text: z.string() }), run: ({ text }) => text } },
  setup: () => ({}),
  grade: () => weightedReward({}, {}),
  rewardRange: [0, 1],
});

function bareServer(): McpServer {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the text.', inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

async function serveBareHttp(port: number): Promise<number> {
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
    await bareServer().connect(created);
    await created.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', () => r()));
  return (http.address() as { port: number }).port;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [kind, transport] = process.argv.slice(2);
  const env = new Environment(echoEnvironment, {});
  if (transport === 'stdio') {
    if (kind === 'bare') await bareServer().connect(new StdioServerTransport());
    else await serveStdio(env);
  } else {
    const port = kind === 'bare' ? await serveBareHttp(0) : (await serveHttp(env)).port;
    process.stdout.write(`${port}\n`);
  }
}

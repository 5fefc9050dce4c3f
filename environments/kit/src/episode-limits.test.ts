/**
 * Limits live in the episode: a plain MCP client (the official SDK `Client`, no ToolGym code on
 * its side) that keeps calling is refused with `episode_over`, and the episode is graded as
 * truncated. Over stdio and over Streamable HTTP, each to a server in its own process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  CONTROL_METHODS,
  EndResultSchema,
  EPISODE_META_KEY,
  EpisodeMetaSchema,
  StartResultSchema,
  TURN_META_KEY,
} from '@toolgym/protocol';
import { afterEach, describe, expect, it } from 'vitest';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures/serve-limits.ts');
const children: ChildProcess[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const child of children.splice(0)) child.kill();
});

async function connect(transport: 'stdio' | 'http', options: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'plain-mcp-client', version: '1.0.0' });
  clients.push(client);
  if (transport === 'stdio') {
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', script, 'stdio', JSON.stringify(options)] }),
    );
    return client;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'http', JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>, turn?: number) {
  const result = await client.callTool({ name, arguments: args, ...(turn !== undefined ? { _meta: { [TURN_META_KEY]: turn } } : {}) });
  return { isError: result.isError === true, meta: EpisodeMetaSchema.parse(result._meta?.[EPISODE_META_KEY]) };
}

const end = (client: Client, finalText?: string) =>
  client.request({ method: CONTROL_METHODS.end, params: finalText === undefined ? {} : { finalText } }, EndResultSchema);

describe.each(['stdio', 'http'] as const)('episode limits over %s', (transport) => {
  it('refuses calls past maxToolCalls to a client that sends no turn markers, and grades the episode truncated', async () => {
    const client = await connect(transport, { maxToolCalls: 5 });
    await client.request({ method: CONTROL_METHODS.start, params: { taskId: 'a' } }, StartResultSchema);
    for (let i = 0; i < 5; i++) expect((await call(client, 'echo', { text: `${i}` })).isError).toBe(false);
    const refused = await call(client, 'count', {});
    expect(refused).toMatchObject({ isError: true, meta: { errorCode: 'episode_over', truncation: 'max_tool_calls', toolCalls: 5 } });
    // The answer tool is refused too: the episode is over.
    expect((await call(client, 'answer', { value: 2 })).meta.errorCode).toBe('episode_over');
    const result = await end(client);
    expect(result).toMatchObject({ terminated: false, truncated: true, truncation: 'max_tool_calls', toolCalls: 5, reward: { total: 0 } });
  });

  it('ends the episode at maxTurns for a client that marks each call with its turn', async () => {
    const client = await connect(transport);
    await client.request({ method: CONTROL_METHODS.start, params: { taskId: 'a' } }, StartResultSchema);
    expect((await call(client, 'count', {}, 0)).isError).toBe(false);
    expect((await call(client, 'count', {}, 1)).isError).toBe(false);
    expect((await call(client, 'echo', { text: 'still turn 2' }, 2)).isError).toBe(false);
    const fourth = await call(client, 'answer', { value: 2 }, 3);
    expect(fourth).toMatchObject({ isError: true, meta: { errorCode: 'episode_over', truncation: 'max_turns' } });
    // Once over, it stays over, whatever the marker says.
    expect((await call(client, 'answer', { value: 2 }, 0)).meta.errorCode).toBe('episode_over');
    expect(await end(client)).toMatchObject({ truncated: true, truncation: 'max_turns', toolCalls: 3, reward: { total: 0 } });
  });

  it('refuses calls and the final text past the wall-clock limit', async () => {
    const client = await connect(transport, { maxEpisodeMs: 300 });
    await client.request({ method: CONTROL_METHODS.start, params: { taskId: 'a' } }, StartResultSchema);
    expect((await call(client, 'count', {})).isError).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await call(client, 'count', {})).toMatchObject({ isError: true, meta: { errorCode: 'episode_over', truncation: 'time_limit' } });
    await client.request({ method: CONTROL_METHODS.start, params: { taskId: 'a' } }, StartResultSchema);
    await new Promise((r) => setTimeout(r, 400));
    // A right final text that arrives after the limit earns nothing.
    expect(await end(client, '2')).toMatchObject({ truncated: true, truncation: 'time_limit', reward: { total: 0 } });
  });

  it('grades an episode that stays within its limits as not truncated', async () => {
    const client = await connect(transport);
    await client.request({ method: CONTROL_METHODS.start, params: { taskId: 'a' } }, StartResultSchema);
    await call(client, 'count', {}, 0);
    await call(client, 'count', {}, 1);
    expect((await call(client, 'answer', { value: 2 }, 2)).meta.terminated).toBe(true);
    expect(await end(client)).toMatchObject({ terminated: true, truncated: false, reward: { total: 1 } });
  });

  it('rejects a malformed turn marker with the field named', async () => {
    const client = await connect(transport);
    await expect(client.callTool({ name: 'count', arguments: {}, _meta: { [TURN_META_KEY]: 'two' } })).rejects.toThrow(McpError);
    await expect(client.callTool({ name: 'count', arguments: {}, _meta: { [TURN_META_KEY]: -1 } })).rejects.toThrow(/toolgym\/turn/);
  });
});

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import probe, { probeStats } from '../test/fixtures/probe-env.ts';
import { EnvironmentClient, type EnvironmentEndpoint, type McpEnvironmentClient } from './client.ts';
import { Environment } from './episode.ts';
import { HttpConfigError, PortInUseError, probeGuards } from '@toolgym/http';
import { type HttpEnvironmentServer, serveHttp } from './http-server.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const serveProbeScript = path.join(here, '../test/fixtures/serve-probe.ts');
const env = new Environment(probe, probe.parseConfig({}));
const teardownLog = path.join(mkdtempSync(path.join(tmpdir(), 'probe-')), 'teardowns.log');

let http: HttpEnvironmentServer;
const TRAINER_TOKEN = 'trainer-secret';
beforeAll(async () => {
  http = await serveHttp(env, { idleTimeoutMs: 60_000, trainerToken: TRAINER_TOKEN });
});
afterAll(async () => {
  await http.close();
});

const endpoints: Array<[string, () => EnvironmentEndpoint]> = [
  ['in-process', () => ({ kind: 'in-process', environment: env })],
  [
    'stdio',
    () => ({
      kind: 'stdio',
      command: process.execPath,
      args: ['--import', 'tsx', serveProbeScript],
      env: { PROBE_TEARDOWN_LOG: teardownLog },
    }),
  ],
  ['http', () => ({ kind: 'http', url: http.url, token: TRAINER_TOKEN })],
  // The same session without JSON-RPC: every behaviour above must hold there too.
  ['direct', () => ({ kind: 'direct', environment: env })],
];

describe.each(endpoints)('environment over %s', (_name, endpoint) => {
  let client: EnvironmentClient;
  beforeAll(async () => {
    client = await EnvironmentClient.connect(endpoint());
  });
  afterAll(async () => {
    await client.close();
  });

  it('shows the agent only the environment tools, with JSON Schemas from the zod declarations', async () => {
    const tools = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['add', 'answer', 'fail', 'sleep', 'spew']);
    const add = tools.find((t) => t.name === 'add')!;
    expect(add.inputSchema).toMatchObject({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false });
  });

  it('plays the oracle to reward 1 and reports termination', async () => {
    const start = await client.start({ taskId: 't2' });
    expect(start.task.prompt).toContain('3');
    expect(start.task).not.toHaveProperty('answer');
    const { calls } = await client.oracle();
    const results = [];
    for (const call of calls) results.push(await client.callTool(call.name, call.arguments));
    expect(results.map((r) => r.terminated)).toEqual([false, true]);
    const after = await client.callTool('add', { n: 1 });
    expect(after).toMatchObject({ isError: true, errorCode: 'episode_ended' });
    const end = await client.end();
    expect(end).toMatchObject({ terminated: true, reward: { total: 1, components: { correct: 1, counter_matches: 1 } } });
  });

  it('turns an unknown tool into an error the model sees, and the episode goes on', async () => {
    await client.start({ taskId: 't1' });
    const bad = await client.callTool('subtract', { n: 1 });
    expect(bad).toMatchObject({ isError: true, errorCode: 'unknown_tool' });
    expect(bad.content).toContain('add, sleep, fail, spew, answer');
    expect(await client.callTool('add', { n: 2 })).toMatchObject({ isError: false, content: '2' });
    await client.end();
  });

  it('names the field and the expected type when arguments fail the schema', async () => {
    await client.start({ taskId: 't1' });
    const wrongType = await client.callTool('add', { n: 'five' });
    expect(wrongType).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
    expect(wrongType.content).toMatch(/'n'.*expected number/);
    const missing = await client.callTool('add', {});
    expect(missing.content).toMatch(/'n'/);
    const misspelt = await client.callTool('add', { m: 1 });
    expect(misspelt.content).toContain('Unrecognized key: "m"');
    expect(await client.callTool('add', { n: 1 })).toMatchObject({ isError: false, content: '1' });
    await client.end();
  });

  it('reports a throwing tool to the model, with the tool error code when the tool gives one', async () => {
    await client.start({ taskId: 't1' });
    expect(await client.callTool('fail', {})).toMatchObject({ isError: true, errorCode: 'tool_failed' });
    const visible = await client.callTool('fail', { visible: true });
    expect(visible).toMatchObject({ isError: true, errorCode: 'probe_refused', content: 'the probe refused' });
    expect(await client.callTool('add', { n: 1 })).toMatchObject({ isError: false });
    await client.end();
  });

  it('cancels a tool past its timeout and keeps the episode usable', async () => {
    await client.start({ taskId: 't1' });
    const slow = await client.callTool('sleep', { ms: 20_000 });
    expect(slow).toMatchObject({ isError: true, errorCode: 'tool_timeout' });
    expect(slow.content).toContain('300 ms');
    expect(await client.callTool('add', { n: 4 })).toMatchObject({ isError: false, content: '4' });
    await client.end();
  });

  it('cuts output over the byte limit on a character boundary, with a marker', async () => {
    await client.start({ taskId: 't1' });
    const huge = await client.callTool('spew', { bytes: 10_000_000 });
    expect(huge.truncated).toBe(true);
    expect(huge.content).toMatch(/\[output truncated: 10000000 bytes, showing the first 1000\]$/);
    expect(Buffer.byteLength(huge.content.split('\n[output')[0]!)).toBeLessThanOrEqual(1000);
    expect(huge.content).not.toContain('\ufffd');
    await client.end();
  });

  it('grades an episode with no turns, and refuses to end an episode that was never started', async () => {
    await client.start({ taskId: 't3' });
    const end = await client.end();
    expect(end).toMatchObject({ terminated: false, toolCalls: 0, reward: { total: 0 } });
    await expect(client.end()).rejects.toThrow(/no episode to end/);
  });

  it('rejects malformed control requests with the field named', async () => {
    await expect(client.start({ taskId: 5 as never })).rejects.toThrow(/'taskId'/);
    await expect(client.start({ taskId: 'nope' })).rejects.toThrow(/no task 'nope'/);
    await expect(client.start({ split: 'validation' as never })).rejects.toThrow(McpError);
  });

  it('opens an episode on first use for a plain MCP client that never sent start', async () => {
    const fresh = await EnvironmentClient.connect(endpoint());
    expect(await fresh.callTool('add', { n: 7 })).toMatchObject({ isError: false, content: '7' });
    const end = await fresh.end();
    expect(end.toolCalls).toBe(1);
    await fresh.close();
  });

  it('draws the same task for the same seed', async () => {
    const a = await client.start({ split: 'train', seed: 42 });
    const b = await client.start({ split: 'train', seed: 42 });
    expect(a.task.id).toBe(b.task.id);
    await client.end();
  });
});

describe('episode isolation and release', () => {
  it('keeps two concurrent HTTP sessions apart', async () => {
    const [a, b] = await Promise.all([EnvironmentClient.connect({ kind: 'http', url: http.url }), EnvironmentClient.connect({ kind: 'http', url: http.url })]);
    await Promise.all([a.start({ taskId: 't1' }), b.start({ taskId: 't1' })]);
    const results = await Promise.all([a.callTool('add', { n: 1 }), b.callTool('add', { n: 10 }), a.callTool('add', { n: 1 })]);
    expect(results.map((r) => r.content)).toEqual(['1', '10', '2']);
    await Promise.all([a.end(), b.end()]);
    await Promise.all([a.close(), b.close()]);
  });

  it('releases the episode of a stdio client that goes away mid-episode', async () => {
    const before = readLog();
    const client = await EnvironmentClient.connect(endpoints[1]![1]());
    await client.start({ taskId: 't1' });
    await client.callTool('add', { n: 1 });
    await client.close();
    await waitFor(() => readLog() > before);
    expect(readLog()).toBe(before + 1);
  });

  it('releases the episode of an in-process client that closes while its start is still on its way', async () => {
    const openBefore = probeStats.open;
    // Closed at once, and closed one tick later: the start reaches the session after, or while, it closes.
    for (const ticks of [0, 1, 2]) {
      const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
      const started = client.start({ taskId: 't1' }).catch(() => undefined);
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      await client.close();
      await started;
    }
    await waitFor(() => probeStats.open === openBefore, 5_000).catch(() => {});
    expect(probeStats.open).toBe(openBefore);
  });

  it('releases the episode of an HTTP client that terminates its session or vanishes', async () => {
    const server = await serveHttp(env, { idleTimeoutMs: 300 });
    const openBefore = probeStats.open;
    const polite = await EnvironmentClient.connect({ kind: 'http', url: server.url });
    await polite.start({ taskId: 't1' });
    const vanishing = await EnvironmentClient.connect({ kind: 'http', url: server.url });
    await vanishing.start({ taskId: 't1' });
    expect(probeStats.open).toBe(openBefore + 2);
    await ((polite as McpEnvironmentClient).client.transport as unknown as { terminateSession(): Promise<void> }).terminateSession();
    await waitFor(() => probeStats.open === openBefore + 1);
    // The second client never says goodbye: the idle sweep closes its session.
    await waitFor(() => probeStats.open === openBefore, 5_000);
    expect(server.sessionCount()).toBe(0);
    await server.close();
  });
});

describe('HTTP binding', () => {
  it('refuses a non-loopback bind without a token', async () => {
    await expect(serveHttp(env, { host: '0.0.0.0' })).rejects.toThrow(HttpConfigError);
    await expect(serveHttp(env, { host: '0.0.0.0', trainerToken: 'only-the-trainer' })).rejects.toMatchObject({ code: 'token_required' });
  });

  it('refuses requests without the bearer token when one is set', async () => {
    const server = await serveHttp(env, { token: 's3cret' });
    await expect(EnvironmentClient.connect({ kind: 'http', url: server.url })).rejects.toThrow(/401|bearer/i);
    const ok = await EnvironmentClient.connect({ kind: 'http', url: server.url, token: 's3cret' });
    expect((await ok.info()).id).toBe('probe');
    await ok.close();
    await server.close();
  });

  it('keeps answers and the oracle from an agent session, and serves them to the trainer', async () => {
    const server = await serveHttp(env, { token: 'agent-secret', trainerToken: TRAINER_TOKEN });
    try {
      const agent = await EnvironmentClient.connect({ kind: 'http', url: server.url, token: 'agent-secret' });
      await agent.start({ seed: 1 });
      await expect(agent.oracle()).rejects.toThrow(/trainer token/);
      await expect(agent.tasks({ withAnswers: true })).rejects.toThrow(/only for the trainer/);
      const listed = await agent.tasks({ limit: 3 });
      expect(listed.tasks.every((t) => t.answer === undefined)).toBe(true);
      // The agent's reward carries no info: that is where the gold answer is.
      const graded = await agent.end();
      expect(graded.reward.components).toEqual({ correct: 0, counter_matches: 0 });
      expect(graded.reward.info).toEqual({});
      await agent.close();

      const trainer = await EnvironmentClient.connect({ kind: 'http', url: server.url, token: TRAINER_TOKEN });
      await trainer.start({ seed: 1 });
      expect((await trainer.oracle()).calls.length).toBeGreaterThan(0);
      expect((await trainer.tasks({ withAnswers: true, limit: 3 })).tasks.every((t) => t.answer !== undefined)).toBe(true);
      expect((await trainer.end()).reward.info).toHaveProperty('gold');
      await trainer.close();

      // A session is fixed to the credential it opened with; none at all is refused outright.
      await expect(EnvironmentClient.connect({ kind: 'http', url: server.url })).rejects.toThrow(/401|bearer/i);
    } finally {
      await server.close();
    }
  });

  it("keeps a session with the credential it was opened with: another one is answered 403, none 401", async () => {
    const server = await serveHttp(env, { token: 'agent-secret', trainerToken: TRAINER_TOKEN });
    try {
      const post = (token: string, body: unknown, sessionId?: string) =>
        fetch(server.url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } : {}),
          },
          body: JSON.stringify(body),
        });
      const init = await post('agent-secret', {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      const sessionId = init.headers.get('mcp-session-id')!;
      expect(init.status).toBe(200);
      expect(sessionId).toBeTruthy();
      // The agent's session cannot be raised to the trainer by sending the trainer's token later.
      const escalate = await post(TRAINER_TOKEN, { jsonrpc: '2.0', id: 2, method: 'toolgym/episode/oracle', params: {} }, sessionId);
      expect(escalate.status).toBe(403);
      const refusal = await escalate.text();
      expect(refusal).toMatch(/belongs to the agent/);
      expect(JSON.parse(refusal)).toMatchObject({ error: { data: { code: 'wrong_principal' } } });
      const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
      expect((await post(TRAINER_TOKEN, list, sessionId)).status).toBe(403);
      expect((await post('agent-secret', list, sessionId)).status).toBe(200);
      const noToken = await fetch(server.url, { method: 'POST', headers: { 'mcp-session-id': sessionId }, body: '{}' });
      expect(noToken.status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('makes every session an agent session when no trainer token is set', async () => {
    const server = await serveHttp(env);
    try {
      const client = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      await client.start({ seed: 1 });
      await expect(client.oracle()).rejects.toThrow(/trainer/);
      await expect(client.tasks({ withAnswers: true })).rejects.toThrow(/only for the trainer/);
      expect((await client.end()).reward.info).toEqual({});
      await client.close();
    } finally {
      await server.close();
    }
  });

  it('refuses a page of another site, a rebinding Host, an oversized body and a missing token off loopback', async () => {
    const server = await serveHttp(env, { host: '0.0.0.0', token: 'agent-secret', trainerToken: TRAINER_TOKEN, maxBodyBytes: 4096 });
    try {
      const url = `http://127.0.0.1:${server.port}/mcp`;
      expect(await probeGuards(url, { token: 'agent-secret', maxBodyBytes: 4096 })).toEqual({
        badOrigin: { status: 403, code: 'origin_not_allowed' },
        badHost: { status: 403, code: 'host_not_allowed' },
        oversized: { status: 413, code: 'body_too_large' },
        noToken: { status: 401, code: 'unauthorized' },
      });
      // The refusals are JSON-RPC error objects, which is what MCP clients read.
      const refused = await fetch(url, { method: 'POST', headers: { origin: 'http://evil.example' }, body: '{}' });
      expect(await refused.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, data: { code: 'origin_not_allowed' } } });
      // A page the server does not know is refused; the official client (no Origin) is not.
      const client = await EnvironmentClient.connect({ kind: 'http', url, token: 'agent-secret' });
      expect((await client.info()).id).toBe('probe');
      await client.close();
    } finally {
      await server.close();
    }
  });

  it('answers a body that is not JSON with JSON-RPC parse error -32700', async () => {
    const server = await serveHttp(env);
    try {
      for (const body of ['{"jsonrpc": "2.0", "method": ', 'not json at all']) {
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body,
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
      }
      expect(server.sessionCount()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('caps open sessions: one more initialize is answered 503 with Retry-After, and gets in once one closes', async () => {
    const server = await serveHttp(env, { maxSessions: 2 });
    try {
      const a = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      const b = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      expect(server.sessionCount()).toBe(2);
      const full = await initializeRequest(server.url);
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('5');
      expect(await full.json()).toMatchObject({ error: { data: { code: 'too_many_sessions' } } });
      // A session that is open keeps working while the server is full.
      await a.start({ taskId: 't1' });
      expect((await a.callTool('add', { n: 2 })).content).toBe('2');
      await ((b as McpEnvironmentClient).client.transport as unknown as { terminateSession(): Promise<void> }).terminateSession();
      await b.close();
      await waitFor(() => server.sessionCount() === 1);
      const c = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      expect(server.sessionCount()).toBe(2);
      await Promise.all([a.close(), c.close()]);
    } finally {
      await server.close();
    }
  });

  it('a full server whose sessions go idle releases every episode and slot: it fills to its cap again, and a reaped session is 404', async () => {
    const server = await serveHttp(env, { maxSessions: 3, idleTimeoutMs: 2_000 });
    const initialize = () => initializeRequest(server.url);
    try {
      const openBefore = probeStats.open;
      const fill = () =>
        Promise.all(
          [1, 2, 3].map(async () => {
            const client = await EnvironmentClient.connect({ kind: 'http', url: server.url });
            await client.start({ taskId: 't1' });
            return client;
          }),
        );
      // Clients that vanish without a goodbye, holding an episode each.
      const first = await fill();
      expect(probeStats.open).toBe(openBefore + 3);
      expect((await initialize()).status).toBe(503);
      await waitFor(() => server.sessionCount() === 0 && probeStats.open === openBefore, 15_000);
      const stale = await first[0]!.callTool('add', { n: 1 }).catch((error: unknown) => error);
      expect(String(stale)).toMatch(/404|unknown or expired session/);
      // Every slot came back: the server fills to its cap once more, and no further.
      const second = await fill();
      expect(server.sessionCount()).toBe(3);
      expect((await initialize()).status).toBe(503);
      await Promise.all([...first, ...second].map((c) => c.close().catch(() => {})));
    } finally {
      await server.close();
    }
  });

  it('an initialize the transport refuses holds no slot', async () => {
    const server = await serveHttp(env, { maxSessions: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          // No protocolVersion, capabilities or clientInfo: not an initialize the SDK accepts.
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
        });
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).not.toBe(503);
      }
      expect(server.sessionCount()).toBe(0);
      const client = await EnvironmentClient.connect({ kind: 'http', url: server.url });
      expect((await client.info()).id).toBe('probe');
      await client.close();
    } finally {
      await server.close();
    }
  });

  it('answers a first request that is not an initialize with 400 and opens no session', async () => {
    const server = await serveHttp(env);
    try {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(response.status).toBe(400);
      expect(server.sessionCount()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('says which port is busy', async () => {
    await expect(serveHttp(env, { port: http.port })).rejects.toThrow(PortInUseError);
  });
});

function readLog(): number {
  try {
    return readFileSync(teardownLog, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** A bare initialize POST, as a client opening a session sends it. */
function initializeRequest(url: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } },
    }),
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

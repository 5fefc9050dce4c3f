import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { probeGuards } from '@toolgym/http';
import {
  discoverEnvironments,
  type Environment,
  EnvironmentClient,
  type OpenEnvServer,
  serveOpenEnv,
} from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withToolgymServer } from './commands/test-support.ts';
import { httpJson, mcpHttp, OpenEnvWsClient, type WsAnswer } from './openenv-test-client.ts';

const registry = await discoverEnvironments();
const servers: OpenEnvServer[] = [];

async function serve(env: Environment, options: Parameters<typeof serveOpenEnv>[1] = {}): Promise<OpenEnvServer> {
  const server = await serveOpenEnv(env, { port: 0, ...options });
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const observation = (answer: WsAnswer) => answer.data.observation as Record<string, unknown>;
const errorCode = (answer: WsAnswer) => (answer.type === 'error' ? answer.data.code : `not an error: ${JSON.stringify(answer)}`);

describe('every built-in environment over OpenEnv', () => {
  it.each(registry.list().map((d) => [d.ref] as const))('%s: a full episode over /ws and over /mcp, and the stateless HTTP endpoints', async (ref) => {
    const env = registry.make(ref);
    const server = await serve(env);
    const task = (await env.tasksOf('train'))[0]!;
    // The oracle is read on the trainer's side, in process: the server never offers it.
    const calls = env.definition.oracle?.(task, env.config) ?? [];
    expect(calls.length).toBeGreaterThan(0);

    const client = await OpenEnvWsClient.connect(server.url);
    expect(server.sessionCount()).toBe(1);
    const reset = await client.reset({ task_id: task.id, episode_id: 'mine-1', seed: 7 });
    expect(reset.type).toBe('observation');
    expect(reset.data).toMatchObject({ reward: null, done: false });
    const shown = observation(reset);
    const meta = shown.metadata as { episode_id: string; task: { id: string } };
    expect(meta.episode_id).toBe('mine-1');
    expect(meta.task.id).toBe(task.id);
    expect(meta.task).not.toHaveProperty('answer');
    expect((shown.tools as Array<{ name: string }>).map((t) => t.name).sort()).toEqual(env.toolSpecs.map((t) => t.name).sort());

    let last: WsAnswer | undefined;
    for (const [i, call] of calls.entries()) {
      last = await client.step({ type: 'call_tool', tool_name: call.name, arguments: call.arguments });
      expect(last.type).toBe('observation');
      expect(observation(last)).toMatchObject({ tool_name: call.name, error: null });
      // OpenEnv's MCP client reads an observation with `tools` as a tool listing.
      expect(observation(last)).not.toHaveProperty('tools');
      expect(last.data.done).toBe(i === calls.length - 1);
    }
    const reward = last!.data.reward as number;
    // The same calls on the same task and seed earn the same in process (a game's oracle can lose a hand).
    const direct = await EnvironmentClient.connect({ kind: 'direct', environment: env, principal: 'agent' });
    await direct.start({ taskId: task.id, seed: 7 });
    for (const call of calls) await direct.callTool(call.name, call.arguments);
    const expected = (await direct.end()).reward.total;
    await direct.close();
    expect(reward).toBe(expected);
    if (env.id !== 'games') expect(reward).toBeGreaterThan(0);
    expect((observation(last!).metadata as { reward_breakdown: { total: number } }).reward_breakdown.total).toBe(reward);
    expect((await client.state()).data).toEqual({ episode_id: 'mine-1', step_count: calls.length, task_id: task.id, done: true });
    await client.close();
    await until(() => server.sessionCount() === 0, 'the session to be released');

    // The same episode over OpenEnv's MCP path: an HTTP session, its first call naming the task.
    const sessionId = ((await mcpHttp(server.url, 'openenv/session/create')).json.result as { session_id: string }).session_id;
    let called: Record<string, unknown> = {};
    for (const [i, call] of calls.entries()) {
      const params = { session_id: sessionId, name: call.name, arguments: call.arguments, ...(i === 0 ? { task_id: task.id, seed: 7 } : {}) };
      called = (await mcpHttp(server.url, 'tools/call', params)).json;
      expect(called).toMatchObject({ result: { isError: false } });
    }
    expect((called.result as { _meta: { done: boolean; reward: number } })._meta).toMatchObject({ done: true, reward });
    await mcpHttp(server.url, 'openenv/session/close', { session_id: sessionId });
    expect(server.sessionCount()).toBe(0);

    expect((await httpJson(server.url, '/health')).json).toEqual({ status: 'healthy' });
    expect((await httpJson(server.url, '/metadata')).json).toMatchObject({ name: env.id, version: String(env.definition.version) });
    const schema = (await httpJson(server.url, '/schema')).json;
    expect(Object.keys(schema).sort()).toEqual(['action', 'observation', 'state']);
    const httpReset = await httpJson(server.url, '/reset', { task_id: task.id });
    expect(httpReset.status).toBe(200);
    expect((httpReset.json.observation as { metadata: { task: { id: string } } }).metadata.task.id).toBe(task.id);
    // Stateless as in OpenEnv: a step plays in a fresh episode of its own, here the answer alone.
    const answerCall = calls.at(-1)!;
    const httpStep = await httpJson(server.url, '/step', {
      task_id: task.id,
      action: { type: 'call_tool', tool_name: answerCall.name, arguments: answerCall.arguments },
    });
    expect(httpStep.status).toBe(200);
    expect(httpStep.json.observation).toMatchObject({ tool_name: answerCall.name });
    // Where the answer alone ends the episode it is graded; otherwise (code: nothing written yet) it is not.
    expect(typeof httpStep.json.reward).toBe(httpStep.json.done ? 'number' : 'object');
    expect((await httpJson(server.url, '/state')).json).toEqual({ episode_id: null, step_count: 0, task_id: null, done: false });
  }, 180_000);
});

describe('the OpenEnv server refuses bad messages with OpenEnv error codes', () => {
  it('answers each bad /ws message with its code and keeps the session usable', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const client = await OpenEnvWsClient.connect(server.url);
    expect(errorCode(await client.sendRaw('{"type": "reset",'))).toBe('INVALID_JSON');
    expect(errorCode(await client.send({ type: 'dance' }))).toBe('UNKNOWN_TYPE');
    expect(errorCode(await client.send({ data: {} }))).toBe('UNKNOWN_TYPE');
    expect(errorCode(await client.send([1, 2]))).toBe('VALIDATION_ERROR');
    const noData = await client.send({ type: 'step' });
    expect(errorCode(noData)).toBe('VALIDATION_ERROR');
    expect(noData.data.errors).toEqual([expect.objectContaining({ loc: ['data'] })]);
    expect(errorCode(await client.send({ type: 'state', extra: 1 }))).toBe('VALIDATION_ERROR');
    expect(errorCode(await client.reset({ seed: -1 }))).toBe('VALIDATION_ERROR');
    expect(errorCode(await client.reset({ task_id: 'no-such-task' }))).toBe('EXECUTION_ERROR');
    expect(errorCode(await client.step({ tool_name: 'upper', arguments: {} }))).toBe('EXECUTION_ERROR');

    await client.reset({ seed: 3 });
    const badShape = await client.step({ type: 'call_tool', tool_name: 7, arguments: 'x' });
    expect(errorCode(badShape)).toBe('VALIDATION_ERROR');
    expect((badShape.data.errors as Array<{ loc: unknown[] }>).map((e) => e.loc)).toEqual([
      ['data', 'tool_name'],
      ['data', 'arguments'],
    ]);
    expect(errorCode(await client.step({ type: 'call_tool', tool_name: 'upper', bogus: true }))).toBe('VALIDATION_ERROR');
    // Mistakes in a tool call are the model's to see, as in OpenEnv's CallToolObservation.error.
    const unknown = await client.step({ tool_name: 'no_such_tool', arguments: {} });
    expect(observation(unknown).error).toMatchObject({ error_type: 'tool_not_found' });
    const tool = env.toolSpecs[0]!;
    const wrongTypes = await client.step({ tool_name: tool.name, arguments: { __bogus__: [1, 2, 3] } });
    expect(observation(wrongTypes).error).toMatchObject({ error_type: 'invalid_args' });
    expect((await client.state()).data).toMatchObject({ step_count: 2, done: false });
    // A reset that fails leaves no episode behind: the old one is released, not reported.
    expect(errorCode(await client.reset({ task_id: 'no-such-task' }))).toBe('EXECUTION_ERROR');
    expect((await client.state()).data).toEqual({ episode_id: null, step_count: 0, task_id: null, done: false });
    expect(errorCode(await client.step({ tool_name: tool.name, arguments: {} }))).toBe('EXECUTION_ERROR');
    await client.close();
  });

  it('answers bad HTTP bodies with 422 (OpenEnv) or the shared error shape', async () => {
    const server = await serve(registry.make('compose'));
    const noAction = await httpJson(server.url, '/step', { task_id: 'x' });
    expect(noAction.status).toBe(422);
    expect(noAction.json.detail).toEqual([expect.objectContaining({ loc: ['body', 'action'] })]);
    const badSeed = await httpJson(server.url, '/reset', { seed: 'one' });
    expect(badSeed.status).toBe(422);
    const notJson = await httpJson(server.url, '/reset', '{nope');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatchObject({ code: 'invalid_json' });
    const unknownTask = await httpJson(server.url, '/step', { task_id: 'no-such-task', action: { tool_name: 'upper' } });
    expect(unknownTask.status).toBe(500);
    expect(unknownTask.json.error).toMatchObject({ code: 'EXECUTION_ERROR' });
  });
});

describe('OpenEnv sessions', () => {
  it('keeps two concurrent sessions apart', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const [a, b] = await Promise.all([OpenEnvWsClient.connect(server.url), OpenEnvWsClient.connect(server.url)]);
    expect(server.sessionCount()).toBe(2);
    const [tA, tB] = (await env.tasksOf('train')).slice(0, 2);
    const [rA, rB] = await Promise.all([a.reset({ task_id: tA!.id }), b.reset({ task_id: tB!.id })]);
    const episodeOf = (answer: WsAnswer) => (observation(answer).metadata as { episode_id: string }).episode_id;
    expect(episodeOf(rA)).not.toBe(episodeOf(rB));
    const tool = env.toolSpecs[0]!;
    await a.step({ tool_name: tool.name, arguments: {} });
    expect((await a.state()).data).toMatchObject({ step_count: 1, task_id: tA!.id });
    expect((await b.state()).data).toMatchObject({ step_count: 0, task_id: tB!.id });
    await Promise.all([a.close(), b.close()]);
    await until(() => server.sessionCount() === 0, 'both sessions to be released');
  });

  it('releases the episode of a client that disconnects without closing', async () => {
    const env = registry.make('sql');
    const server = await serve(env);
    const client = await OpenEnvWsClient.connect(server.url);
    await client.reset({ seed: 1 });
    expect(server.sessionCount()).toBe(1);
    client.socket.terminate();
    await until(() => server.sessionCount() === 0, 'the dropped session to be released');
  });

  it('answers CAPACITY_REACHED past the session cap, and has room again once a session closes', async () => {
    const server = await serve(registry.make('compose'), { maxSessions: 1 });
    const first = await OpenEnvWsClient.connect(server.url);
    const second = await OpenEnvWsClient.connect(server.url);
    const refused = await second.next();
    expect(refused.data).toMatchObject({ code: 'CAPACITY_REACHED', active_sessions: 1, max_sessions: 1 });
    expect(await second.closed).toBe(1013);
    await first.close();
    await until(() => server.sessionCount() === 0, 'the first session to close');
    const third = await OpenEnvWsClient.connect(server.url);
    expect((await third.reset({ seed: 1 })).type).toBe('observation');
    await third.close();
  });

  it('reaps an idle session, telling the client why', async () => {
    const server = await serve(registry.make('compose'), { idleTimeoutMs: 150 });
    const client = await OpenEnvWsClient.connect(server.url);
    await client.reset({ seed: 1 });
    const told = await client.next();
    expect(told.data).toMatchObject({ code: 'SESSION_ERROR' });
    expect(await client.closed).toBe(1001);
    expect(server.sessionCount()).toBe(0);
  });
});

/** The JSON-RPC response in an HTTP answer, a `{type: mcp}` message, or an `/mcp` socket frame (the response itself). */
const rpc = (answer: { json: Record<string, unknown> } | WsAnswer) =>
  ('json' in answer ? answer.json : answer.type === 'mcp' ? answer.data : answer) as Record<string, unknown>;
const rpcResult = (answer: { json: Record<string, unknown> } | WsAnswer) => rpc(answer).result as Record<string, unknown>;
const rpcError = (answer: { json: Record<string, unknown> } | WsAnswer) =>
  rpc(answer).error as { code: number; message: string; data: Record<string, unknown> | null } | undefined;

describe("OpenEnv's MCP path: POST /mcp, the /mcp socket, and {type: mcp} on /ws", () => {
  it('plays an oracle episode in an HTTP MCP session, graded as over /ws, and closes it', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const task = (await env.tasksOf('train'))[0]!;
    const calls = env.definition.oracle!(task, env.config);

    const created = await mcpHttp(server.url, 'openenv/session/create');
    expect(created.status).toBe(200);
    const sessionId = rpcResult(created).session_id as string;
    expect(server.sessionCount()).toBe(1);
    const listed = await mcpHttp(server.url, 'tools/list', { session_id: sessionId });
    expect(listed.json).toMatchObject({ jsonrpc: '2.0', id: 1 });
    const tools = rpcResult(listed).tools as Array<{ name: string; inputSchema: object }>;
    expect(tools.map((t) => t.name).sort()).toEqual(env.toolSpecs.map((t) => t.name).sort());
    expect(tools[0]!.inputSchema).toEqual(env.toolSpecs.find((t) => t.name === tools[0]!.name)!.inputSchema);

    let last: Record<string, unknown> = {};
    for (const [i, call] of calls.entries()) {
      // The first call opens the session's episode on the task it names.
      const params = { session_id: sessionId, name: call.name, arguments: call.arguments, ...(i === 0 ? { task_id: task.id, seed: 7 } : {}) };
      last = rpcResult(await mcpHttp(server.url, 'tools/call', params));
      expect(last).toMatchObject({ isError: false, content: [{ type: 'text' }] });
      expect(last.data).toBe((last.content as Array<{ text: string }>)[0]!.text);
      expect('_meta' in last).toBe(i === calls.length - 1);
    }
    const ws = await OpenEnvWsClient.connect(server.url);
    await ws.reset({ task_id: task.id, seed: 7 });
    let stepped: WsAnswer | undefined;
    for (const call of calls) stepped = await ws.step({ tool_name: call.name, arguments: call.arguments });
    await ws.close();
    expect(last._meta).toMatchObject({ done: true, reward: stepped!.data.reward });
    expect((last._meta as { reward: number }).reward).toBeGreaterThan(0);

    const afterEnd = rpcError(await mcpHttp(server.url, 'tools/call', { session_id: sessionId, name: calls[0]!.name, arguments: calls[0]!.arguments }));
    expect(afterEnd).toMatchObject({ code: -32603, data: { code: 'episode_done' } });
    expect(rpcResult(await mcpHttp(server.url, 'openenv/session/close', { session_id: sessionId }))).toEqual({ session_id: sessionId, closed: true });
    await until(() => server.sessionCount() === 0, 'the HTTP MCP session to close');
    expect(rpcError(await mcpHttp(server.url, 'tools/list', { session_id: sessionId }))).toMatchObject({ code: -32602, data: { code: 'unknown_session' } });
    expect(rpcError(await mcpHttp(server.url, 'openenv/session/close', { session_id: sessionId }))).toMatchObject({ code: -32602 });
  });

  it('answers a stateless tools/call in a fresh episode, and every malformed request with its JSON-RPC code', async () => {
    const env = registry.make('compose');
    const server = await serve(env, { maxBodyBytes: 4096 });
    const task = (await env.tasksOf('train'))[0]!;
    const answer = env.definition.oracle!(task, env.config).at(-1)!;
    const stateless = rpcResult(await mcpHttp(server.url, 'tools/call', { name: answer.name, arguments: answer.arguments, task_id: task.id }));
    expect(stateless).toMatchObject({ isError: false });
    expect(server.sessionCount()).toBe(0);

    const raw = async (body: string) => (await httpJson(server.url, '/mcp', body)).json;
    expect(await raw('{"jsonrpc": "2.0",')).toMatchObject({ id: null, error: { code: -32700 } });
    expect(await raw('[{"jsonrpc": "2.0", "method": "tools/list"}]')).toMatchObject({ error: { code: -32600 } });
    expect(await raw('{"method": "tools/list", "id": 4}')).toMatchObject({ id: 4, error: { code: -32600 } });
    expect(await raw('{"jsonrpc": "2.0", "method": "tools/list", "id": 5, "extra": 1}')).toMatchObject({ id: 5, error: { code: -32600 } });
    expect(await raw('{"jsonrpc": "2.0", "method": "tools/list", "params": [1], "id": 6}')).toMatchObject({ error: { code: -32600 } });
    expect(rpcError(await mcpHttp(server.url, 'resources/list'))).toMatchObject({ code: -32601, message: 'Method not found: resources/list' });
    const noName = rpcError(await mcpHttp(server.url, 'tools/call', { arguments: {} }));
    expect(noName).toMatchObject({ code: -32602, data: { errors: [expect.objectContaining({ loc: ['params', 'name'] })] } });
    const badArgs = rpcError(await mcpHttp(server.url, 'tools/call', { name: answer.name, arguments: 'x' }));
    expect(badArgs).toMatchObject({ code: -32602, data: { errors: [expect.objectContaining({ loc: ['params', 'arguments'] })] } });
    expect(rpcError(await mcpHttp(server.url, 'tools/call', { name: answer.name, task_id: 'no-such-task' }))).toMatchObject({ code: -32603, data: { code: 'unknown_task' } });
    expect(rpcError(await mcpHttp(server.url, 'tools/list', { session_id: 42 }))).toMatchObject({ code: -32602 });
    expect(rpcError(await mcpHttp(server.url, 'tools/list', { session_id: 'nope' }))).toMatchObject({ code: -32602, data: { code: 'unknown_session' } });
    expect(rpcError(await mcpHttp(server.url, 'openenv/session/close', {}))).toMatchObject({ code: -32602 });
    // A mistake in a tool call is the model's to read, as an MCP tool error.
    const unknownTool = rpcResult(await mcpHttp(server.url, 'tools/call', { name: 'no_such_tool', task_id: task.id }));
    expect(unknownTool).toMatchObject({ isError: true });
    const huge = await httpJson(server.url, '/mcp', { jsonrpc: '2.0', method: 'tools/call', params: { name: answer.name, arguments: { text: 'x'.repeat(10_000) } }, id: 1 });
    expect(huge.status).toBe(413);
    expect(server.sessionCount()).toBe(0);
  });

  it('serves JSON-RPC on the /mcp socket, one session per connection, released on disconnect', async () => {
    const env = registry.make('compose');
    const server = await serve(env, { maxSessions: 1 });
    const task = (await env.tasksOf('train'))[0]!;
    const calls = env.definition.oracle!(task, env.config);
    const socket = await OpenEnvWsClient.connect(server.url, undefined, '/mcp');
    expect(server.sessionCount()).toBe(1);
    const own = rpcResult(await socket.send({ jsonrpc: '2.0', method: 'openenv/session/create', id: 'a' }));
    expect(rpcError(await socket.send({ jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: own.session_id }, id: 2 }))).toMatchObject({
      code: -32600,
      data: { code: 'own_session' },
    });
    expect(await socket.sendRaw('not json')).toMatchObject({ id: null, error: { code: -32700 } });
    let last: WsAnswer | undefined;
    for (const [i, call] of calls.entries())
      last = await socket.send({ jsonrpc: '2.0', method: 'tools/call', params: { name: call.name, arguments: call.arguments, ...(i === 0 ? { task_id: task.id } : {}) }, id: i });
    expect(last).toMatchObject({ jsonrpc: '2.0', id: calls.length - 1, result: { isError: false, _meta: { done: true } } });
    // Full: a second connection is refused with OpenEnv's SERVER_ERROR and the counts.
    const second = await OpenEnvWsClient.connect(server.url, undefined, '/mcp');
    expect(await second.next()).toMatchObject({ error: { code: -32000, data: { active_sessions: 1, max_sessions: 1 } } });
    expect(await second.closed).toBe(1013);
    expect(rpcError(await mcpHttp(server.url, 'openenv/session/create'))).toMatchObject({ code: -32000, data: { code: 'capacity_reached' } });
    socket.socket.terminate();
    await until(() => server.sessionCount() === 0, 'the dropped /mcp session to be released');
  });

  it('answers {type: mcp} on /ws in the same episode that step plays', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const task = (await env.tasksOf('train'))[0]!;
    const calls = env.definition.oracle!(task, env.config);
    const client = await OpenEnvWsClient.connect(server.url);
    await client.reset({ task_id: task.id });
    const listed = await client.mcp('tools/list');
    expect(listed.type).toBe('mcp');
    expect((rpcResult(listed).tools as unknown[]).length).toBe(env.toolSpecs.length);
    let last: WsAnswer | undefined;
    for (const [i, call] of calls.entries())
      last = i % 2 === 0 ? await client.mcp('tools/call', { name: call.name, arguments: call.arguments }, i) : await client.step({ tool_name: call.name, arguments: call.arguments });
    expect((await client.state()).data).toMatchObject({ step_count: calls.length, task_id: task.id, done: true });
    const reward = last!.type === 'mcp' ? (rpcResult(last!)._meta as { reward: number }).reward : (last!.data.reward as number);
    expect(reward).toBeGreaterThan(0);
    expect(rpcError(await client.send({ type: 'mcp', data: { method: 'tools/list' } }))).toMatchObject({ code: -32600 });
    expect(errorCode(await client.send({ type: 'mcp' }))).toBe('VALIDATION_ERROR');
    expect(rpcError(await client.mcp('openenv/session/close', { session_id: rpcResult(await client.mcp('openenv/session/create')).session_id }))).toMatchObject({ code: -32600 });
    await client.close();
    await until(() => server.sessionCount() === 0, 'the session to be released');
  });

  it('closes an idle HTTP MCP session', async () => {
    const server = await serve(registry.make('compose'), { idleTimeoutMs: 150 });
    const sessionId = rpcResult(await mcpHttp(server.url, 'openenv/session/create')).session_id as string;
    expect(server.sessionCount()).toBe(1);
    await until(() => server.sessionCount() === 0, 'the idle session to be closed');
    expect(rpcError(await mcpHttp(server.url, 'tools/list', { session_id: sessionId }))).toMatchObject({ data: { code: 'unknown_session' } });
  });
});

describe('OpenEnv auth: the agent view only', () => {
  it('offers no way to the oracle or the answers', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const client = await OpenEnvWsClient.connect(server.url);
    expect(errorCode(await client.send({ type: 'oracle' }))).toBe('UNKNOWN_TYPE');
    const task = (await env.tasksOf('train'))[0]!;
    const reset = await client.reset({ task_id: task.id });
    expect((observation(reset).metadata as { task: object }).task).not.toHaveProperty('answer');
    expect(JSON.stringify(reset)).not.toContain(JSON.stringify(task.answer));
    await client.close();
    for (const path of ['/tasks', '/oracle']) expect((await httpJson(server.url, path)).status).toBe(404);
  });

  it('refuses to listen off loopback without a token, and refuses requests and upgrades without it', async () => {
    const env = registry.make('compose');
    await expect(serveOpenEnv(env, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'token_required' });
    const server = await serve(env, { token: 'agent-secret' });
    expect((await httpJson(server.url, '/reset', {})).status).toBe(401);
    const refused = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`);
    const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    const client = await OpenEnvWsClient.connect(server.url, 'agent-secret');
    expect((await client.reset({ seed: 1 })).type).toBe('observation');
    await client.close();
    expect((await httpJson(server.url, '/reset', {}, { authorization: 'Bearer agent-secret' })).status).toBe(200);
    expect((await mcpHttp(server.url, 'tools/list')).status).toBe(401);
    expect(rpcResult(await mcpHttp(server.url, 'tools/list', {}, { authorization: 'Bearer agent-secret' })).tools).toBeDefined();
    const mcpRefused = new WebSocket(`${server.url.replace(/^http/, 'ws')}/mcp`);
    expect(await new Promise<number>((resolve) => mcpRefused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(401);
  });

  it('runs behind the shared guards: Origin, Host, body limit, token', async () => {
    const server = await serve(registry.make('compose'), { token: 'agent-secret', maxBodyBytes: 2048 });
    expect(await probeGuards(`${server.url}/reset`, { token: 'agent-secret', maxBodyBytes: 2048 })).toEqual({
      badOrigin: { status: 403, code: 'origin_not_allowed' },
      badHost: { status: 403, code: 'host_not_allowed' },
      oversized: { status: 413, code: 'body_too_large' },
      noToken: { status: 401, code: 'unauthorized' },
    });
  });
});

/** Needs pydantic 2 and requests (this machine's python3 has them; Debian's python3-pydantic is 1.x); skipped without. The stdlib-only client below always runs. */
const python = spawnSync('python3', ['-c', 'import pydantic, requests'], { stdio: 'ignore' }).status === 0;

describe('a Python client (requests + pydantic models of OpenEnv types)', () => {
  it.skipIf(!python)('plays the answer step over HTTP, every answer valid as OpenEnv declares it', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const task = (await env.tasksOf('train'))[0]!;
    const answer = env.definition.oracle!(task, env.config).at(-1)!;
    const script = fileURLToPath(new URL('../test/openenv_http_client.py', import.meta.url));
    // Asynchronously: the server answers from this same process.
    const { stdout: out } = await promisify(execFile)('python3', [script, server.url, task.id, answer.name, JSON.stringify(answer.arguments)], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { done: boolean; reward: number; bad_status: number };
    expect(result.done).toBe(true);
    expect(result.reward).toBeGreaterThan(0);
    expect(result.bad_status).toBe(422);
  });
});

describe("OpenEnv's Python clients, as messages (stdlib only: RFC 6455 WebSocket and urllib)", () => {
  it('plays an episode over /ws (steps and {type: mcp}) and one in a production-mode MCP session', async () => {
    const env = registry.make('compose');
    const server = await serve(env);
    const tasks = await env.tasksOf('train');
    const oracle = (id: string) => {
      const task = tasks.find((t) => t.id === id)!;
      return env.definition.oracle!(task, env.config).map((c) => [c.name, c.arguments]);
    };
    const wsTask = tasks[1]!;
    // OpenEnv's MCP client names no task: its session plays the one seed 0 draws.
    const drawn = ((await httpJson(server.url, '/reset', {})).json.observation as { metadata: { task: { id: string } } }).metadata.task.id;
    const plan = { ws: { reset: { task_id: wsTask.id, seed: 3 }, calls: oracle(wsTask.id) }, mcp: { calls: oracle(drawn) } };
    const script = fileURLToPath(new URL('../test/openenv_ws_client.py', import.meta.url));
    // Asynchronously: the server answers from this same process.
    const { stdout } = await promisify(execFile)('python3', [script, server.url, JSON.stringify(plan)], { encoding: 'utf8' });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      ws: { task_id: string; tools: string[]; done: boolean; reward: number; state: Record<string, unknown>; after_done: string };
      mcp: { tools: string[]; last: { isError: boolean; _meta: { done: boolean; reward: number } }; closed: { result: { closed: boolean } } };
    };
    const toolNames = env.toolSpecs.map((t) => t.name).sort();
    expect(seen.ws).toMatchObject({ task_id: wsTask.id, tools: toolNames, done: true });
    expect(seen.ws.reward).toBeGreaterThan(0);
    expect(seen.ws.state).toEqual({ episode_id: expect.any(String), step_count: plan.ws.calls.length, task_id: wsTask.id, done: true });
    expect(seen.ws.after_done).toMatch(/is done \(code: EXECUTION_ERROR\)/);
    expect(seen.mcp.tools).toEqual(toolNames);
    expect(seen.mcp.last).toMatchObject({ isError: false, _meta: { done: true } });
    expect(seen.mcp.last._meta.reward).toBeGreaterThan(0);
    expect(seen.mcp.closed).toMatchObject({ result: { closed: true } });
    await until(() => server.sessionCount() === 0, 'both sessions to be released');
  }, 60_000);
});

describe('toolgym env serve --openenv', () => {
  it('serves until SIGTERM, an oracle episode played over its /ws', async () => {
    const code = await withToolgymServer(['env', 'serve', 'compose', '--openenv', '0'], /over OpenEnv at (http:\/\/\S+)/, async (url) => {
      const env = registry.make('compose');
      const task = (await env.tasksOf('train'))[0]!;
      const client = await OpenEnvWsClient.connect(url);
      await client.reset({ task_id: task.id });
      let last: WsAnswer | undefined;
      for (const call of env.definition.oracle!(task, env.config)) last = await client.step({ tool_name: call.name, arguments: call.arguments });
      expect(last!.data).toMatchObject({ done: true });
      expect(last!.data.reward).toBeGreaterThan(0);
      await client.close();
    });
    expect(code).toBe(0);
  });
});

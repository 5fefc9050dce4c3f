import { Template } from '@huggingface/jinja';
import { afterEach, describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { HERMES_CHAT_TEMPLATE } from '../src/chat/hermes-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { PolicyError, PolicySpecError } from '../src/errors.ts';
import { createOpenAICompatiblePolicy } from '../src/policies/openai-compatible.ts';
import { createPolicyFromSpec } from '../src/policy-spec.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment, inProcessClient } from './helpers.test-double.ts';
import { startVllmTestDouble, type VllmTestDouble } from './vllm-server.test-double.ts';

const tokenizer = new ByteTokenizerTestDouble();
const env = composeEnvironment();
const sampling = { maxTokens: 256, temperature: 0.7 };
let server: VllmTestDouble | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function oracleCallsOf(taskIndex = 0) {
  const task = (await env.tasksOf('test'))[taskIndex]!;
  return { task, calls: env.definition.oracle!(task, env.config) };
}

describe('OpenAI-compatible policy against a vLLM-shaped server', () => {
  it('token mode: token-id prompts to /v1/completions, sampled ids and logprobs from the server, an exact trajectory', async () => {
    const { task, calls } = await oracleCallsOf();
    server = await startVllmTestDouble({
      tokenizer,
      completion: (turn) => hermesToolCalls.render([calls[turn]!]),
    });
    const policy = createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'tiny', tokenizer });
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling });
    await client.close();

    expect(t.failure).toBeUndefined();
    expect(t.reward.components.correct).toBe(1);
    expect(t.tokenization).toBe('exact');
    expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), env.toolSpecs)).toEqual({ ok: true });
    // The server got token ids, the request flags vLLM needs, and each prompt extends the last.
    const bodies = server.requests.map((r) => r.body);
    expect(server.requests.every((r) => r.route === '/v1/completions')).toBe(true);
    expect(bodies[0]).toMatchObject({
      model: 'tiny',
      logprobs: 1,
      return_token_ids: true,
      temperature: 0.7,
      stop_token_ids: tokenizer.eosTokenIds,
    });
    const prompts = bodies.map((b) => b.prompt as number[]);
    expect(prompts[1]!.slice(0, prompts[0]!.length)).toEqual(prompts[0]);
    expect(prompts[1]).toEqual(Array.from(t.tokens.subarray(0, t.turns[1]!.sampled.start)));
    // Logprobs are the server's, on sampled tokens only.
    const first = t.turns[0]!.sampled;
    expect(t.logprobs[first.start]).toBeCloseTo(-0.5);
    expect(t.logprobs[first.start + 1]).toBeCloseTo(-0.25);
  });

  it('reads sampled ids from `token_id:<id>` logprob tokens when the server has no token_ids field', async () => {
    const { task, calls } = await oracleCallsOf(1);
    server = await startVllmTestDouble({
      tokenizer,
      omitTokenIdsField: true,
      completion: (turn) => hermesToolCalls.render([calls[turn]!]),
    });
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'tiny', tokenizer }),
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    expect(t.reward.components.correct).toBe(1);
    expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), env.toolSpecs)).toEqual({ ok: true });
  });

  it('message mode: native tool_calls from /v1/chat/completions; malformed arguments become an error the model sees; text-only', async () => {
    const { task, calls } = await oracleCallsOf();
    server = await startVllmTestDouble({
      tokenizer,
      chat: (turn) =>
        turn === 0
          ? [{ name: calls[0]!.name, arguments: '{"text": ' }] // cut-off JSON
          : [{ name: calls[turn - 1]!.name, arguments: JSON.stringify(calls[turn - 1]!.arguments) }],
    });
    const policy = createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'chat-model' });
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling });
    await client.close();
    expect(t.failure).toBeUndefined();
    expect(t.tokenization).toBe('text-only');
    expect(t.reward.components.correct).toBe(1);
    expect(t.turns[0]!.parseErrors[0]?.code).toBe('invalid_json');
    const second = server.requests[1]!.body;
    expect((second.tools as Array<{ type: string; function: { name: string } }>)[0]).toMatchObject({
      type: 'function',
      function: { name: 'reverse' },
    });
    expect(second.logprobs).toBe(true);
    expect(second.return_token_ids).toBe(true);
    expect(JSON.stringify(second.messages)).toContain('Error (invalid_json)');
  });

  it("message mode with the server's prompt and sampled ids (vLLM return_token_ids): an exact record, or text-only when the server re-renders history", async () => {
    const { task, calls } = await oracleCallsOf();
    // The server applies its own template (Hermes, with tool calls re-serialised from tool_calls).
    const serverTemplate = new Template(HERMES_CHAT_TEMPLATE);
    const render = (body: Record<string, unknown>, skew: string) => {
      const messages = (body.messages as Array<Record<string, unknown>>).map((m) => ({
        ...m,
        ...(m.tool_calls
          ? {
              tool_calls: (m.tool_calls as Array<{ function: { name: string; arguments: string } }>).map(
                (c) => ({
                  function: { name: c.function.name, arguments: JSON.parse(c.function.arguments) },
                }),
              ),
            }
          : {}),
      }));
      return serverTemplate
        .render({ messages, tools: body.tools, add_generation_prompt: true })
        .replaceAll('"arguments": ', `"arguments":${skew}`);
    };
    for (const skew of [' ', '']) {
      server = await startVllmTestDouble({
        tokenizer,
        chat: (turn) => [{ name: calls[turn]!.name, arguments: JSON.stringify(calls[turn]!.arguments) }],
        renderChatPrompt: (body) => render(body, skew),
      });
      const client = await inProcessClient(env);
      const t = await playEpisode({
        client,
        policy: createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'm', nativeTools: true }),
        start: { taskId: task.id },
        sampling,
      });
      await client.close();
      await server.close();
      server = undefined;
      expect(t.failure).toBeUndefined();
      expect(t.reward.components.correct).toBe(1);
      if (skew === ' ') {
        expect(t.tokenization).toBe('exact');
        expect(t.lossMask.reduce<number>((a, b) => a + b, 0)).toBe(
          t.turns.reduce((n, x) => n + x.sampled.end - x.sampled.start, 0),
        );
        expect(tokenizer.decode(t.tokens.slice(t.turns[0]!.sampled.start, t.turns[0]!.sampled.end))).toBe(
          `${hermesToolCalls.render([calls[0]!])}<|im_end|>`,
        );
        expect(t.turns[0]!.observation.start).toBe(t.turns[0]!.sampled.end);
        expect(t.turns[1]!.sampled.start).toBe(t.turns[0]!.observation.end);
        expect(
          tokenizer.decode(t.tokens.slice(t.turns[0]!.observation.start, t.turns[0]!.observation.end)),
        ).toContain('<tool_response>');
      } else {
        // The server re-serialises the sampled tool call without the space: its next prompt does
        // not extend what was sampled, so no exact record is claimed.
        expect(t.tokenization).toBe('text-only');
        expect(t.tokens.length).toBe(0);
        expect(t.turns.every((x) => x.sampled.end === 0)).toBe(true);
      }
    }
  });

  it('retries 429 and 503 with backoff, then succeeds', async () => {
    const { task, calls } = await oracleCallsOf();
    server = await startVllmTestDouble({
      tokenizer,
      failures: [429, 503],
      completion: (turn) => hermesToolCalls.render([calls[turn]!]),
    });
    const policy = createOpenAICompatiblePolicy({
      baseURL: server.baseURL,
      model: 'tiny',
      tokenizer,
      retryBaseMs: 5,
    });
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling });
    await client.close();
    expect(t.reward.components.correct).toBe(1);
    expect(server.requests.length).toBe(calls.length + 2);
  });

  it('does not retry a 400; the episode fails with the server message; gives up after maxRetries on 503s', async () => {
    const { task } = await oracleCallsOf();
    server = await startVllmTestDouble({ tokenizer, failures: [400], completion: () => 'x' });
    let client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'tiny', tokenizer }),
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    expect(t.status).toBe('failed');
    expect(t.failure?.code).toBe('policy_error');
    expect(t.failure?.message).toContain('400');
    expect(t.failure?.message).toContain('injected 400');
    expect(server.requests.length).toBe(1);
    await server.close();

    server = await startVllmTestDouble({ tokenizer, failures: [503, 503, 503], completion: () => 'x' });
    client = await inProcessClient(env);
    const gaveUp = await playEpisode({
      client,
      policy: createOpenAICompatiblePolicy({
        baseURL: server.baseURL,
        model: 'tiny',
        tokenizer,
        maxRetries: 2,
        retryBaseMs: 1,
      }),
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    expect(gaveUp.failure?.code).toBe('policy_unavailable');
    expect(server.requests.length).toBe(3);
  });

  it('times out a server that does not answer, and honours cancellation', async () => {
    server = await startVllmTestDouble({ tokenizer, delayMs: 2_000, completion: () => 'x' });
    const policy = createOpenAICompatiblePolicy({
      baseURL: server.baseURL,
      model: 'tiny',
      tokenizer,
      timeoutMs: 200,
    });
    const timedOut = policy.generate({ tokens: [1, 2, 3], sampling });
    await expect(timedOut).rejects.toBeInstanceOf(PolicyError);
    await expect(timedOut).rejects.toMatchObject({ code: 'policy_timeout' });

    const slow = createOpenAICompatiblePolicy({ baseURL: server.baseURL, model: 'tiny', tokenizer });
    const controller = new AbortController();
    const started = Date.now();
    const cancelled = slow.generate({ tokens: [1], sampling, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(cancelled).rejects.toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('leaves out vLLM extension fields for hosted APIs when asked', async () => {
    server = await startVllmTestDouble({ tokenizer, chat: () => [] });
    const policy = createOpenAICompatiblePolicy({
      baseURL: server.baseURL,
      model: 'hosted',
      requestTokenIds: false,
    });
    const result = await policy.generate({
      messages: [{ role: 'user', content: 'hi' }],
      tools: [],
      sampling,
    });
    expect(result.text).toBe('Done.');
    expect(server.requests[0]!.body).not.toHaveProperty('return_token_ids');
    expect(server.requests[0]!.body).not.toHaveProperty('tools');
  });

  it('caps requests in flight', async () => {
    server = await startVllmTestDouble({ tokenizer, delayMs: 100, completion: () => 'x' });
    const policy = createOpenAICompatiblePolicy({
      baseURL: server.baseURL,
      model: 'tiny',
      tokenizer,
      maxConcurrency: 2,
    });
    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, () => policy.generate({ tokens: [1], sampling })));
    // 4 requests, 2 at a time, 100 ms each: at least two rounds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('policy specs', () => {
  it('builds openai:<baseURL>#<model> and the scripted policies; refuses bad specs naming what to write', async () => {
    const policy = await createPolicyFromSpec('openai:http://127.0.0.1:9/v1#my-model', {
      toolFormat: 'native',
      options: { maxRetries: '0' },
    });
    expect(policy.id).toBe('openai:http://127.0.0.1:9/v1#my-model');
    expect((await createPolicyFromSpec('oracle', { toolFormat: hermesToolCalls, options: {} })).id).toBe(
      'oracle',
    );
    expect((await createPolicyFromSpec('random', { toolFormat: hermesToolCalls, options: {} })).id).toBe(
      'random',
    );
    await expect(
      createPolicyFromSpec('openai:localhost', { toolFormat: 'native', options: {} }),
    ).rejects.toMatchObject({
      code: 'invalid_policy_spec',
      hint: expect.stringContaining('openai:<baseURL>#<model>'),
    });
    await expect(
      createPolicyFromSpec('oracle:x', { toolFormat: 'native', options: {} }),
    ).rejects.toBeInstanceOf(PolicySpecError);
    const unknown = createPolicyFromSpec('gpu:whatever', { toolFormat: 'native', options: {} });
    await expect(unknown).rejects.toBeInstanceOf(PolicySpecError);
    await expect(unknown).rejects.toMatchObject({
      hint: expect.stringMatching(/known policy schemes: .*openai, oracle, random/),
    });
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpConfigError, probeGuards } from '@toolgym/http';
import { compactChatTemplate } from '../chat/compact-format.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import { byteTokenizerId } from '../model/byte-tokenizer.ts';
import type { ModelChat } from '../model/model-directory.ts';
import { writeDecoderModelDir } from '../model/write-model-directory.ts';
import { OnnxPolicy } from '../onnx/onnx-policy.ts';
import { createTinyTestModel, TINY_TEST_CONFIG } from '../onnx/tiny-test-model.ts';
import { createOpenAICompatiblePolicy } from '../policies/openai-compatible.ts';
import { type OpenAiServer, serveOpenAiCompatible } from './openai-server.ts';
import { writeScriptedModel } from './scripted-test-model.ts';

const MODEL = 'toolgym-tiny';
let dir: string;
let policy: OnnxPolicy;
let server: OpenAiServer;
let client: OpenAI;

beforeAll(async () => {
  ({ dir } = await createTinyTestModel());
  policy = await OnnxPolicy.create({ model: dir });
  server = await serveOpenAiCompatible(policy, { port: 0, modelName: MODEL });
  client = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  await policy.close();
  await rm(dir, { recursive: true, force: true });
});

/** vLLM's extra response fields, which the official client passes through untyped. */
type WithTokenIds<T> = T & { token_ids?: number[]; prompt_token_ids?: number[] };
/** vLLM's extra request fields, sent through the official client as-is. */
const vllmExtras = (extras: Record<string, unknown>) => extras as Record<string, never>;

describe('toolgym policy serve (OpenAI-compatible) with the official openai client', () => {
  it('lists the model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('completions return token ids and logprobs like vLLM, matching the policy', async () => {
    const prompt = 'Hello there';
    const completion = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 8,
      temperature: 0.8,
      seed: 5,
      logprobs: 1,
      ...vllmExtras({ return_token_ids: true, ignore_eos: true }),
    });
    const choice = completion.choices[0] as WithTokenIds<(typeof completion.choices)[0]>;
    const direct = await policy.enqueue({
      tokens: policy.tokenizer.encode(prompt),
      sampling: { maxTokens: 8, temperature: 0.8, seed: 5 },
      ignoreEos: true,
    });
    expect(choice.prompt_token_ids).toEqual(policy.tokenizer.encode(prompt));
    expect(choice.token_ids).toEqual(direct.tokens);
    expect(choice.logprobs!.token_logprobs).toEqual(direct.logprobs);
    expect(choice.logprobs!.tokens).toHaveLength(8);
    expect(choice.text).toBe(direct.text);
    expect(choice.finish_reason).toBe('length');
    expect(completion.usage).toEqual({
      prompt_tokens: prompt.length,
      completion_tokens: 8,
      total_tokens: prompt.length + 8,
    });
  });

  it('completions accept token-id prompts and n > 1', async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: [104, 105],
      max_tokens: 4,
      n: 3,
      seed: 1,
      ...vllmExtras({ return_token_ids: true }),
    });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of completion.choices as Array<WithTokenIds<(typeof completion.choices)[0]>>)
      expect(c.prompt_token_ids).toEqual([104, 105]);
  });

  it('streamed completions deliver the same tokens and text as a non-streamed one', async () => {
    const request = {
      model: MODEL,
      prompt: 'stream me',
      max_tokens: 12,
      temperature: 1,
      seed: 77,
      ...vllmExtras({ return_token_ids: true, ignore_eos: true }),
    };
    const whole = (await client.completions.create(request))
      .choices[0] as WithTokenIds<OpenAI.Completions.CompletionChoice>;
    const stream = await client.completions.create({ ...request, stream: true, logprobs: 1 });
    let text = '';
    const tokenIds: number[] = [];
    const logprobs: number[] = [];
    let promptIds: number[] | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0] as WithTokenIds<OpenAI.Completions.CompletionChoice>;
      text += c.text;
      tokenIds.push(...(c.token_ids ?? []));
      logprobs.push(...((c.logprobs?.token_logprobs as number[] | undefined) ?? []));
      promptIds ??= c.prompt_token_ids;
      finish = c.finish_reason ?? finish;
    }
    expect(tokenIds).toEqual(whole.token_ids);
    expect(text).toBe(whole.text);
    expect(promptIds).toEqual(whole.prompt_token_ids);
    expect(logprobs).toHaveLength(12);
    expect(finish).toBe('length');
  });

  it('chat completions render the model chat template and return prompt_token_ids, token_ids, logprobs', async () => {
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const response = (await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      ...vllmExtras({ return_token_ids: true, ignore_eos: true }),
    })) as WithTokenIds<OpenAI.Chat.ChatCompletion>;
    const expectedPrompt = policy.tokenizer.encode('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(response.prompt_token_ids).toEqual(expectedPrompt);
    const choice = response.choices[0] as WithTokenIds<OpenAI.Chat.ChatCompletion.Choice>;
    const direct = await policy.enqueue({
      tokens: expectedPrompt,
      sampling: { maxTokens: 6, temperature: 0 },
      ignoreEos: true,
    });
    expect(choice.token_ids).toEqual(direct.tokens);
    expect(choice.logprobs!.content!.map((l) => l.logprob)).toEqual(direct.logprobs);
    expect(choice.message.content).toBe(direct.text);
    expect(choice.message.role).toBe('assistant');
  });

  it('streamed chat completions carry prompt_token_ids in the first chunk and token id deltas', async () => {
    const request = {
      model: MODEL,
      messages: [{ role: 'user' as const, content: 'hey' }],
      max_tokens: 10,
      temperature: 1,
      seed: 3,
      ...vllmExtras({ return_token_ids: true }),
    };
    const whole = (await client.chat.completions.create(request)) as WithTokenIds<OpenAI.Chat.ChatCompletion>;
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    const ids: number[] = [];
    let first: number[] | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream as AsyncIterable<WithTokenIds<OpenAI.Chat.ChatCompletionChunk>>) {
      first ??= chunk.prompt_token_ids;
      usage = chunk.usage ?? usage;
      const c = chunk.choices[0] as WithTokenIds<OpenAI.Chat.ChatCompletionChunk.Choice> | undefined;
      content += c?.delta.content ?? '';
      ids.push(...(c?.token_ids ?? []));
    }
    expect(first).toEqual(whole.prompt_token_ids);
    expect(ids).toEqual((whole.choices[0] as WithTokenIds<OpenAI.Chat.ChatCompletion.Choice>).token_ids);
    expect(content).toBe(whole.choices[0]!.message.content);
    expect(usage?.completion_tokens).toBe(ids.length);
  });

  it('leaves a matched stop string out of the text (OpenAI semantics) but keeps its token ids', async () => {
    const base = await client.completions.create({
      model: MODEL,
      prompt: 'stop test',
      max_tokens: 30,
      temperature: 0,
      ...vllmExtras({ ignore_eos: true }),
    });
    const text = base.choices[0]!.text;
    const stop = [...text].slice(2).find((ch) => /[!-~]/.test(ch));
    expect(stop, `greedy text ${JSON.stringify(text)} has no printable ASCII after its start`).toBeDefined();
    const cut = await client.completions.create({
      model: MODEL,
      prompt: 'stop test',
      max_tokens: 30,
      temperature: 0,
      stop: [stop!],
      ...vllmExtras({ return_token_ids: true, ignore_eos: true }),
    });
    const choice = cut.choices[0] as WithTokenIds<OpenAI.Completions.CompletionChoice>;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.text).toBe(text.slice(0, text.indexOf(stop!)));
    expect(policy.tokenizer.decode(choice.token_ids!).endsWith(stop!)).toBe(true);

    const streamed = await client.completions.create({
      model: MODEL,
      prompt: 'stop test',
      max_tokens: 30,
      temperature: 0,
      stop: [stop!],
      stream: true,
      ...vllmExtras({ ignore_eos: true }),
    });
    let streamedText = '';
    for await (const chunk of streamed) streamedText += chunk.choices[0]?.text ?? '';
    expect(streamedText).toBe(choice.text);
  });

  it("the openai policy backend (token mode) gets the onnx policy's exact tokens, logprobs and text", async () => {
    const remote = createOpenAICompatiblePolicy({
      baseURL: server.url,
      model: MODEL,
      tokenizer: policy.tokenizer,
      chatTemplate: policy.chatTemplate!,
      maxRetries: 0,
    });
    const tokens = policy.tokenizer.encode('<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n');
    for (const sampling of [
      { maxTokens: 10, temperature: 1, seed: 4 },
      { maxTokens: 30, temperature: 0, stop: ['e', 'a', 'o'] },
    ]) {
      const viaHttp = await remote.generate({ tokens, sampling });
      const direct = await policy.generate({ tokens, sampling });
      expect(viaHttp.tokens).toEqual(direct.tokens);
      expect(viaHttp.logprobs).toEqual(direct.logprobs);
      expect(viaHttp.promptTokens).toEqual(tokens);
      expect(viaHttp.text).toBe(direct.text);
    }
  });

  it('rejects bad requests with OpenAI-style errors', async () => {
    await expect(
      client.completions.create({ model: 'other', prompt: 'x', max_tokens: 1 }),
    ).rejects.toMatchObject({ status: 404 });
    await expect(
      client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1, temperature: -1 }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(client.completions.create({ model: MODEL, prompt: [99999], max_tokens: 1 })).rejects.toThrow(
      /outside the vocabulary/,
    );
    const notJson = await fetch(`${server.url}/completions`, { method: 'POST', body: '{not json' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_json',
      message: expect.stringMatching(/not JSON/),
    });
  });
});

/** A one-string-argument tool, as OpenAI clients send it. */
const textTool = (name: string) => ({
  type: 'function' as const,
  function: {
    name,
    description: `${name} a string`,
    parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  },
});

describe('a model trained with the compact template (`toolgym train`)', () => {
  it('renders earlier tool_calls the way its template shows them, and names a call it cannot write', async () => {
    const compactDir = await mkdtemp(path.join(tmpdir(), 'toolgym-compact-'));
    await writeDecoderModelDir(compactDir, {
      config: TINY_TEST_CONFIG,
      weights: initDecoderWeights(TINY_TEST_CONFIG, { seed: 3, std: 0.3 }),
      chat: { template: compactChatTemplate(), toolCalls: 'compact' },
    });
    const compactPolicy = await OnnxPolicy.create({ model: compactDir });
    const compactServer = await serveOpenAiCompatible(compactPolicy, { port: 0, modelName: 'compact' });
    try {
      const compactClient = new OpenAI({ baseURL: compactServer.url, apiKey: 'unused', maxRetries: 0 });
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
        { role: 'user', content: 'Compute reverse("abc").' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'reverse', arguments: '{"text":"abc"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'cba' },
      ];
      const response = (await compactClient.chat.completions.create({
        model: 'compact',
        messages,
        tools: [textTool('reverse')],
        max_tokens: 1,
        ...vllmExtras({ return_token_ids: true }),
      })) as WithTokenIds<OpenAI.Chat.ChatCompletion>;
      expect(response.prompt_token_ids).toEqual(
        compactPolicy.tokenizer.encode(
          '<|im_start|>u\nCompute reverse("abc").<|im_end|>\n<|im_start|>a\n<tool_call>reverse:abc</tool_call><|im_end|>\n<|im_start|>t\ncba<|im_end|>\n<|im_start|>a\n',
        ),
      );
      // Without the tool in `tools` the server cannot know how to write its arguments.
      await expect(
        compactClient.chat.completions.create({ model: 'compact', messages, max_tokens: 1 }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(
          /compact format: no tool 'reverse'; list the tool in `tools`/,
        ),
      });
      // Arguments that are not a JSON object have no value to write into the compact call.
      const raw = structuredClone(messages);
      (raw[1] as { tool_calls: Array<{ function: { arguments: string } }> })
        .tool_calls[0]!.function.arguments = 'abc';
      await expect(
        compactClient.chat.completions.create({
          model: 'compact',
          messages: raw,
          tools: [textTool('reverse')],
          max_tokens: 1,
        }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(
          /messages\[1\]\.tool_calls\[0\]\.function\.arguments must be a JSON object, got "abc"/,
        ),
      });
    } finally {
      await compactServer.close();
      await compactPolicy.close();
      await rm(compactDir, { recursive: true, force: true });
    }
  });
});

describe('what the server refuses or caps instead of ignoring', () => {
  // Room for a prompt that lists tools.
  let wide: { dir: string; policy: OnnxPolicy; server: OpenAiServer; client: OpenAI };
  beforeAll(async () => {
    const { dir: wideDir } = await createTinyTestModel(7, { maxPositions: 1024 });
    const widePolicy = await OnnxPolicy.create({ model: wideDir });
    const wideServer = await serveOpenAiCompatible(widePolicy, { port: 0, modelName: MODEL });
    wide = {
      dir: wideDir,
      policy: widePolicy,
      server: wideServer,
      client: new OpenAI({ baseURL: wideServer.url, apiKey: 'unused', maxRetries: 0 }),
    };
  });
  afterAll(async () => {
    await wide.server.close();
    await wide.policy.close();
    await rm(wide.dir, { recursive: true, force: true });
  });
  const chat = (extra: Record<string, unknown>) =>
    fetch(`${wide.server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
        ...extra,
      }),
    }).then(async (r) => ({
      status: r.status,
      error: ((await r.json()) as { error?: { code: string; param: string } }).error,
    }));
  const reverse = textTool('reverse');

  it('refuses response_format and a forced tool_choice it cannot enforce, naming the field', async () => {
    for (const format of [
      { type: 'json_object' },
      { type: 'json_schema', json_schema: { name: 'x', schema: {} } },
    ])
      expect(await chat({ response_format: format })).toMatchObject({
        status: 400,
        error: { code: 'unsupported_response_format', param: 'response_format' },
      });
    expect((await chat({ response_format: { type: 'text' } })).status).toBe(200);
    for (const choice of ['required', { type: 'function', function: { name: 'reverse' } }])
      expect(await chat({ tools: [reverse], tool_choice: choice })).toMatchObject({
        status: 400,
        error: { code: 'unsupported_tool_choice', param: 'tool_choice' },
      });
    expect((await chat({ tools: [reverse], tool_choice: 'auto' })).status).toBe(200);
  });

  it("tool_choice 'none' leaves the tools out of the prompt", async () => {
    const promptOf = async (extra: Record<string, unknown>) =>
      (
        (await wide.client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 1,
          ...vllmExtras({ return_token_ids: true, ...extra }),
        })) as WithTokenIds<OpenAI.Chat.ChatCompletion>
      ).prompt_token_ids!;
    const bare = await promptOf({});
    expect((await promptOf({ tools: [reverse] })).length).toBeGreaterThan(bare.length);
    expect(await promptOf({ tools: [reverse], tool_choice: 'none' })).toEqual(bare);
  });

  it('requires tool_call_id on a tool message, naming a call of an earlier assistant message', async () => {
    const call = { id: 'c1', type: 'function', function: { name: 'reverse', arguments: '{"text":"ab"}' } };
    const conversation = (tool: Record<string, unknown>) => ({
      messages: [
        { role: 'user', content: 'reverse ab' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', content: 'ba', ...tool },
      ],
      tools: [reverse],
    });
    expect(await chat(conversation({}))).toMatchObject({
      status: 400,
      error: { code: 'invalid_request', param: 'messages[2].tool_call_id' },
    });
    expect(await chat(conversation({ tool_call_id: 'c2' }))).toMatchObject({
      status: 400,
      error: { code: 'invalid_request', param: 'messages[2].tool_call_id' },
    });
    expect((await chat(conversation({ tool_call_id: 'c1' }))).status).toBe(200);
  });

  it('caps max_tokens at the room the context leaves, and answers 400 when the prompt leaves none', async () => {
    const context = TINY_TEST_CONFIG.maxPositions;
    const prompt = [104, 105, 106];
    const capped = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 100_000,
      temperature: 1,
      seed: 2,
      ...vllmExtras({ ignore_eos: true, return_token_ids: true }),
    });
    const choice = capped.choices[0] as WithTokenIds<OpenAI.Completions.CompletionChoice>;
    expect(choice.token_ids).toHaveLength(context - prompt.length);
    expect(choice.finish_reason).toBe('length');
    await expect(
      client.completions.create({
        model: MODEL,
        prompt: Array.from({ length: context }, () => 104),
        max_tokens: 1,
      }),
    ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'prompt' });
    await expect(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'x'.repeat(context) }],
      }),
    ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'messages' });
  });
});

describe('top_logprobs', () => {
  it("lists the model's likeliest tokens at each position, likeliest first; a greedy token's own logprob is 0", async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: 'top',
      max_tokens: 6,
      temperature: 0,
      logprobs: 3,
      ...vllmExtras({ ignore_eos: true, return_tokens_as_token_ids: true }),
    });
    const logprobs = completion.choices[0]!.logprobs!;
    expect(logprobs.top_logprobs).toHaveLength(6);
    logprobs.top_logprobs!.forEach((top, i) => {
      const entries = Object.entries(top);
      expect(entries).toHaveLength(3);
      const values = entries.map(([, lp]) => lp);
      expect(values).toEqual([...values].sort((a, b) => b - a));
      // Greedy: the sampled token is the model's likeliest, and it was drawn with probability 1.
      expect(entries[0]![0]).toBe(logprobs.tokens![i]);
      expect(entries[0]![1]).toBeLessThan(0);
      expect(logprobs.token_logprobs![i]).toBe(0);
    });

    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
      temperature: 0.7,
      seed: 9,
      logprobs: true,
      top_logprobs: 2,
      ...vllmExtras({ ignore_eos: true }),
    });
    for (const position of chat.choices[0]!.logprobs!.content!) {
      expect(position.top_logprobs).toHaveLength(2);
      expect(position.top_logprobs[0]!.logprob).toBeGreaterThanOrEqual(position.top_logprobs[1]!.logprob);
      expect(position.top_logprobs[0]!.logprob).toBeGreaterThanOrEqual(position.logprob);
      expect(
        Math.exp(position.top_logprobs[0]!.logprob) + Math.exp(position.top_logprobs[1]!.logprob),
      ).toBeLessThanOrEqual(1 + 1e-6);
    }
    await expect(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        top_logprobs: 2,
      }),
    ).rejects.toMatchObject({ status: 400, param: 'top_logprobs' });
  });
});

/**
 * A server whose model replies `reply` (greedy) to `request`: the prompt's length is read from the
 * server itself, then a scripted model (scripted-test-model.ts) for that length is loaded into it.
 */
async function scriptedServer(
  request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
  reply: string,
  chat?: ModelChat,
) {
  const dirs = [
    await mkdtemp(path.join(tmpdir(), 'toolgym-scripted-')),
    await mkdtemp(path.join(tmpdir(), 'toolgym-scripted-')),
  ];
  const eos = byteTokenizerId('<|im_end|>');
  await writeScriptedModel(dirs[0]!, { promptLength: 1024, reply: [eos], ...(chat ? { chat } : {}) });
  const scripted = await OnnxPolicy.create({ model: dirs[0]! });
  const scriptedHttp = await serveOpenAiCompatible(scripted, { port: 0, modelName: 'scripted' });
  const scriptedClient = new OpenAI({ baseURL: scriptedHttp.url, apiKey: 'unused', maxRetries: 0 });
  const probe = (await scriptedClient.chat.completions.create({
    ...request,
    max_tokens: 1,
    ...vllmExtras({ return_token_ids: true }),
  })) as WithTokenIds<OpenAI.Chat.ChatCompletion>;
  await writeScriptedModel(dirs[1]!, {
    promptLength: probe.prompt_token_ids!.length,
    reply: [...scripted.tokenizer.encode(reply), eos],
    ...(chat ? { chat } : {}),
  });
  await scripted.loadWeights(dirs[1]!);
  return {
    client: scriptedClient,
    close: async () => {
      await scriptedHttp.close();
      await scripted.close();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

/** What a streamed chat completion assembles to, read chunk by chunk. */
async function readStream(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>) {
  let content = '';
  const calls: Array<{ id?: string; name: string; arguments: string }> = [];
  let finish: string | null = null;
  let callChunks = 0;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    for (const delta of choice.delta.tool_calls ?? []) {
      callChunks++;
      calls[delta.index] ??= { name: '', arguments: '' };
      const call = calls[delta.index]!;
      if (delta.id) call.id = delta.id;
      call.name += delta.function?.name ?? '';
      call.arguments += delta.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, calls, finish, callChunks };
}

describe('streamed tool_calls, read by the official openai client', () => {
  it('Hermes: the prose streams as content and the call as a tool_calls delta, as the whole reply reads', async () => {
    const request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
      model: 'scripted',
      messages: [{ role: 'user', content: 'Capital of France? Search.' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'search',
            description: 'Web search.',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
      ],
      temperature: 0,
    };
    const reply = 'Let me look.\n<tool_call>\n{"name": "search", "arguments": {"q": "Paris"}}\n</tool_call>';
    const scripted = await scriptedServer(request, reply);
    try {
      const whole = await scripted.client.chat.completions.create(request);
      expect(whole.choices[0]!.message.content).toBe('Let me look.');
      expect(
        whole.choices[0]!.message.tool_calls!.map(
          (c) => c.type === 'function' && [c.function.name, c.function.arguments],
        ),
      ).toEqual([['search', '{"q":"Paris"}']]);
      expect(whole.choices[0]!.finish_reason).toBe('tool_calls');

      const streamed = await readStream(
        await scripted.client.chat.completions.create({ ...request, stream: true }),
      );
      expect(streamed).toMatchObject({
        content: 'Let me look.',
        calls: [{ id: expect.stringMatching(/^call_/), name: 'search', arguments: '{"q":"Paris"}' }],
        finish: 'tool_calls',
        callChunks: 1,
      });

      // The client's own stream helper assembles the same message from the deltas.
      const final = await scripted.client.chat.completions
        .stream({ ...request, stream: true })
        .finalChatCompletion();
      const message = final.choices[0]!.message;
      expect(message.content).toBe('Let me look.');
      expect(
        message.tool_calls?.map(
          (c) => c.type === 'function' && [c.function.name, JSON.parse(c.function.arguments)],
        ),
      ).toEqual([['search', { q: 'Paris' }]]);
      expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    } finally {
      await scripted.close();
    }
  });

  it('compact: two calls stream as tool_calls 0 and 1; an unreadable block stays content', async () => {
    const request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
      model: 'scripted',
      messages: [{ role: 'user', content: 'upper ∘ reverse("abc")' }],
      tools: [textTool('reverse'), textTool('upper')],
      temperature: 0,
    };
    const reply =
      '<tool_call>reverse:abc</tool_call><tool_call>rotate:x</tool_call><tool_call>upper:cba</tool_call>';
    const scripted = await scriptedServer(request, reply, {
      template: compactChatTemplate(),
      toolCalls: 'compact',
    });
    try {
      const streamed = await readStream(
        await scripted.client.chat.completions.create({ ...request, stream: true }),
      );
      expect(streamed).toMatchObject({
        content: '<tool_call>rotate:x</tool_call>',
        calls: [
          { name: 'reverse', arguments: '{"text":"abc"}' },
          { name: 'upper', arguments: '{"text":"cba"}' },
        ],
        finish: 'tool_calls',
      });
      const whole = (await scripted.client.chat.completions.create(request)).choices[0]!.message;
      expect(whole.content).toBe(streamed.content);
      expect(whole.tool_calls!.map((c) => c.type === 'function' && c.function.name)).toEqual([
        'reverse',
        'upper',
      ]);
    } finally {
      await scripted.close();
    }
  });
});

describe('the shared HTTP guards on the policy server', () => {
  it('will not listen off loopback without a token', async () => {
    await expect(
      serveOpenAiCompatible(policy, { host: '0.0.0.0', port: 0, modelName: MODEL }),
    ).rejects.toThrow(HttpConfigError);
  });

  it('refuses a page of another site, a rebinding Host, an oversized body and a missing token', async () => {
    const guarded = await serveOpenAiCompatible(policy, {
      host: '0.0.0.0',
      port: 0,
      modelName: MODEL,
      token: 'k3y',
      maxBodyBytes: 2048,
    });
    try {
      const url = `http://127.0.0.1:${new URL(guarded.url).port}/v1/completions`;
      expect(await probeGuards(url, { token: 'k3y', maxBodyBytes: 2048 })).toEqual({
        badOrigin: { status: 403, code: 'origin_not_allowed' },
        badHost: { status: 403, code: 'host_not_allowed' },
        oversized: { status: 413, code: 'body_too_large' },
        noToken: { status: 401, code: 'unauthorized' },
      });
      // The API key is the token.
      const keyed = new OpenAI({
        baseURL: `http://127.0.0.1:${new URL(guarded.url).port}/v1`,
        apiKey: 'k3y',
        maxRetries: 0,
      });
      expect((await keyed.models.list()).data[0]!.id).toBe(MODEL);
    } finally {
      await guarded.close();
    }
  });
});

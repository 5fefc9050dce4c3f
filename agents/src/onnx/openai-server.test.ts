import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactChatTemplate, compactToolCalls, singleArgumentTools } from '../chat/compact-format.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import { writeDecoderModelDir } from '../model/write-model-directory.ts';
import { createOpenAICompatiblePolicy } from '../policies/openai-compatible.ts';
import { OnnxPolicy } from './onnx-policy.ts';
import {
  extractCompactToolCalls,
  extractHermesToolCalls,
  type OpenAiServer,
  serveOpenAiCompatible,
} from './openai-server.ts';
import { createTinyTestModel, TINY_TEST_CONFIG } from './tiny-test-model.ts';

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
    const tooLong = await fetch(`${server.url}/completions`, { method: 'POST', body: '{not json' });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { message: string } }).error.message).toMatch(
      /not valid JSON/,
    );
  });
});

describe('Hermes tool call extraction', () => {
  it('turns <tool_call> blocks into OpenAI tool_calls and keeps unreadable ones as text', () => {
    const { content, toolCalls } = extractHermesToolCalls(
      'Let me look.\n<tool_call>\n{"name": "search", "arguments": {"q": "x"}}\n</tool_call>',
    );
    expect(content).toBe('Let me look.');
    expect(toolCalls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['search', { q: 'x' }],
    ]);
    const broken = extractHermesToolCalls('<tool_call>{"name": oops}</tool_call>');
    expect(broken.toolCalls).toEqual([]);
    expect(broken.content).toBe('<tool_call>{"name": oops}</tool_call>');
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
      // Without the tool in `tools` the server cannot know its argument's name.
      await expect(
        compactClient.chat.completions.create({ model: 'compact', messages, max_tokens: 1 }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(
          /tool 'reverse' does not take exactly one string argument; list it in `tools`/,
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

describe('compact tool call extraction', () => {
  const format = compactToolCalls(
    singleArgumentTools(
      ['reverse', 'upper'].map((name) => ({
        name,
        description: '',
        inputSchema: textTool(name).function.parameters,
      })),
    ),
  );

  it('turns <tool_call>name:value</tool_call> blocks into OpenAI tool_calls, keeping the prose', () => {
    const { content, toolCalls } = extractCompactToolCalls(
      'First this.<tool_call>reverse:abc</tool_call><tool_call>upper:a:b</tool_call>',
      format,
    );
    expect(content).toBe('First this.');
    expect(toolCalls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['reverse', { text: 'abc' }],
      ['upper', { text: 'a:b' }],
    ]);
    expect(new Set(toolCalls.map((c) => c.id)).size).toBe(2);
    expect(extractCompactToolCalls('<tool_call>upper:x</tool_call>', format).content).toBeNull();
  });

  it('leaves a reply with an unreadable block as text, whole', () => {
    for (const text of [
      '<tool_call>reverse:abc</tool_call><tool_call>rotate:abc</tool_call>',
      '<tool_call>reverse</tool_call>',
      '<tool_call>reverse:abc',
      'no calls here',
    ])
      expect(extractCompactToolCalls(text, format)).toEqual({ content: text, toolCalls: [] });
  });
});

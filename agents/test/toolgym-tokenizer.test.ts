import type { Message } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { byteTokenizerConfig, byteTokenizerId, byteTokenizerJson } from '../src/model/byte-tokenizer.ts';
import { HuggingFaceTokenizer } from '../src/model/hf-tokenizer.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { RenderCache } from '../src/turn-renderer.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { composeEnvironment, inProcessClient, scriptedTokenPolicyTestDouble } from './helpers.test-double.ts';

// ToolGym's own small-model tokenizer and chat template, loaded the way any Hugging Face
// model's are: tokenizer.json + tokenizer_config.json through the real tokenizer and Jinja engines.
const config = byteTokenizerConfig(4096);
const tokenizer = new HuggingFaceTokenizer(byteTokenizerJson(), config, [
  byteTokenizerId('<|im_end|>'),
  byteTokenizerId('<|endoftext|>'),
]);
const template = ChatTemplate.fromTokenizerConfig(config, 'ToolGym byte model tokenizer_config.json');
const env = composeEnvironment();
const sampling = { maxTokens: 512 };

describe("exact tokens with ToolGym's own tokenizer and chat template", () => {
  it('oracle episode: tokens decode to the template render; prompt is the template up to the assistant header', async () => {
    const task = (await env.tasksOf('test'))[2]!;
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOraclePolicy({ tokenizer }),
      template,
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    expect(t.failure).toBeUndefined();
    expect(t.reward.components.correct).toBe(1);
    expect(verifyTrajectoryTokens(t, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
    expect(tokenizer.decode(t.tokens.slice(0, t.promptLength))).toBe(
      template.render(t.messages.slice(0, 1), env.toolSpecs, { addGenerationPrompt: true }),
    );
    expect(t.tokens.slice(0, t.promptLength)).toContain(byteTokenizerId('<|im_start|>'));
  });

  it('malformed calls with non-ASCII text still give an exact record', async () => {
    const task = (await env.tasksOf('test'))[2]!;
    const policy = scriptedTokenPolicyTestDouble(tokenizer, (turn) =>
      turn === 0
        ? 'Hmm… <tool_call>{"name": "upper", "arguments": {"text": "żółw"</tool_call>'
        : hermesToolCalls.render([{ name: 'answer', arguments: { answer: 'ŻÓŁW' } }]),
    );
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, template, start: { taskId: task.id }, sampling });
    await client.close();
    expect(t.status).toBe('terminated');
    expect(t.turns[0]!.parseErrors[0]?.code).toBe('invalid_json');
    expect(verifyTrajectoryTokens(t, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
  });
});

describe("a run's render cache tokenizes piece by piece", () => {
  it('between boundary tokens, exactly as the tokenizer tokenizes the whole text', () => {
    const cache = new RenderCache();
    const messages: Message[] = [
      { role: 'user', content: 'Compute upper("ab  c").\n' },
      {
        role: 'assistant',
        content: hermesToolCalls.render([{ name: 'upper', arguments: { text: 'ab  c' } }]),
        toolCalls: [{ id: 'c0', name: 'upper', arguments: { text: 'ab  c' } }],
      },
      { role: 'tool', content: ' AB  C <|im_end|> żółw', toolCallId: 'c0', name: 'upper' },
    ];
    const text = template.render(messages, env.toolSpecs, { addGenerationPrompt: true });
    expect(tokenizer.boundaryTokens.has('<|im_start|>')).toBe(true);
    expect(cache.encode(tokenizer, text)).toEqual(tokenizer.encode(text));
    // The second time every piece comes from the memo.
    expect(cache.encode(tokenizer, text)).toEqual(tokenizer.encode(text));
  });

  it('never splits at an added token that strips the whitespace beside it', () => {
    const json = byteTokenizerJson(['<mark>']);
    const added = json.added_tokens as Array<Record<string, unknown>>;
    Object.assign(added.find((t) => t.content === '<mark>')!, { lstrip: true, rstrip: true });
    const stripping = new HuggingFaceTokenizer(json, byteTokenizerConfig(4096, ['<mark>']), []);
    const text = 'a  <mark>  b<|im_start|>user\nc';
    expect(new RenderCache().encode(stripping, text)).toEqual(stripping.encode(text));
    expect(stripping.boundaryTokens.has('<mark>')).toBe(false);
  });
});

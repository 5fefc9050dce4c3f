import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { HERMES_CHAT_TEMPLATE } from '../src/chat/hermes-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { createOraclePolicy, createRandomPolicy } from '../src/policies/scripted.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import type { GenerateRequest, TokenIds } from '../src/policy.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import {
  aroundGenerate,
  composeEnvironment,
  inProcessClient,
  scriptedTokenPolicyTestDouble,
} from './helpers.test-double.ts';

const tokenizer = new ByteTokenizerTestDouble();
const template = ChatTemplate.hermes();
const env = composeEnvironment();
const sampling = { maxTokens: 512, temperature: 0 };

async function firstTestTask() {
  return (await env.tasksOf('test'))[0]!;
}

describe('agent loop, token mode (exact tokens)', () => {
  it('plays the oracle to the answer; tokens decode to the rendered conversation; mask is 1 exactly on sampled tokens', async () => {
    const task = await firstTestTask();
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOraclePolicy({ tokenizer }),
      start: { taskId: task.id, seed: 7 },
      sampling,
    });
    await client.close();

    expect(t.failure).toBeUndefined();
    expect(t.status).toBe('terminated');
    expect(t.tokenization).toBe('exact');
    expect(t.reward.components.correct).toBe(1);
    expect(t.turns.length).toBe((task.meta.chain as string[]).length + 1);
    expect(verifyTrajectoryTokens(t, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
    // Spans tile the sequence: prompt, then sampled/observation per turn, in order.
    let at = t.promptLength;
    for (const turn of t.turns) {
      expect(turn.sampled.start).toBe(at);
      expect(turn.observation.start).toBe(turn.sampled.end);
      at = turn.observation.end;
      const sampled = t.tokens.slice(turn.sampled.start, turn.sampled.end);
      expect(sampled.at(-1)).toBe(tokenizer.specialTokens.get('<|im_end|>'));
      expect(t.lossMask.slice(turn.sampled.start, turn.sampled.end).every((m) => m === 1)).toBe(true);
    }
    expect(at).toBe(t.tokens.length);
    expect(t.lossMask.reduce<number>((a, b) => a + b, 0)).toBe(
      t.turns.reduce((s, x) => s + x.sampled.end - x.sampled.start, 0),
    );
    // The prompt is exactly the template's render up to the assistant header.
    expect(tokenizer.decode(t.tokens.slice(0, t.promptLength))).toBe(
      template.render(t.messages.slice(0, 1), env.toolSpecs, { addGenerationPrompt: true }),
    );
  });

  it('feeds the engine its own sampled tokens back, never a re-tokenisation of the text', async () => {
    const task = await firstTestTask();
    // This "model" writes `<tool_call>` as eleven plain byte tokens instead of the special token:
    // re-encoding its text would give different ids, so the record must keep the sampled ones.
    const toolCallId = tokenizer.specialTokens.get('<tool_call>')!;
    const imEnd = tokenizer.specialTokens.get('<|im_end|>')!;
    const requests: number[][] = [];
    let turn = 0;
    const policy = {
      id: 'raw-ids-test-double',
      version: 1,
      tokenizer,
      async generate(request: GenerateRequest) {
        requests.push('tokens' in request ? [...request.tokens] : []);
        if (turn++ === 0) {
          // "<tool_call>" written as plain bytes rather than as the special token.
          const tokens = [
            ...new TextEncoder().encode(
              '<tool_call>\n{"name": "answer", "arguments": {"answer": "x"}}\n</tool_call>',
            ),
            imEnd,
          ];
          return {
            text: '',
            tokens,
            logprobs: tokens.map(() => -1),
            finishReason: 'stop' as const,
            policyVersion: 1,
          };
        }
        throw new Error('unreachable');
      },
    };
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling });
    await client.close();
    expect(t.status).toBe('terminated');
    const sampled = t.tokens.slice(t.turns[0]!.sampled.start, t.turns[0]!.sampled.end);
    expect(sampled).not.toContain(toolCallId);
    expect(sampled[0]).toBe('<'.charCodeAt(0));
    expect(tokenizer.encode(tokenizer.decode(sampled))).not.toEqual(sampled);
  });

  it('lends the record to generate: it holds still while a call runs, and each turn continues the last', async () => {
    const task = await firstTestTask();
    const seen: number[][] = [];
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: aroundGenerate(createOraclePolicy({ tokenizer }), async (request, generate) => {
        const lent = 'tokens' in request ? request.tokens : [];
        const copy = [...lent];
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect([...lent]).toEqual(copy);
        seen.push(copy);
        return generate(request);
      }),
      start: { taskId: task.id, seed: 7 },
      sampling,
    });
    await client.close();
    expect(t.reward.components.correct).toBe(1);
    expect(seen.length).toBe(t.turns.length);
    for (const prompt of seen) expect(Array.from(t.tokens.subarray(0, prompt.length))).toEqual(Array.from(prompt));
  });

  it('turns malformed calls into error observations the model sees, and the episode goes on', async () => {
    const task = await firstTestTask();
    const answer = (task.answer as { output: string }).output;
    const policy = scriptedTokenPolicyTestDouble(
      tokenizer,
      (turn) =>
        [
          'Let me try. <tool_call>\n{"name": "reverse", "arguments": {"text": "abc"\n</tool_call>', // bad JSON
          hermesToolCalls.render([{ name: 'no_such_tool', arguments: {} }]),
          hermesToolCalls.render([{ name: 'reverse', arguments: { text: 42 } }]), // wrong type
          '<tool_call>\n{"arguments": {}}\n</tool_call>', // no name
          hermesToolCalls.render([{ name: 'answer', arguments: { answer } }]),
        ][turn]!,
    );
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling, maxTurns: 6 });
    await client.close();

    expect(t.status).toBe('terminated');
    expect(t.reward.components.correct).toBe(1);
    expect(t.turns.map((x) => x.parseErrors.map((e) => e.code))).toEqual([
      ['invalid_json'],
      [],
      [],
      ['missing_name'],
      [],
    ]);
    expect(t.turns[1]!.toolResults[0]).toMatchObject({ name: 'no_such_tool', isError: true });
    expect(t.turns[1]!.toolResults[0]!.content).toContain('Available tools');
    expect(t.turns[2]!.toolResults[0]!.isError).toBe(true);
    expect(t.turns[2]!.toolResults[0]!.content).toMatch(/'text'.*string/);
    // The model saw each error in its next prompt.
    const secondPrompt = tokenizer.decode((policy.requests[1] as { tokens: readonly number[] }).tokens);
    expect(secondPrompt).toContain('<tool_response>\nError (invalid_json)');
    expect(verifyTrajectoryTokens(t, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
    // Mistakes lower the valid-calls component.
    expect(t.reward.components.valid_calls).toBeLessThan(1);
  });

  it('ends by the turn limit as truncated, and by the token budget as truncated', async () => {
    const task = await firstTestTask();
    const looping = () =>
      scriptedTokenPolicyTestDouble(tokenizer, () =>
        hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }]),
      );
    let client = await inProcessClient(env);
    const byTurns = await playEpisode({
      client,
      policy: looping(),
      start: { taskId: task.id },
      sampling,
      maxTurns: 3,
    });
    expect(byTurns.status).toBe('truncated');
    expect(byTurns.truncation).toBe('max_turns');
    expect(byTurns.turns.length).toBe(3);
    expect(verifyTrajectoryTokens(byTurns, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
    await client.close();

    client = await inProcessClient(env);
    const promptLength = byTurns.promptLength;
    const byTokens = await playEpisode({
      client,
      policy: looping(),
      start: { taskId: task.id },
      sampling,
      maxContextTokens: promptLength + 150,
    });
    await client.close();
    expect(byTokens.status).toBe('truncated');
    expect(byTokens.truncation).toBe('token_budget');
    expect(byTokens.tokens.length).toBeLessThanOrEqual(promptLength + 150 + 40);
    expect(verifyTrajectoryTokens(byTokens, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
  });

  it('records the episode as branches when the template re-renders history differently from what was sampled', async () => {
    const task = await firstTestTask();
    // Like many real templates, this one re-renders assistant turns (here: trims them). The
    // model sampled a leading space, so the re-render no longer extends the token record.
    const trimming = new ChatTemplate(
      HERMES_CHAT_TEMPLATE.replaceAll(
        "'\\n' + message.content + '<|im_end|>'",
        "'\\n' + (message.content | trim) + '<|im_end|>'",
      ),
      {},
      'trimming test template',
    );
    const policy = scriptedTokenPolicyTestDouble(
      tokenizer,
      () => `  ${hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }])}`,
    );
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy,
      template: trimming,
      start: { taskId: task.id },
      sampling,
      maxTurns: 3,
    });
    await client.close();
    expect(t.failure).toBeUndefined();
    expect(t.status).toBe('truncated');
    // Every turn's leading spaces are trimmed in the next prompt: each turn closes a branch.
    expect(t.branches?.length).toBe(2);
    expect(t.turns.map((turn) => turn.branch)).toEqual([0, 1, undefined]);
    const sequences = [...t.branches!, t];
    t.turns.forEach((turn) => {
      const sequence = sequences[turn.branch ?? 2]!;
      expect(tokenizer.decode(sequence.tokens.slice(turn.sampled.start, turn.sampled.end))).toBe(
        `${turn.text}<|im_end|>`,
      );
    });
    // Each later sequence starts from the template's render of the conversation so far: the
    // earlier turns trimmed, and as context only (loss mask 0).
    const second = sequences[1]!;
    expect(tokenizer.decode(second.tokens.slice(0, second.promptLength))).toBe(
      trimming.render(t.messages.slice(0, 3), env.toolSpecs, { addGenerationPrompt: true }),
    );
    expect(second.lossMask.slice(0, second.promptLength).every((m) => m === 0)).toBe(true);
    expect(verifyTrajectoryTokens(t, tokenizer, trimming, env.toolSpecs)).toEqual({ ok: true });

    // Rewritten at the very end: nothing to branch to, and no failure.
    const short = await inProcessClient(env);
    const one = await playEpisode({
      client: short,
      policy: scriptedTokenPolicyTestDouble(tokenizer, () => '  Done.'),
      template: trimming,
      start: { taskId: task.id },
      sampling,
    });
    await short.close();
    expect(one.failure).toBeUndefined();
    expect(one.status).toBe('terminated');
    expect(one.branches).toBeUndefined();
  });

  it('catches at the end a template whose rendering of a turn depends on its position in the conversation', async () => {
    const task = await firstTestTask();
    // Numbers each message by its position: after a system turn the cheap per-turn render on a
    // stand-in conversation numbers every message one too low, consistently from turn to turn,
    // and the full render that closes the episode exposes it.
    const numbering = new ChatTemplate(
      HERMES_CHAT_TEMPLATE.replaceAll(
        "{{- '\\n<tool_response>\\n' }}",
        "{{- '\\n<tool_response>' + (loop.index | string) + '\\n' }}",
      ),
      {},
      'numbering test template',
    );
    expect(numbering.source).not.toBe(HERMES_CHAT_TEMPLATE);
    const client = await inProcessClient(env);
    const policy = scriptedTokenPolicyTestDouble(tokenizer, () =>
      hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }]),
    );
    const t = await playEpisode({
      client,
      policy,
      template: numbering,
      systemPrompt: 'Be brief.',
      start: { taskId: task.id },
      sampling,
      maxTurns: 3,
    });
    await client.close();
    expect(t.status).toBe('failed');
    expect(t.failure?.code).toBe('template_mismatch');
    expect(t.failure?.message).toMatch(/at character \d+/);
  });

  it("ends a turn on any of the model's end tokens and records the one sampled", async () => {
    const task = await firstTestTask();
    const imEnd = tokenizer.specialTokens.get('<|im_end|>')!;
    const endOfText = tokenizer.specialTokens.get('<|endoftext|>')!;
    expect(tokenizer.eosTokenIds).toEqual([imEnd, endOfText]);
    // Qwen2.5 declares both; the template writes <|im_end|> after every assistant turn.
    const ends = [endOfText, imEnd, endOfText];
    const call = hermesToolCalls.render([{ name: 'upper', arguments: { text: 'abc' } }]);
    const requests: GenerateRequest[] = [];
    let turn = 0;
    const policy = {
      id: 'two-ends-test-double',
      version: 0,
      tokenizer,
      async generate(request: GenerateRequest) {
        requests.push('tokens' in request ? { ...request, tokens: [...request.tokens] } : request);
        const tokens = [...tokenizer.encode(call), ends[turn++]!];
        return {
          text: call,
          tokens,
          logprobs: tokens.map(() => -0.5),
          finishReason: 'stop' as const,
          policyVersion: 0,
        };
      },
    };
    const client = await inProcessClient(env);
    const t = await playEpisode({ client, policy, start: { taskId: task.id }, sampling, maxTurns: 3 });
    await client.close();
    expect(t.failure).toBeUndefined();
    expect(t.status).toBe('truncated');
    expect(t.branches).toBeUndefined();
    expect(t.turns.map((x) => x.stopTokenId)).toEqual(ends);
    expect(t.turns.map((x) => t.tokens[x.sampled.end - 1])).toEqual(ends);
    expect(t.turns.map((x) => x.text)).toEqual([call, call, call]);
    // The next turn continues from the token the model sampled, and the observation is the
    // template's text after its own end token.
    const next = requests[1]! as Extract<GenerateRequest, { tokens: TokenIds }>;
    expect(next.tokens[t.turns[0]!.sampled.end - 1]).toBe(endOfText);
    expect(
      tokenizer.decode(t.tokens.slice(t.turns[0]!.observation.start, t.turns[0]!.observation.end)),
    ).toMatch(/^\n<\|im_start\|>user\n<tool_response>/);
    expect(verifyTrajectoryTokens(t, tokenizer, template, env.toolSpecs)).toEqual({ ok: true });
  });

  it('verifyTrajectoryTokens reports a trajectory whose tokens were re-tokenised or whose mask is wrong', async () => {
    const task = await firstTestTask();
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOraclePolicy({ tokenizer }),
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    const changed = structuredClone(t);
    changed.tokens[t.promptLength + 2] = 'Z'.charCodeAt(0);
    const check = verifyTrajectoryTokens(changed, tokenizer, template, env.toolSpecs);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toContain('decode differently');
    const masked = structuredClone(t);
    masked.lossMask[0] = 1;
    expect(verifyTrajectoryTokens(masked, tokenizer, template, env.toolSpecs)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('loss mask'),
    });
  });
});

describe('agent loop, message mode (text-only)', () => {
  it('plays random and oracle policies without a tokenizer; trajectories are text-only', async () => {
    const task = await firstTestTask();
    let client = await inProcessClient(env);
    const oracle = await playEpisode({
      client,
      policy: createOraclePolicy(),
      start: { taskId: task.id, seed: 1 },
      sampling,
    });
    expect(oracle.tokenization).toBe('text-only');
    expect(oracle.tokens.length).toBe(0);
    expect(oracle.reward.components.correct).toBe(1);
    await client.close();

    client = await inProcessClient(env);
    const random = await playEpisode({
      client,
      policy: createRandomPolicy(),
      start: { taskId: task.id, seed: 1 },
      sampling,
    });
    await client.close();
    expect(random.status).not.toBe('failed');
    expect(random.turns.length).toBeGreaterThan(0);
    // Random arguments satisfy the schemas: no call is refused for its arguments.
    expect(
      random.turns.flatMap((x) => x.toolResults).filter((r) => r.content.startsWith('Invalid arguments')),
    ).toEqual([]);

    // Same task and seed → same random calls.
    client = await inProcessClient(env);
    const again = await playEpisode({
      client,
      policy: createRandomPolicy(),
      start: { taskId: task.id, seed: 1 },
      sampling,
    });
    await client.close();
    expect(again.turns.map((x) => x.toolCalls)).toEqual(random.turns.map((x) => x.toolCalls));
  });

  it('native tool calls (OpenAI shape) skip text parsing', async () => {
    const task = await firstTestTask();
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: createOraclePolicy({ toolFormat: 'native' }),
      start: { taskId: task.id },
      sampling,
    });
    await client.close();
    expect(t.reward.components.correct).toBe(1);
    expect(t.turns[0]!.text).toBe('');
    expect(t.turns[0]!.toolCalls.length).toBe(1);
  });
});

import type { Message } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { TemplateMismatchError } from '../src/errors.ts';
import { byteTokenizerConfig, byteTokenizerId, byteTokenizerJson } from '../src/model/byte-tokenizer.ts';
import { HuggingFaceTokenizer } from '../src/model/hf-tokenizer.ts';
import { encodePieces, tokenPattern } from '../src/piece-encoder.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { TokenLedger } from '../src/token-ledger.ts';
import {
  FULL_CHECK_EVERY,
  fillLayout,
  layoutAfter,
  learnLayout,
  RenderCache,
  SpecialTokens,
  TurnRenderer,
} from '../src/turn-renderer.ts';
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

describe('the piece encoder tokenizes piece by piece', () => {
  it('between boundary tokens, exactly as the tokenizer tokenizes the whole text', () => {
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
    expect(encodePieces(tokenizer, text)).toEqual(tokenizer.encode(text));
    // The second time every piece comes from the memo.
    expect(encodePieces(tokenizer, text)).toEqual(tokenizer.encode(text));
  });

  it('never splits at an added token that strips the whitespace beside it', () => {
    const json = byteTokenizerJson(['<mark>']);
    const added = json.added_tokens as Array<Record<string, unknown>>;
    Object.assign(added.find((t) => t.content === '<mark>')!, { lstrip: true, rstrip: true });
    const stripping = new HuggingFaceTokenizer(json, byteTokenizerConfig(4096, ['<mark>']), []);
    const text = 'a  <mark>  b<|im_start|>user\nc';
    expect(encodePieces(stripping, text)).toEqual(stripping.encode(text));
    expect(stripping.boundaryTokens.has('<mark>')).toBe(false);
  });
});

describe("a run renders its prompts from the template's layout", () => {
  const prompts = (system: string | undefined, contents: readonly string[]): Message[][] =>
    contents.map((content) => [
      ...(system !== undefined ? [{ role: 'system' as const, content: system }] : []),
      { role: 'user' as const, content },
    ]);
  const contents = [
    'Compute upper("ab  c").',
    '  leading and trailing spaces  \n',
    'quotes " \' & <b>tags</b> {{ not jinja }} {% raw %}',
    'żółw 🐢 — non-ASCII',
  ];
  /** The prompt's ids through a run's renderer, and through Jinja and the tokenizer. */
  const both = (chat: ChatTemplate, tools: typeof env.toolSpecs, cache: RenderCache, messages: Message[]) => {
    const renderer = new TurnRenderer(chat, tokenizer, tools, 'window', cache);
    return {
      fast: Array.from(renderer.prompt(new TokenLedger(tokenizer), messages).tokens),
      jinja: tokenizer.encode(chat.render(messages, tools, { addGenerationPrompt: true })),
    };
  };

  for (const [name, chat] of [
    ['the byte model', template],
    ['built-in hermes', ChatTemplate.hermes()],
  ] as const)
    for (const tools of [env.toolSpecs, []])
      for (const system of [undefined, 'You are terse.'])
        it(`gives Jinja's ids: ${name} template, ${tools.length} tools, ${system ? 'a' : 'no'} system turn`, () => {
          const cache = new RenderCache();
          for (const messages of prompts(system, contents)) {
            const { fast, jinja } = both(chat, tools, cache, messages);
            expect(fast).toEqual(jinja);
          }
          // One layout was learned and used for every prompt, not skipped.
          expect([...cache.layouts.values()].map((l) => l?.uses)).toEqual([contents.length]);
        });

  it('a template that trims or escapes its content has no layout, and renders with Jinja', () => {
    for (const filter of ['trim', `replace('"', '&quot;')`]) {
      const chat = new ChatTemplate(
        `{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | ${filter} }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n`,
      );
      const user = (content: string) =>
        chat.render([{ role: 'user', content }], [], { addGenerationPrompt: true });
      expect(learnLayout((mark) => user(mark(0)), 1)).toBeNull();
      const cache = new RenderCache();
      for (const messages of prompts(undefined, contents)) {
        const { fast, jinja } = both(chat, [], cache, messages);
        expect(fast).toEqual(jinja);
      }
    }
  });

  it('content with a special token has a layout of its own, with the token in place (templates test contents for them)', () => {
    // Qwen3 renders a user turn that starts with <tool_response> as a tool result.
    const chat = new ChatTemplate(
      "{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content.startswith('<tool_call>') %}TOOL {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n",
    );
    const cache = new RenderCache();
    const contents = ['plain', '<tool_call>looks like a call', 'plain again', '<tool_call>another call'];
    for (const messages of prompts(undefined, contents)) {
      const { fast, jinja } = both(chat, [], cache, messages);
      expect(fast).toEqual(jinja);
    }
    expect([...cache.layouts.values()].map((l) => l?.uses)).toEqual([2, 2]);
  });

  it('a layout that depends on the content fails loudly at the periodic check', () => {
    const chat = new ChatTemplate(
      '{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content | length > 40 %}LONG {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n',
    );
    const cache = new RenderCache();
    const renderer = new TurnRenderer(chat, tokenizer, [], 'window', cache);
    const prompt = (content: string) =>
      renderer.prompt(new TokenLedger(tokenizer), [{ role: 'user', content }]);
    // The first prompt is short: the layout checks out against Jinja and is kept.
    expect(tokenizer.decode(Array.from(prompt('short').tokens))).toBe(
      '<|im_start|>user\nshort<|im_end|>\n<|im_start|>assistant',
    );
    for (let i = 1; i < FULL_CHECK_EVERY; i++) prompt(`a long prompt, over forty characters, number ${i}`);
    expect(() => prompt('a long prompt, over forty characters, the checked one')).toThrow(
      TemplateMismatchError,
    );
  });
});

describe("a run renders each turn's window from the template's layout", () => {
  it('finds special tokens where splitting at their pattern does: leftmost, then longest, overlaps included', () => {
    const tokens = ['<a>', '<ab>', '<', 'b<a', '>>', '>'];
    const special = new SpecialTokens(tokens);
    const pattern = tokenPattern(tokens)!;
    const split = (text: string) => {
      const pieces: string[] = [];
      let from = 0;
      for (let at = special.find(text, 0); at >= 0; at = special.find(text, from)) {
        pieces.push(text.slice(from, at), special.token);
        from = at + special.token.length;
      }
      pieces.push(text.slice(from));
      return pieces;
    };
    const alphabet = ['<', 'a', 'b', '>', 'x'];
    // Every text of up to six characters over an alphabet that makes tokens overlap and nest.
    let texts = [''];
    for (let length = 1; length <= 6; length++) {
      texts = texts.flatMap((t) => alphabet.map((c) => t + c));
      for (const text of texts) expect(split(text)).toEqual(text.split(pattern));
    }
  });

  it('reads what a filled layout holds after the turns it must start with, as the filled text does, wherever they part', () => {
    const layout = { parts: ['<a>', '', '|ż|', '</a>\n'], slots: [2, 0, 1] };
    const values = ['xy', '', 'héad'];
    const text = fillLayout(layout, values);
    expect(text).toBe('<a>héad' + 'xy' + '|ż|' + '' + '</a>\n');
    // Every way of cutting every prefix of the text into held strings (empty ones included),
    // and prefixes that part from it anywhere.
    for (let end = 0; end <= text.length; end++)
      for (let cut = 0; cut <= end; cut++) {
        const held = [text.slice(0, cut), '', text.slice(cut, end)];
        expect(layoutAfter(layout, values, held)).toBe(text.slice(end));
        if (end < text.length) {
          const wrong = [text.slice(0, cut), `${text.slice(cut, end)}?`];
          expect(layoutAfter(layout, values, wrong)).toBeUndefined();
        }
      }
    expect(layoutAfter(layout, values, [text, 'more'])).toBeUndefined();
    expect(layoutAfter(layout, values, [])).toBe(text);
  });

  /** Turns with whitespace, quotes, non-ASCII and reasoning, ending in an answer. */
  const turnText = (episode: number) => (turn: number) =>
    turn < 3
      ? `Step ${turn} of ${episode}: "quotes" & <b>tags</b>\n</think>\n\n${hermesToolCalls.render([
          { name: turn === 1 ? 'reverse' : 'upper', arguments: { text: `żółw  ${episode}-${turn} ` } },
        ])}`
      : hermesToolCalls.render([{ name: 'answer', arguments: { answer: 'no' } }]);
  /** One episode's token record: through a run's layouts (window check), or rendered in full by Jinja every turn. */
  const play = async (chat: ChatTemplate, episode: number, fast?: RenderCache) => {
    const task = (await env.tasksOf('test'))[episode % 5]!;
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: scriptedTokenPolicyTestDouble(tokenizer, turnText(episode)),
      template: chat,
      start: { taskId: task.id, seed: episode },
      sampling,
      ...(fast
        ? { renderCache: fast, templateCheck: 'window' as const }
        : { templateCheck: 'full' as const }),
    });
    await client.close();
    return t;
  };
  const record = (t: Awaited<ReturnType<typeof play>>) => ({
    status: t.status,
    failure: t.failure,
    tokens: t.tokens,
    lossMask: t.lossMask,
    branches: t.branches?.map((b) => b.tokens),
  });
  /** Windows have an assistant turn in them; prompts do not. */
  const windowUses = (cache: RenderCache) =>
    [...cache.layouts]
      .filter(([key, l]) => key.includes('assistant\0') && l)
      .reduce((s, [, l]) => s + l!.uses, 0);

  const templates: Array<[string, ChatTemplate, boolean]> = [
    ['the byte model', template, true],
    ['built-in hermes', ChatTemplate.hermes(), true],
    [
      'a template that writes tool names and call ids',
      new ChatTemplate(
        '{%- for m in messages %}{% if m.role == "tool" %}<|im_start|>tool name={{ m.name }} id={{ m.tool_call_id }}\n{{ m.content }}<|im_end|>\n{% else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
      ),
      true,
    ],
    [
      'a reasoning-stripping template',
      new ChatTemplate(
        "{%- for m in messages %}{% if m.role == 'assistant' %}<|im_start|>assistant\n{{ m.content.split('</think>')[-1] | trim }}<|im_end|>\n{% else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
      ),
      false,
    ],
  ];
  for (const [name, chat, hasLayout] of templates)
    it(`gives the ids of a full Jinja render every turn: ${name}`, async () => {
      const cache = new RenderCache();
      for (let episode = 0; episode < 4; episode++) {
        const fast = await play(chat, episode, cache);
        expect(fast.turns.length).toBe(4);
        expect(record(fast)).toEqual(record(await play(chat, episode)));
      }
      // The windows were rendered from layouts, not by Jinja. A template that rewrites history has
      // none for turns with reasoning; only each episode's last window (its answer turn has none) has one.
      expect(windowUses(cache)).toBe(hasLayout ? 4 * 4 : 4);
    });

  it('a window layout that depends on the content fails the episode loudly at the periodic check', async () => {
    const chat = new ChatTemplate(
      '{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == "tool" and m.content | length > 40 %}LONG {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
    );
    const cache = new RenderCache();
    const policy = (text: string) =>
      scriptedTokenPolicyTestDouble(tokenizer, (turn) =>
        hermesToolCalls.render([
          turn === 0
            ? { name: 'upper', arguments: { text } }
            : { name: 'answer', arguments: { answer: 'no' } },
        ]),
      );
    const task = (await env.tasksOf('test'))[0]!;
    const failures: Array<string | undefined> = [];
    // The first episode's tool output is short: the layout checks out against Jinja and is kept.
    for (let episode = 0; episode <= FULL_CHECK_EVERY; episode++) {
      const client = await inProcessClient(env);
      const t = await playEpisode({
        client,
        policy: policy(episode === 0 ? 'short' : `a tool output over forty characters, number ${episode}`),
        template: chat,
        start: { taskId: task.id, seed: episode },
        sampling,
        renderCache: cache,
      });
      await client.close();
      failures.push(t.failure?.code);
    }
    expect(failures.at(-1)).toBe('template_mismatch');
  });

  it('checks the first episode of each conversation shape in full: a template that depends on a position fails the first episode that reaches it', async () => {
    // Marks the seventh message: the two-turn window and the prompt never hold one there.
    const chat = new ChatTemplate(
      '{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if loop.index0 == 6 %}SEVENTH {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
    );
    const cache = new RenderCache();
    const task = (await env.tasksOf('test'))[0]!;
    /** An episode of `calls` calls of `upper`, then the answer: 2 + 2·calls messages before the answer's result. */
    const play = async (calls: number, seed: number) => {
      const client = await inProcessClient(env);
      const t = await playEpisode({
        client,
        policy: scriptedTokenPolicyTestDouble(tokenizer, (turn) =>
          hermesToolCalls.render([
            turn < calls
              ? { name: 'upper', arguments: { text: `t${turn}` } }
              : { name: 'answer', arguments: { answer: 'no' } },
          ]),
        ),
        template: chat,
        start: { taskId: task.id, seed },
        sampling,
        renderCache: cache,
      });
      await client.close();
      return t;
    };
    // Short episodes have no seventh message: they check out, the first of them in full.
    for (let seed = 0; seed < 5; seed++) expect((await play(1, seed)).failure).toBeUndefined();
    // The first longer one is a new shape, checked in full though no periodic check is due.
    const long = await play(2, 5);
    expect(long.status).toBe('failed');
    expect(long.failure?.code).toBe('template_mismatch');
    expect(long.failure?.message).toContain('SEVENTH');
  });
});

describe('the periodic full check renders the tool list only to decide a mismatch', () => {
  /** A Hermes-like template with a tool list; its assistant turns are marked when the system turn is 'strict'. */
  const strictTemplate = (source = '') =>
    new ChatTemplate(
      `${source}{%- if tools %}<|im_start|>system\nTools:{% for t in tools %} {{ t.function.name }}{% endfor %}<|im_end|>\n{% endif %}` +
        `{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' and messages[0].content == 'strict' %}STRICT {% endif %}{{ m.content }}<|im_end|>\n{% endfor %}` +
        '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
    );
  /** Counts the template's renders with a tool list and without one. */
  const counted = (chat: ChatTemplate) => {
    const renders = { withTools: 0, without: 0 };
    const render = chat.render.bind(chat);
    chat.render = (messages, tools, options) => {
      if (tools.length > 0) renders.withTools++;
      else renders.without++;
      return render(messages, tools, options);
    };
    return renders;
  };
  /** FULL_CHECK_EVERY + 1 two-turn episodes on one render cache; `system(episode)` is each one's system turn. */
  const run = async (
    chat: ChatTemplate,
    system: (episode: number) => string,
    onEpisode?: (episode: number) => void,
  ) => {
    const cache = new RenderCache();
    const task = (await env.tasksOf('test'))[0]!;
    const client = await inProcessClient(env);
    const failures: Array<{ code: string; message: string } | undefined> = [];
    for (let episode = 0; episode <= FULL_CHECK_EVERY; episode++) {
      onEpisode?.(episode);
      const t = await playEpisode({
        client,
        policy: scriptedTokenPolicyTestDouble(tokenizer, (turn) =>
          hermesToolCalls.render([
            turn === 0
              ? { name: 'upper', arguments: { text: `t${episode % 3}` } }
              : { name: 'answer', arguments: { answer: 'no' } },
          ]),
        ),
        template: chat,
        systemPrompt: system(episode),
        start: { taskId: task.id, seed: episode },
        sampling,
        renderCache: cache,
      });
      failures.push(t.failure);
    }
    await client.close();
    return failures;
  };

  it('passes a steady run without rendering the tool list after its first episode', async () => {
    const chat = strictTemplate();
    const renders = counted(chat);
    let withToolsAfterFirst = 0;
    let withoutAtPeriodic = 0;
    const failures = await run(
      chat,
      () => 'relaxed',
      (episode) => {
        if (episode === 1) withToolsAfterFirst = renders.withTools;
        if (episode === FULL_CHECK_EVERY) withoutAtPeriodic = renders.without;
      },
    );
    expect(failures.every((f) => f === undefined)).toBe(true);
    // The first episode learned the prompt's layout and checked its shape in full, with the tools.
    expect(withToolsAfterFirst).toBeGreaterThan(0);
    // The periodic check at the last episode rendered (without the tools: the prompt's messages, then
    // all of them), and nothing after the first episode rendered the tool list.
    expect(renders.without).toBeGreaterThanOrEqual(withoutAtPeriodic + 2);
    expect(renders.withTools).toBe(withToolsAfterFirst);
  });

  it('fails the episode whose turns render by content the window cannot see, deciding with the tool list', async () => {
    const chat = strictTemplate();
    const renders = counted(chat);
    let withToolsBeforeLast = 0;
    // Only the last episode's system turn is 'strict': the windows (on a stand-in) never see it,
    // and neither does the first episode's full check.
    const failures = await run(
      chat,
      (episode) => (episode === FULL_CHECK_EVERY ? 'strict' : 'relaxed'),
      (episode) => {
        if (episode === FULL_CHECK_EVERY) withToolsBeforeLast = renders.withTools;
      },
    );
    expect(failures.slice(0, -1).every((f) => f === undefined)).toBe(true);
    expect(failures.at(-1)?.code).toBe('template_mismatch');
    expect(failures.at(-1)?.message).toContain('STRICT');
    expect(renders.withTools).toBeGreaterThan(withToolsBeforeLast);
  });

  it('falls back to the render with the tool list for a template that refuses an empty one', async () => {
    // Without tools this template fails to render: every window and check renders in full.
    const chat = strictTemplate(
      "{%- if not tools %}{{ raise_exception('this template needs tools') }}{% endif %}",
    );
    const failures = await run(chat, () => 'relaxed');
    expect(failures.every((f) => f === undefined)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { HERMES_CHAT_TEMPLATE } from '../src/chat/hermes-template.ts';
import { TokenLedger } from '../src/token-ledger.ts';
import { RenderCache, TurnRenderer } from '../src/turn-renderer.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment } from './helpers.test-double.ts';

const tokenizer = new ByteTokenizerTestDouble();
const tools = composeEnvironment().toolSpecs;
const conversations = [
  [{ role: 'user' as const, content: 'Reverse "abc".' }],
  [{ role: 'user' as const, content: '  Upper-case\n"x y"  ' }],
];

describe('prompts within a run', () => {
  it('render the text around the task once, and equal the full render', () => {
    const template = ChatTemplate.hermes();
    const cache = new RenderCache();
    for (const messages of conversations) {
      const prompt = new TurnRenderer(template, tokenizer, tools, 'window', cache).prompt(
        new TokenLedger(tokenizer),
        messages,
      );
      const full = template.render(messages, tools, { addGenerationPrompt: true });
      expect(prompt.text).toBe(full);
      expect(tokenizer.decode(prompt.tokens)).toBe(full);
    }
    expect([...cache.frames.values()]).toEqual([expect.objectContaining({ after: expect.any(String) })]);
  });

  it('render in full when the template changes the task text (here: trims it)', () => {
    const template = new ChatTemplate(
      HERMES_CHAT_TEMPLATE.replaceAll('message.content', '(message.content | trim)'),
      {},
      'trimming test template',
    );
    const cache = new RenderCache();
    const messages = conversations[1]!;
    const prompt = new TurnRenderer(template, tokenizer, tools, 'window', cache).prompt(
      new TokenLedger(tokenizer),
      messages,
    );
    expect(prompt.text).toBe(template.render(messages, tools, { addGenerationPrompt: true }));
    expect(prompt.text).toContain('<|im_start|>user\nUpper-case\n"x y"<|im_end|>');
    expect([...cache.frames.values()]).toEqual([null]);
  });
});

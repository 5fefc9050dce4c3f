import { describe, expect, it } from 'vitest';
import { ChatTemplateError } from '../errors.ts';
import { ChatTemplate } from './chat-template.ts';

const tools = [
  {
    name: 'reverse',
    description: 'Reverse the string.',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  },
];

describe('ChatTemplate', () => {
  it('the built-in Hermes template renders tools, verbatim assistant turns, grouped tool responses and the generation prompt', () => {
    const text = ChatTemplate.hermes().render(
      [
        { role: 'user', content: 'Reverse abc.' },
        {
          role: 'assistant',
          content: '<tool_call>\n{"name": "reverse", "arguments": {"text": "abc"}}\n</tool_call>',
        },
        { role: 'tool', content: 'cba', toolCallId: 'c0', name: 'reverse' },
        { role: 'tool', content: 'second' },
      ],
      tools,
      { addGenerationPrompt: true },
    );
    expect(text.startsWith('<|im_start|>system\n')).toBe(true);
    expect(text).toContain(
      '<tools>\n{"type": "function", "function": {"name": "reverse", "description": "Reverse the string."',
    );
    expect(text).toContain(
      '<|im_start|>assistant\n<tool_call>\n{"name": "reverse", "arguments": {"text": "abc"}}\n</tool_call><|im_end|>\n',
    );
    expect(text).toContain(
      '<|im_start|>user\n<tool_response>\ncba\n</tool_response>\n<tool_response>\nsecond\n</tool_response><|im_end|>\n',
    );
    expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it("renders a model's own template from tokenizer_config.json, with bos/eos variables and named templates", () => {
    const single = ChatTemplate.fromTokenizerConfig({
      chat_template:
        '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}',
      bos_token: { content: '<s>' },
      eos_token: '</s>',
    });
    expect(single.render([{ role: 'user', content: 'hi' }], [], { addGenerationPrompt: true })).toBe(
      '<s>[user]hi</s>[assistant]',
    );
    const named = ChatTemplate.fromTokenizerConfig({
      chat_template: [
        { name: 'default', template: 'default' },
        { name: 'tool_use', template: '{{ tools | length }} tools' },
      ],
    });
    expect(named.render([], tools, { addGenerationPrompt: false })).toBe('1 tools');
  });

  it('fails with a configuration error naming the problem: no template, unparsable, or a template that raises', () => {
    expect(() => ChatTemplate.fromTokenizerConfig({}, 'm/tokenizer_config.json')).toThrow(
      /m\/tokenizer_config.json has no chat_template/,
    );
    expect(() => new ChatTemplate('{% for %}', {}, 'broken')).toThrow(ChatTemplateError);
    const strict = new ChatTemplate("{{ raise_exception('roles must alternate') }}", {}, 'strict');
    expect(() => strict.render([{ role: 'user', content: 'x' }], [], { addGenerationPrompt: false })).toThrow(
      /strict failed to render: .*roles must alternate/,
    );
  });
});

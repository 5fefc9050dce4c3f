import { describe, expect, it } from 'vitest';
import { hermesToolCalls } from './hermes-tool-calls.ts';
import { openaiToolCalls } from './openai-tool-calls.ts';

const calls = [
  {
    name: 'search',
    arguments: { query: 'capital of "Aruba"', k: 3, filters: { lang: ['en', 'nl'] }, exact: false },
  },
  { name: 'answer', arguments: { answer: 'Oranjestad\nä€😀' } },
];

describe('Hermes tool calls', () => {
  it('round-trips any number of calls, keeping the prose', () => {
    const text = `I will look it up.\n${hermesToolCalls.render(calls)}`;
    expect(text).toContain(
      '<tool_call>\n{"name": "search", "arguments": {"query": "capital of \\"Aruba\\"", "k": 3,',
    );
    const parsed = hermesToolCalls.parse(text, 'c');
    expect(parsed.errors).toEqual([]);
    expect(parsed.content).toBe('I will look it up.');
    expect(parsed.calls).toEqual(calls.map((c, i) => ({ id: `c-${i}`, ...c })));
  });

  it('reads arguments given as a JSON string, and `parameters` for `arguments`', () => {
    const parsed = hermesToolCalls.parse(
      '<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call><tool_call>{"name": "b", "parameters": {"y": 2}}</tool_call>',
      't',
    );
    expect(parsed.calls.map((c) => c.arguments)).toEqual([{ x: 1 }, { y: 2 }]);
  });

  it('reports each malformed call with a code and a message that says what to fix', () => {
    const parsed = hermesToolCalls.parse(
      [
        '<tool_call>{"name": "a", "arguments": {"x": 1}</tool_call>', // bad JSON
        '<tool_call>["a"]</tool_call>',
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": "a", "arguments": [1]}</tool_call>',
        '<tool_call>{"name": "a", "arguments": "not json"}</tool_call>',
        '<tool_call>{"name": "ok", "arguments": {}}</tool_call>',
        '<tool_call>{"name": "cut", "argu',
      ].join('\n'),
      't',
    );
    expect(parsed.errors.map((e) => e.code)).toEqual([
      'invalid_json',
      'call_not_object',
      'missing_name',
      'arguments_not_object',
      'invalid_json',
      'unclosed_tool_call',
    ]);
    expect(parsed.errors[5]!.message).toContain('</tool_call>');
    expect(parsed.calls.map((c) => c.name)).toEqual(['ok']);
  });

  /** Malformed shapes models write, each with the code it must get and what the message must name. */
  const catalogue: Array<[shape: string, text: string, codes: string[], says: RegExp, calls?: string[]]> = [
    [
      'truncated JSON',
      '<tool_call>{"name": "upper", "arguments": {"text": "ab</tool_call>',
      ['invalid_json'],
      /not valid JSON/,
    ],
    [
      'cut off before the closing tag',
      '<tool_call>{"name": "upper", "argu',
      ['unclosed_tool_call'],
      /<\/tool_call>/,
    ],
    [
      'closing tag without opening',
      '{"name": "upper", "arguments": {}}</tool_call>',
      ['unopened_tool_call'],
      /<tool_call>\{"name"/,
    ],
    ['empty block', '<tool_call>\n</tool_call>', ['invalid_json'], /not valid JSON/],
    [
      'wrong keys (function/args)',
      '<tool_call>{"function": "upper", "args": {"text": "a"}}</tool_call>',
      ['missing_name'],
      /keys: function, args/,
    ],
    [
      'wrong argument key (args)',
      '<tool_call>{"name": "upper", "args": {"text": "a"}}</tool_call>',
      ['unexpected_keys'],
      /\(args\)/,
    ],
    [
      'name not a string',
      '<tool_call>{"name": 3, "arguments": {}}</tool_call>',
      ['missing_name'],
      /"name" string/,
    ],
    [
      'unescaped nested quotes',
      '<tool_call>{"name": "upper", "arguments": {"text": "say "hi""}}</tool_call>',
      ['invalid_json'],
      /not valid JSON/,
    ],
    [
      'single quotes (Python dict)',
      "<tool_call>{'name': 'upper', 'arguments': {}}</tool_call>",
      ['invalid_json'],
      /not valid JSON/,
    ],
    [
      'trailing text after the object',
      '<tool_call>{"name": "upper", "arguments": {}} thanks</tool_call>',
      ['invalid_json'],
      /not valid JSON/,
    ],
    [
      'arguments a list',
      '<tool_call>{"name": "upper", "arguments": ["a"]}</tool_call>',
      ['arguments_not_object'],
      /must be a JSON object/,
    ],
    [
      'arguments a string that is not JSON',
      '<tool_call>{"name": "upper", "arguments": "text=a"}</tool_call>',
      ['invalid_json'],
      /string that is not JSON/,
    ],
    [
      'a call inside the reasoning',
      '<think>maybe <tool_call>{"name": "upper", "arguments": {}}</tool_call></think>Done.',
      ['call_in_reasoning'],
      /after <\/think>/,
    ],
    [
      'a call in reasoning the generation prompt opened',
      'try <tool_call>{"name": "a", "arguments": {}}</tool_call>\n</think>\n<tool_call>{"name": "b", "arguments": {}}</tool_call>',
      ['call_in_reasoning'],
      /not run/,
      ['b'],
    ],
    [
      'reasoning never closed',
      '<think>I will call <tool_call>{"name": "a", "arguments": {}}</tool_call>',
      ['call_in_reasoning'],
      /not run/,
    ],
    [
      'one good call and one bad',
      '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n<tool_call>{"name": "b", "arguments": {</tool_call>',
      ['invalid_json'],
      /not valid JSON/,
      ['a'],
    ],
  ];

  it.each(catalogue)(
    '%s: a parse error that says what was wrong, never a crash',
    (_, text, codes, says, names = []) => {
      const parsed = hermesToolCalls.parse(text, 't');
      expect(parsed.errors.map((e) => e.code)).toEqual(codes);
      expect(parsed.errors.map((e) => e.message).join('\n')).toMatch(says);
      expect(parsed.calls.map((c) => c.name)).toEqual(names);
    },
  );

  it('reads several calls in one turn, in blocks or as a list in one block, and escaped quotes inside strings', () => {
    const parsed = hermesToolCalls.parse(
      [
        '<tool_call>{"name": "a", "arguments": {"q": "say \\"hi\\" \\\\ </x>"}}</tool_call>',
        '<tool_call>[{"name": "b", "arguments": {}}, {"name": "c", "arguments": {}}]</tool_call>',
      ].join('\n'),
      't',
    );
    expect(parsed.errors).toEqual([]);
    expect(parsed.calls.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect(parsed.calls.map((c) => c.id)).toEqual(['t-0', 't-1', 't-2']);
    expect(parsed.calls[0]!.arguments).toEqual({ q: 'say "hi" \\ </x>' });
  });

  it('text without calls is all content', () => {
    expect(hermesToolCalls.parse('  The answer is 4.  ', 't')).toEqual({
      content: 'The answer is 4.',
      calls: [],
      errors: [],
    });
  });
});

describe('OpenAI native tool calls', () => {
  it('round-trips calls through the wire shape (arguments as a JSON string)', () => {
    const withIds = calls.map((c, i) => ({ id: `call_${i}`, ...c }));
    const wire = openaiToolCalls.render(withIds);
    expect(wire[0]).toEqual({
      id: 'call_0',
      type: 'function',
      function: { name: 'search', arguments: JSON.stringify(calls[0]!.arguments) },
    });
    expect(openaiToolCalls.parse(JSON.parse(JSON.stringify(wire)), 'x')).toEqual({
      calls: withIds,
      errors: [],
    });
  });

  it('malformed wire calls become parse errors', () => {
    const parsed = openaiToolCalls.parse(
      [
        { id: '1', type: 'function', function: { name: 'a', arguments: '{"x": ' } },
        { id: '2', type: 'function', function: { arguments: '{}' } },
        { id: '3', type: 'function', function: { name: 'b', arguments: '[]' } },
      ],
      'x',
    );
    expect(parsed.errors.map((e) => e.code)).toEqual([
      'invalid_json',
      'missing_name',
      'arguments_not_object',
    ]);
    expect(openaiToolCalls.parse({ not: 'a list' }, 'x').errors[0]!.code).toBe('invalid_tool_calls');
  });

  it('converts tools and a conversation to the OpenAI request shape', () => {
    expect(openaiToolCalls.tools([{ name: 't', description: 'd', inputSchema: { type: 'object' } }])).toEqual(
      [{ type: 'function', function: { name: 't', description: 'd', parameters: { type: 'object' } } }],
    );
    const messages = openaiToolCalls.messages([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 't', arguments: { a: 1 } }] },
      { role: 'tool', content: 'ok', toolCallId: 'c1', name: 't' },
    ]);
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 't', arguments: '{"a":1}' } }],
    });
    expect(messages[2]).toEqual({ role: 'tool', content: 'ok', tool_call_id: 'c1', name: 't' });
  });
});

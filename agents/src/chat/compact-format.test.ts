import type { ToolSpec } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { CompactFormatError, compactArguments, compactToolCalls } from './compact-format.ts';

const tool = (name: string, properties: Record<string, { type: string }>): ToolSpec => ({
  name,
  description: '',
  inputSchema: { type: 'object', properties },
});
/** code's tools: one string argument, two arguments, none, one optional non-string. */
const TOOLS = [
  tool('run_python', { code: { type: 'string' } }),
  tool('write_file', { path: { type: 'string' }, content: { type: 'string' } }),
  tool('run_tests', {}),
  tool('submit', { answer: { type: 'integer' } }),
];
const format = compactToolCalls(compactArguments(TOOLS));

describe('the compact call format', () => {
  it('writes a one-string tool as name:value and any other as name:{JSON}', () => {
    expect([...compactArguments(TOOLS)]).toEqual([
      ['run_python', 'code'],
      ['write_file', null],
      ['run_tests', null],
      ['submit', null],
    ]);
    const content = 'def f(x):\n    return "a:b" + x  # </tool\n';
    const calls = [
      { name: 'run_python', arguments: { code: 'print(1)' } },
      { name: 'write_file', arguments: { path: 'solution.py', content } },
      { name: 'run_tests', arguments: {} },
    ];
    const text = format.render(calls);
    expect(text).toBe(
      `<tool_call>run_python:print(1)</tool_call><tool_call>write_file:${JSON.stringify({ path: 'solution.py', content })}</tool_call><tool_call>run_tests:{}</tool_call>`,
    );
    const read = format.parse(text, 'call-0');
    expect(read.errors).toEqual([]);
    expect(read.calls).toEqual(calls.map((c, i) => ({ id: `call-0-${i}`, ...c })));
  });

  it('reads a malformed call as an error the model sees, and keeps reading the others', () => {
    const read = format.parse(
      [
        '<tool_call>write_file:{"path": "a.py", content}</tool_call>',
        '<tool_call>submit:[3]</tool_call>',
        '<tool_call>run_tests</tool_call>',
        '<tool_call>rm:-rf</tool_call>',
        '<tool_call>submit:{"answer": 3}</tool_call>',
      ].join(''),
      'call-1',
    );
    expect(read.errors.map((e) => e.code)).toEqual([
      'invalid_json',
      'arguments_not_object',
      'missing_argument',
      'unknown_tool',
    ]);
    expect(read.errors[2]!.message).toBe('write run_tests:{...}, its arguments as a JSON object');
    expect(read.calls).toEqual([{ id: 'call-1-0', name: 'submit', arguments: { answer: 3 } }]);
  });

  it('refuses to write a call to a tool it was not made for', () => {
    expect(() => format.render([{ name: 'rm', arguments: {} }])).toThrow(CompactFormatError);
  });
});

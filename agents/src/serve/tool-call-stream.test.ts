import { describe, expect, it } from 'vitest';
import { compactToolCalls, compactArguments } from '../chat/compact-format.ts';
import { hermesToolCalls } from '../chat/hermes-tool-calls.ts';
import type { ToolCallFormat } from '../chat/tool-call-format.ts';
import { contentAndCalls, type ReplyPiece, ToolCallStream } from './tool-call-stream.ts';

const compact = compactToolCalls(
  compactArguments(
    ['reverse', 'upper'].map((name) => ({
      name,
      description: '',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
    })),
  ),
);

/** The reply read whole, then read in every split into pieces of `size` characters. */
function read(format: ToolCallFormat, text: string, size = text.length) {
  const stream = new ToolCallStream(format);
  const pieces: ReplyPiece[] = [];
  for (let at = 0; at < text.length; at += size) pieces.push(...stream.push(text.slice(at, at + size)));
  pieces.push(...stream.end());
  const { content, calls } = contentAndCalls(pieces);
  return { content, calls: calls.map((c) => [c.name, c.arguments]) };
}

describe('reading tool calls out of a reply', () => {
  it('Hermes: prose, then each readable block as one call; the whitespace around calls is not content', () => {
    const text =
      'Let me look.\n<tool_call>\n{"name": "search", "arguments": {"q": "x"}}\n</tool_call>\n<tool_call>\n{"name": "open", "arguments": {"id": 3}}\n</tool_call>';
    expect(read(hermesToolCalls, text)).toEqual({
      content: 'Let me look.',
      calls: [
        ['search', { q: 'x' }],
        ['open', { id: 3 }],
      ],
    });
  });

  it('keeps a block it cannot read, and one never closed, as prose, whole', () => {
    expect(read(hermesToolCalls, 'A <tool_call>{"name": oops}</tool_call> B')).toEqual({
      content: 'A <tool_call>{"name": oops}</tool_call> B',
      calls: [],
    });
    expect(read(hermesToolCalls, 'A\n<tool_call>\n{"name": "search", "argu')).toEqual({
      content: 'A\n<tool_call>\n{"name": "search", "argu',
      calls: [],
    });
    // One good block and one bad: the good one is a call, the bad one stays in the content.
    expect(read(compact, '<tool_call>reverse:abc</tool_call><tool_call>rotate:abc</tool_call>')).toEqual({
      content: '<tool_call>rotate:abc</tool_call>',
      calls: [['reverse', { text: 'abc' }]],
    });
  });

  it('a reply without calls is its text, verbatim, whitespace included', () => {
    for (const text of ['  hello\n', 'a < b and <tool', 'no calls here', ''])
      expect(read(hermesToolCalls, text)).toEqual({ content: text, calls: [] });
  });

  it('compact: name:value blocks, prose before and after', () => {
    expect(
      read(compact, 'First this.<tool_call>reverse:abc</tool_call><tool_call>upper:a:b</tool_call> Done.'),
    ).toEqual({
      content: 'First this. Done.',
      calls: [
        ['reverse', { text: 'abc' }],
        ['upper', { text: 'a:b' }],
      ],
    });
    expect(read(compact, '\n<tool_call>upper:x</tool_call>\n')).toEqual({
      content: '',
      calls: [['upper', { text: 'x' }]],
    });
  });

  it('streamed in pieces of any size, a reply reads exactly as it does whole', () => {
    const replies: Array<[ToolCallFormat, string]> = [
      [
        hermesToolCalls,
        'Let me look.\n<tool_call>\n{"name": "search", "arguments": {"q": "</tool"}}\n</tool_call>\nDone <tool',
      ],
      [
        hermesToolCalls,
        '<tool_call>{"name": oops}</tool_call>\n  <tool_call>{"name": "a", "arguments": {}}</tool_call>  x  ',
      ],
      [
        compact,
        ' <tool_call>reverse:abc</tool_call> mid <tool_call>upper:x</tool_call><tool_call>nope</tool_call>',
      ],
    ];
    for (const [format, text] of replies) {
      const whole = read(format, text);
      for (let size = 1; size <= 13; size++)
        expect(read(format, text, size), `${text} in pieces of ${size}`).toEqual(whole);
    }
  });

  it('gives each call its own id', () => {
    const stream = new ToolCallStream(compact);
    const { calls } = contentAndCalls([
      ...stream.push('<tool_call>upper:a</tool_call><tool_call>upper:b</tool_call>'),
      ...stream.end(),
    ]);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
  });
});

import type { ParseError, ToolCall } from '@toolgym/protocol';
import { type ParsedTurn, pythonStyleJson, readCallObject, type ToolCallFormat } from './tool-call-format.ts';

const OPEN = '<tool_call>';
const CLOSE = '</tool_call>';

/**
 * Hermes / Qwen2.5 tool calls: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`,
 * any number per turn. A block cut off before `</tool_call>` (the turn hit its token limit) is a
 * parse error, not a call.
 */
export const hermesToolCalls: ToolCallFormat = {
  name: 'hermes',

  render(calls) {
    return calls
      .map((c) => `${OPEN}\n${pythonStyleJson({ name: c.name, arguments: c.arguments })}\n${CLOSE}`)
      .join('\n');
  },

  parse(text, callIdPrefix): ParsedTurn {
    const calls: ToolCall[] = [];
    const errors: ParseError[] = [];
    const prose: string[] = [];
    let at = 0;
    let index = 0;
    while (at < text.length) {
      const open = text.indexOf(OPEN, at);
      if (open < 0) {
        prose.push(text.slice(at));
        break;
      }
      prose.push(text.slice(at, open));
      const bodyStart = open + OPEN.length;
      const close = text.indexOf(CLOSE, bodyStart);
      if (close < 0) {
        errors.push({
          code: 'unclosed_tool_call',
          message: `a ${OPEN} block has no ${CLOSE}; write the whole call, then ${CLOSE}`,
        });
        break;
      }
      const body = text.slice(bodyStart, close).trim();
      at = close + CLOSE.length;
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch (error) {
        errors.push({
          code: 'invalid_json',
          message: `the tool call is not valid JSON (${(error as Error).message}): ${clip(body)}`,
        });
        continue;
      }
      const read = readCallObject(value, `${callIdPrefix}-${index++}`);
      if ('call' in read) calls.push(read.call);
      else errors.push(read.error);
    }
    return { content: prose.join('').trim(), calls, errors };
  },
};

function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

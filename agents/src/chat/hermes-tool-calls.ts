import type { ParseError, ToolCall } from '@toolgym/protocol';
import {
  type ParsedTurn,
  pythonStyleJson,
  readCallObject,
  scanToolCallBlocks,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  type ToolCallFormat,
} from './tool-call-format.ts';

/**
 * Hermes / Qwen2.5 tool calls: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`,
 * any number per turn. A block cut off before `</tool_call>` (the turn hit its token limit) is a
 * parse error, not a call.
 */
export const hermesToolCalls: ToolCallFormat = {
  name: 'hermes',

  render(calls) {
    return calls
      .map(
        (c) =>
          `${TOOL_CALL_OPEN}\n${pythonStyleJson({ name: c.name, arguments: c.arguments })}\n${TOOL_CALL_CLOSE}`,
      )
      .join('\n');
  },

  parse(text, callIdPrefix): ParsedTurn {
    const calls: ToolCall[] = [];
    const errors: ParseError[] = [];
    const { bodies, prose, unclosed } = scanToolCallBlocks(text);
    let index = 0;
    for (const raw of bodies) {
      const body = raw.trim();
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
    if (unclosed) {
      errors.push({
        code: 'unclosed_tool_call',
        message: `a ${TOOL_CALL_OPEN} block has no ${TOOL_CALL_CLOSE}; write the whole call, then ${TOOL_CALL_CLOSE}`,
      });
    }
    return { content: prose.trim(), calls, errors };
  },
};

function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

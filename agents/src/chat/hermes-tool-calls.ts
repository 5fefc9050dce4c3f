import type { ParseError, ToolCall } from '@toolgym/protocol';
import {
  type ParsedTurn,
  pythonStyleJson,
  REASONING_CLOSE,
  readCallObject,
  scanToolCallBlocks,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  type ToolCallFormat,
} from './tool-call-format.ts';

/**
 * Hermes / Qwen2.5 tool calls: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`,
 * any number per turn (a block may also hold a JSON list of calls). A block cut off before
 * `</tool_call>` (the turn hit its token limit), a `</tool_call>` without its opening tag, and a
 * block inside the reasoning are parse errors, not calls.
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
    const { bodies, prose, unclosed, unopened, inReasoning } = scanToolCallBlocks(text);
    let index = 0;
    if (inReasoning > 0) {
      errors.push({
        code: 'call_in_reasoning',
        message: `${inReasoning} ${TOOL_CALL_OPEN} block(s) inside the reasoning (before ${REASONING_CLOSE}) were not run; write calls after ${REASONING_CLOSE}`,
      });
    }
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
      for (const item of Array.isArray(value) && value.length > 0 ? value : [value]) {
        const read = readCallObject(item, `${callIdPrefix}-${index++}`);
        if ('call' in read) calls.push(read.call);
        else errors.push(read.error);
      }
    }
    if (unopened > 0) {
      errors.push({
        code: 'unopened_tool_call',
        message: `${unopened} ${TOOL_CALL_CLOSE} without its ${TOOL_CALL_OPEN}; write ${TOOL_CALL_OPEN}{"name": ..., "arguments": {...}}${TOOL_CALL_CLOSE}`,
      });
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

import type { ParseError, ToolCall } from '@toolgym/protocol';

/** The tool calls read from one assistant turn, and what could not be read. */
export interface ParsedTurn {
  /** The text around the calls (the assistant's prose). */
  content: string;
  calls: ToolCall[];
  /** Malformed calls; each becomes an error observation the model sees. */
  errors: ParseError[];
}

/**
 * How a model writes tool calls in its text: rendering (scripted policies write calls this way)
 * and parsing (the agent loop reads them back). Native engine formats (OpenAI `tool_calls`) arrive
 * already structured and are read by `openai-tool-calls.ts`.
 */
export interface ToolCallFormat {
  readonly name: string;
  /** The text a model writes to make these calls. */
  render(calls: ReadonlyArray<Pick<ToolCall, 'name' | 'arguments'>>): string;
  /** `callIdPrefix` keeps call ids unique across the turns of an episode. */
  parse(text: string, callIdPrefix: string): ParsedTurn;
}

/** Reads a call object `{"name": ..., "arguments": {...}}`; arguments may be a JSON string too. */
export function readCallObject(value: unknown, id: string): { call: ToolCall } | { error: ParseError } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      error: {
        code: 'call_not_object',
        message: 'a tool call must be a JSON object {"name": ..., "arguments": {...}}',
      },
    };
  }
  const { name, arguments: rawArgs, parameters } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0) {
    return { error: { code: 'missing_name', message: 'the tool call has no "name" string' } };
  }
  let args = rawArgs ?? parameters ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch (error) {
      return {
        error: {
          code: 'invalid_json',
          message: `the "arguments" of '${name}' are a string that is not JSON: ${(error as Error).message}`,
        },
      };
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return {
      error: { code: 'arguments_not_object', message: `the "arguments" of '${name}' must be a JSON object` },
    };
  }
  return { call: { id, name, arguments: args as Record<string, unknown> } };
}

/** JSON as Python's `json.dumps` writes it (`", "` and `": "` separators): what chat templates' `tojson` emit. */
export function pythonStyleJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonStyleJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonStyleJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

/**
 * The `<tool_call>…</tool_call>` blocks of a turn, in order, with the prose around them. Scanning
 * stops at a block that is never closed (the turn hit its token limit): `unclosed` is then true
 * and nothing after that block counts as prose. Formats decode the bodies their own way.
 */
export function scanToolCallBlocks(text: string): { bodies: string[]; prose: string; unclosed: boolean } {
  const bodies: string[] = [];
  const prose: string[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf(TOOL_CALL_OPEN, at);
    if (open < 0) {
      prose.push(text.slice(at));
      break;
    }
    prose.push(text.slice(at, open));
    const bodyStart = open + TOOL_CALL_OPEN.length;
    const close = text.indexOf(TOOL_CALL_CLOSE, bodyStart);
    if (close < 0) return { bodies, prose: prose.join(''), unclosed: true };
    bodies.push(text.slice(bodyStart, close));
    at = close + TOOL_CALL_CLOSE.length;
  }
  return { bodies, prose: prose.join(''), unclosed: false };
}

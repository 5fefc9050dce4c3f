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
  const keys = Object.keys(value);
  const shape = 'write {"name": ..., "arguments": {...}}';
  if (typeof name !== 'string' || name.length === 0) {
    return {
      error: {
        code: 'missing_name',
        message: `the tool call has no "name" string (its keys: ${keys.join(', ') || 'none'}); ${shape}`,
      },
    };
  }
  const unknown = keys.filter((k) => !CALL_KEYS.has(k));
  if (unknown.length > 0) {
    return {
      error: {
        code: 'unexpected_keys',
        message: `the tool call to '${name}' has keys a call does not take (${unknown.join(', ')}); ${shape}`,
      },
    };
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

const CALL_KEYS = new Set(['name', 'arguments', 'parameters']);

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

export const REASONING_OPEN = '<think>';
export const REASONING_CLOSE = '</think>';

/** The blocks of a turn (see `scanToolCallBlocks`). */
export interface ToolCallBlocks {
  bodies: string[];
  prose: string;
  /** A block was never closed (the turn hit its token limit); nothing after it counts as prose. */
  unclosed: boolean;
  /** `</tool_call>`s with no block open: a call written without its opening tag. */
  unopened: number;
  /** Blocks inside the reasoning (`<think>…</think>`), which are thoughts, not calls. */
  inReasoning: number;
}

/**
 * The `<tool_call>…</tool_call>` blocks of a turn, in order, with the prose around them. The
 * reasoning is everything up to the last `</think>` (a template's generation prompt may open it),
 * or from an unclosed `<think>` to the end; blocks there are counted, not read. Formats decode the
 * bodies their own way.
 */
export function scanToolCallBlocks(turn: string): ToolCallBlocks {
  const close = turn.lastIndexOf(REASONING_CLOSE);
  const open = close < 0 ? turn.indexOf(REASONING_OPEN) : -1;
  const reasoningEnd = close >= 0 ? close + REASONING_CLOSE.length : open >= 0 ? turn.length : 0;
  const reasoningStart = close >= 0 ? 0 : Math.max(open, 0);
  const reasoning = turn.slice(reasoningStart, reasoningEnd);
  const text = turn.slice(0, reasoningStart) + turn.slice(reasoningEnd);
  const inReasoning = reasoning.split(TOOL_CALL_OPEN).length - 1;
  const bodies: string[] = [];
  // The reasoning is a prefix (closed) or a suffix (left open): it keeps its place in the prose.
  const prose: string[] = reasoningStart === 0 ? [reasoning] : [];
  const suffix = reasoningStart === 0 ? '' : reasoning;
  let at = 0;
  let unopened = 0;
  while (at < text.length) {
    const open = text.indexOf(TOOL_CALL_OPEN, at);
    const stretch = text.slice(at, open < 0 ? text.length : open);
    unopened += stretch.split(TOOL_CALL_CLOSE).length - 1;
    prose.push(stretch);
    if (open < 0) break;
    const bodyStart = open + TOOL_CALL_OPEN.length;
    const close = text.indexOf(TOOL_CALL_CLOSE, bodyStart);
    if (close < 0) return { bodies, prose: prose.join('') + suffix, unclosed: true, unopened, inReasoning };
    bodies.push(text.slice(bodyStart, close));
    at = close + TOOL_CALL_CLOSE.length;
  }
  return { bodies, prose: prose.join('') + suffix, unclosed: false, unopened, inReasoning };
}

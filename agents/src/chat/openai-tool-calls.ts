import type { Message, ParseError, ToolCall, ToolSpec } from '@toolgym/protocol';
import { readCallObject } from './tool-call-format.ts';

/** A tool call as the OpenAI chat API carries it: `arguments` is a JSON string. */
export interface OpenAIWireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIWireMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: OpenAIWireToolCall[];
  tool_call_id?: string;
  name?: string;
}

/**
 * OpenAI's native tool calling (`tools` in the request, `message.tool_calls` in the answer), which
 * vLLM, SGLang and llama.cpp servers speak when started with a tool parser.
 */
export const openaiToolCalls = {
  name: 'openai',

  tools(specs: readonly ToolSpec[]) {
    return specs.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description, parameters: t.inputSchema },
    }));
  },

  render(calls: readonly ToolCall[]): OpenAIWireToolCall[] {
    return calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: JSON.stringify(c.arguments) },
    }));
  },

  /** Reads `message.tool_calls`; a call whose arguments are not a JSON object becomes a parse error. */
  parse(wire: unknown, callIdPrefix: string): { calls: ToolCall[]; errors: ParseError[] } {
    const calls: ToolCall[] = [];
    const errors: ParseError[] = [];
    if (wire === undefined || wire === null) return { calls, errors };
    if (!Array.isArray(wire))
      return { calls, errors: [{ code: 'invalid_tool_calls', message: 'tool_calls is not a list' }] };
    wire.forEach((item, i) => {
      const fn = (item as { function?: { name?: unknown; arguments?: unknown } })?.function;
      const id =
        typeof (item as { id?: unknown })?.id === 'string'
          ? (item as { id: string }).id
          : `${callIdPrefix}-${i}`;
      const read = readCallObject(fn ? { name: fn.name, arguments: fn.arguments ?? '{}' } : item, id);
      if ('call' in read) calls.push(read.call);
      else errors.push(read.error);
    });
    return { calls, errors };
  },

  messages(messages: readonly Message[]): OpenAIWireMessage[] {
    return messages.map((m) => {
      if (m.role === 'tool')
        return {
          role: 'tool',
          content: m.content,
          ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
          ...(m.name ? { name: m.name } : {}),
        };
      if (m.role === 'assistant' && m.toolCalls && m.toolCalls.length > 0) {
        return {
          role: 'assistant',
          content: m.content.length > 0 ? m.content : null,
          tool_calls: openaiToolCalls.render(m.toolCalls),
        };
      }
      return { role: m.role, content: m.content };
    });
  },
};

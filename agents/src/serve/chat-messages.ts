import type { Message, ToolCall, ToolSpec } from '@toolgym/protocol';
import { CompactFormatError, recordedToolCalls } from '../chat/compact-format.ts';
import { hermesToolCalls } from '../chat/hermes-tool-calls.ts';
import type { ToolCallFormat } from '../chat/tool-call-format.ts';
import { type ChatMessage, type ChatRequest, invalidRequest } from './openai-requests.ts';

/** An OpenAI chat request as the model's chat template reads it. */
export interface ChatPrompt {
  messages: Message[];
  /** The tools the template lists (none with `tool_choice: 'none'`). */
  tools: ToolSpec[];
  /** How the model writes calls: its model directory's record, or Hermes. */
  format: ToolCallFormat;
}

/**
 * Turns a chat request into ToolGym messages. Templates render an assistant turn as the text the
 * model wrote (`chat/`), so an earlier turn's `tool_calls` are written back into its text in the
 * model's own call format, after its prose.
 */
export function chatMessages(body: ChatRequest, recorded: 'compact' | undefined): ChatPrompt {
  const requested: ToolSpec[] = (body.tools ?? []).map((t) => ({
    name: t.function.name,
    description: t.function.description ?? '',
    inputSchema: t.function.parameters ?? { type: 'object', properties: {} },
  }));
  const format = recordedToolCalls(recorded, requested) ?? hermesToolCalls;
  return {
    messages: body.messages.map((m, i) => message(m, i, format)),
    tools: body.tool_choice === 'none' ? [] : requested,
    format,
  };
}

function message(m: ChatMessage, index: number, format: ToolCallFormat): Message {
  const role = m.role === 'developer' ? 'system' : m.role;
  const text =
    m.content == null
      ? ''
      : typeof m.content === 'string'
        ? m.content
        : m.content.map((part) => part.text).join('');
  if (role === 'tool')
    return { role, content: text, toolCallId: m.tool_call_id!, ...(m.name ? { name: m.name } : {}) };
  if (role !== 'assistant' || !m.tool_calls?.length) return { role, content: text };
  const calls: ToolCall[] = m.tool_calls.map((c, j) => ({
    id: c.id,
    name: c.function.name,
    arguments: argumentsObject(
      c.function.arguments,
      `messages[${index}].tool_calls[${j}].function.arguments`,
    ),
  }));
  let written: string;
  try {
    written = format.render(calls);
  } catch (error) {
    if (error instanceof CompactFormatError)
      throw invalidRequest(
        `messages[${index}].tool_calls`,
        'unwritable_tool_call',
        error.message,
        'list the tool in `tools`',
      );
    throw error;
  }
  return { role, content: text ? `${text}\n${written}` : written, toolCalls: calls };
}

function argumentsObject(text: string, param: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidRequest(
      param,
      'invalid_tool_arguments',
      `${param} must be a JSON object, got ${JSON.stringify(text).slice(0, 80)}`,
    );
  return value as Record<string, unknown>;
}

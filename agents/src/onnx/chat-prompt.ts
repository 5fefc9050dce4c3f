/**
 * Renders a model's own Jinja chat template (tokenizer_config.json `chat_template`) with
 * @huggingface/jinja, over messages and tools in the Hugging Face / OpenAI shape that real templates
 * (Qwen, Llama, ToolGym's byte model) expect. Used by the onnx policy's message mode and by
 * `toolgym policy serve` for /v1/chat/completions.
 */
import { Template } from '@huggingface/jinja';
import type { Message, ToolSpec } from '@toolgym/protocol';

/** A chat message in the OpenAI / Hugging Face template shape. */
export interface TemplateMessage {
  role: string;
  content: string | null;
  tool_calls?: Array<{ id?: string; type: 'function'; function: { name: string; arguments: unknown } }>;
  tool_call_id?: string;
  name?: string;
}

/** A tool in the OpenAI / Hugging Face template shape. */
export interface TemplateTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(
  template: string,
  input: {
    messages: TemplateMessage[];
    tools?: TemplateTool[];
    addGenerationPrompt: boolean;
    eosToken?: string;
  },
): string {
  let t = compiled.get(template);
  if (!t) {
    t = new Template(template);
    compiled.set(template, t);
  }
  return t.render({
    messages: input.messages,
    ...(input.tools && input.tools.length > 0 ? { tools: input.tools } : {}),
    add_generation_prompt: input.addGenerationPrompt,
    bos_token: '',
    eos_token: input.eosToken ?? '',
  });
}

/** MCP tool specs → template tools. */
export function toolSpecsToTemplateTools(tools: ToolSpec[]): TemplateTool[] {
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  }));
}

/**
 * ToolGym messages → template messages. An assistant message whose content already holds its
 * `<tool_call>` text (the agent loop keeps the raw sampled text) is passed as is; otherwise its parsed
 * calls become `tool_calls` for the template to render.
 */
export function protocolMessagesToTemplateMessages(messages: Message[]): TemplateMessage[] {
  return messages.map((m) => {
    const out: TemplateMessage = { role: m.role, content: m.content };
    if (m.toolCalls?.length && !m.content.includes('<tool_call>')) {
      out.tool_calls = m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      }));
    }
    if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
    if (m.name !== undefined) out.name = m.name;
    return out;
  });
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import type { Message, ToolSpec } from '@toolgym/protocol';
import { ChatTemplateError } from '../errors.ts';
import { HERMES_CHAT_TEMPLATE } from './hermes-template.ts';

export interface RenderOptions {
  /** Append the header of the next assistant turn (`<|im_start|>assistant\n`). */
  addGenerationPrompt: boolean;
}

/** The special-token variables HF templates read (`bos_token`, `eos_token`). */
export interface TemplateVariables {
  bos_token?: string;
  eos_token?: string;
}

/**
 * A model's chat template (Jinja, as in Hugging Face `tokenizer_config.json`), rendered with a
 * real Jinja implementation. Messages reach the template in the Transformers shape; assistant
 * messages carry their raw text only, so a template renders them as they were sampled.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly variables: TemplateVariables = {},
    /** Where the template came from, for error messages. */
    readonly origin = '(inline)',
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new ChatTemplateError(`the chat template from ${origin} does not parse: ${errorText(error)}`);
    }
  }

  /** The built-in Qwen2.5/ChatML template with Hermes tool calls. */
  static hermes(): ChatTemplate {
    return new ChatTemplate(HERMES_CHAT_TEMPLATE, { eos_token: '<|im_end|>' }, 'built-in hermes');
  }

  /**
   * The template of a Hugging Face `tokenizer_config.json` (`chat_template` as a string, or a list
   * of named templates, of which `tool_use` is preferred, then `default`).
   */
  static fromTokenizerConfig(config: unknown, origin = 'tokenizer_config.json'): ChatTemplate {
    const json = (config ?? {}) as Record<string, unknown>;
    let source = json.chat_template;
    if (Array.isArray(source)) {
      const named = source as Array<{ name?: string; template?: string }>;
      source = (
        named.find((t) => t.name === 'tool_use') ??
        named.find((t) => t.name === 'default') ??
        named[0]
      )?.template;
    }
    if (typeof source !== 'string' || source.length === 0) {
      throw new ChatTemplateError(
        `${origin} has no chat_template`,
        'pass a model whose tokenizer_config.json has one, or use the built-in hermes template',
      );
    }
    const special = (value: unknown) =>
      typeof value === 'string'
        ? value
        : typeof (value as { content?: unknown })?.content === 'string'
          ? (value as { content: string }).content
          : undefined;
    const bos = special(json.bos_token);
    const eos = special(json.eos_token);
    return new ChatTemplate(
      source,
      { ...(bos ? { bos_token: bos } : {}), ...(eos ? { eos_token: eos } : {}) },
      origin,
    );
  }

  /** Reads `<modelDir>/tokenizer_config.json`. */
  static async fromModelDir(modelDir: string): Promise<ChatTemplate> {
    const file = path.join(modelDir, 'tokenizer_config.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new ChatTemplateError(
        `no tokenizer_config.json in ${modelDir}`,
        'point at a model directory with a tokenizer_config.json',
      );
    }
    return ChatTemplate.fromTokenizerConfig(JSON.parse(text), file);
  }

  render(messages: readonly Message[], tools: readonly ToolSpec[], options: RenderOptions): string {
    try {
      return this.template.render({
        messages: messages.map(templateMessage),
        ...(tools.length > 0 ? { tools: tools.map(templateTool) } : {}),
        add_generation_prompt: options.addGenerationPrompt,
        ...this.variables,
      });
    } catch (error) {
      // Includes the template's own `raise_exception(...)` (built into the Jinja runtime).
      throw new ChatTemplateError(
        `the chat template from ${this.origin} failed to render: ${errorText(error)}`,
      );
    }
  }
}

/** The Transformers message shape. Assistant turns keep their raw text and no `tool_calls`. */
function templateMessage(message: Message): Record<string, unknown> {
  if (message.role === 'tool') {
    return {
      role: 'tool',
      content: message.content,
      ...(message.name ? { name: message.name } : {}),
      ...(message.toolCallId ? { tool_call_id: message.toolCallId } : {}),
    };
  }
  return { role: message.role, content: message.content };
}

/** The OpenAI / Transformers function-tool shape that chat templates expect. */
function templateTool(tool: ToolSpec): Record<string, unknown> {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

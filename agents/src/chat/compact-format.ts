/**
 * A compact chat layout for small models trained on a CPU: ChatML turn markers with one-letter
 * roles, no tool listing in the prompt, and tool calls written `<tool_call>name:value</tool_call>`
 * for tools that take one string argument. A depth-2 compose episode is ~90 tokens with the byte
 * tokenizer instead of ~1,500 with the Hermes template and its JSON tool list — the difference
 * between a feasible and an infeasible RL run on 2 cores.
 */
import {
  scanToolCallBlocks,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  type ToolCallFormat,
} from './tool-call-format.ts';
import { type ParseError, type ToolCall, type ToolSpec, ToolGymError } from '@toolgym/protocol';

/**
 * Jinja source of the compact template. Assistant turns render verbatim (as sampled), tool results
 * in a `t` turn; `promptSuffix` (when given) is cut from user messages — instructions the model
 * learns from demonstrations instead of reading every episode.
 */
export function compactChatTemplate(options: { dropFromPrompt?: string[] } = {}): string {
  const drops = (options.dropFromPrompt ?? []).map((s) => ` | replace(${JSON.stringify(s)}, "")`).join('');
  return [
    '{%- for message in messages %}',
    "{%- if message.role == 'user' %}{{- '<|im_start|>u\\n' + (message.content" +
      drops +
      ") + '<|im_end|>\\n' }}",
    "{%- elif message.role == 'assistant' %}{{- '<|im_start|>a\\n' + message.content + '<|im_end|>\\n' }}",
    "{%- elif message.role == 'tool' %}{{- '<|im_start|>t\\n' + message.content + '<|im_end|>\\n' }}",
    "{%- elif message.role == 'system' %}{{- '<|im_start|>s\\n' + message.content + '<|im_end|>\\n' }}",
    '{%- endif %}',
    '{%- endfor %}',
    "{%- if add_generation_prompt %}{{- '<|im_start|>a\\n' }}{%- endif %}",
  ].join('\n');
}

/** A call the compact format cannot write: its tool does not take exactly one string argument. */
export class CompactFormatError extends ToolGymError {
  constructor(message: string) {
    super(
      'compact_format',
      message,
      'the compact template fits tools with one string argument; use the Hermes template for the others',
    );
  }
}

/**
 * The single-argument call format. `argumentOf` names each tool's one string argument; build it
 * from the tool specs with `singleArgumentTools`.
 */
export function compactToolCalls(argumentOf: ReadonlyMap<string, string>): ToolCallFormat {
  return {
    name: 'compact',
    render(calls) {
      return calls
        .map((c) => {
          const key = argumentOf.get(c.name);
          if (!key)
            throw new CompactFormatError(
              `compact format: tool '${c.name}' does not take exactly one string argument`,
            );
          return `${TOOL_CALL_OPEN}${c.name}:${String(c.arguments[key] ?? '')}${TOOL_CALL_CLOSE}`;
        })
        .join('');
    },
    parse(text, callIdPrefix) {
      const calls: ToolCall[] = [];
      const errors: ParseError[] = [];
      const { bodies, prose, unclosed } = scanToolCallBlocks(text);
      let index = 0;
      for (const body of bodies) {
        const colon = body.indexOf(':');
        const name = colon < 0 ? body : body.slice(0, colon);
        const key = argumentOf.get(name);
        if (colon < 0 || !key) {
          errors.push({
            code: key ? 'missing_argument' : 'unknown_tool',
            message: key ? `write ${name}:<value>` : `no tool '${name}'`,
          });
          continue;
        }
        calls.push({ id: `${callIdPrefix}-${index++}`, name, arguments: { [key]: body.slice(colon + 1) } });
      }
      if (unclosed)
        errors.push({ code: 'unclosed_tool_call', message: `a ${TOOL_CALL_OPEN} has no ${TOOL_CALL_CLOSE}` });
      return { content: prose.trim(), calls, errors };
    },
  };
}

/**
 * The call format a model directory records (`toolCalls` in its toolgym.json) over `tools`;
 * undefined when it records none (Hermes JSON, the default).
 */
export function recordedToolCalls(
  recorded: 'compact' | undefined,
  tools: readonly ToolSpec[],
): ToolCallFormat | undefined {
  return recorded === 'compact' ? compactToolCalls(singleArgumentTools(tools)) : undefined;
}

/** The one string argument of each tool that has exactly one; tools with other shapes are left out. */
export function singleArgumentTools(tools: readonly ToolSpec[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const tool of tools) {
    const props = Object.entries(
      (tool.inputSchema as { properties?: Record<string, { type?: unknown }> }).properties ?? {},
    );
    if (props.length === 1 && props[0]![1].type === 'string') out.set(tool.name, props[0]![0]);
  }
  return out;
}

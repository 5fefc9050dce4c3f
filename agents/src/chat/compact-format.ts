/**
 * A compact chat layout for small models trained on a CPU: ChatML turn markers with one-letter
 * roles, no tool listing in the prompt, and tool calls written `<tool_call>name:value</tool_call>`
 * for tools that take one string argument, `<tool_call>name:{"a": 1, "b": "x"}</tool_call>` (the
 * arguments as a JSON object) for the others. A depth-2 compose episode is ~90 tokens with the byte
 * tokenizer instead of ~1,500 with the Hermes template and its JSON tool list — the difference
 * between a feasible and an infeasible RL run on 2 cores.
 */
import {
  readCallObject,
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

/** A call the compact format cannot write: its tool is not one of the tools it was made for. */
export class CompactFormatError extends ToolGymError {
  constructor(message: string) {
    super('compact_format', message, 'make the compact format from the tools the calls go to');
  }
}

/**
 * The compact call format. `argumentOf` names each tool's one string argument, or holds null for a
 * tool whose arguments are written as a JSON object; build it from the tool specs with
 * `compactArguments`.
 */
export function compactToolCalls(argumentOf: ReadonlyMap<string, string | null>): ToolCallFormat {
  return {
    name: 'compact',
    render(calls) {
      return calls
        .map((c) => {
          const key = argumentOf.get(c.name);
          if (key === undefined) throw new CompactFormatError(`compact format: no tool '${c.name}'`);
          const value = key === null ? JSON.stringify(c.arguments) : String(c.arguments[key] ?? '');
          return `${TOOL_CALL_OPEN}${c.name}:${value}${TOOL_CALL_CLOSE}`;
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
        if (key === undefined) {
          errors.push({ code: 'unknown_tool', message: `no tool '${name}'` });
          continue;
        }
        if (colon < 0) {
          errors.push({
            code: 'missing_argument',
            message: key === null ? `write ${name}:{...}, its arguments as a JSON object` : `write ${name}:<value>`,
          });
          continue;
        }
        const id = `${callIdPrefix}-${index}`;
        if (key !== null) {
          calls.push({ id, name, arguments: { [key]: body.slice(colon + 1) } });
          index++;
          continue;
        }
        // The arguments text is read as a call object's JSON-string arguments are.
        const read = readCallObject({ name, arguments: body.slice(colon + 1) }, id);
        if ('error' in read) errors.push(read.error);
        else {
          calls.push(read.call);
          index++;
        }
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
  return recorded === 'compact' ? compactToolCalls(compactArguments(tools)) : undefined;
}

/**
 * How the compact format writes each tool's arguments: the name of its one string argument when it
 * has exactly one, else null (a JSON object).
 */
export function compactArguments(tools: readonly ToolSpec[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const tool of tools) {
    const props = Object.entries(
      (tool.inputSchema as { properties?: Record<string, { type?: unknown }> }).properties ?? {},
    );
    out.set(tool.name, props.length === 1 && props[0]![1].type === 'string' ? props[0]![0] : null);
  }
  return out;
}

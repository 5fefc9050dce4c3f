import { createInterface } from 'node:readline/promises';
import type { EnvironmentClient } from '@toolgym/env-kit';
import type { ToolSpec } from '@toolgym/protocol';

/** "name(a: string, b?: integer)" from a tool's JSON Schema. */
export function toolSignature(spec: ToolSpec): string {
  const schema = spec.inputSchema as { properties?: Record<string, { type?: string }>; required?: string[] };
  const required = new Set(schema.required ?? []);
  const args = Object.entries(schema.properties ?? {}).map(([name, p]) => `${name}${required.has(name) ? '' : '?'}: ${p.type ?? 'any'}`);
  return `${spec.name}(${args.join(', ')})`;
}

/**
 * Parses what a person types: `tool {"json": "args"}` or `tool key=value key2="two words"`.
 * Values that parse as JSON are taken as JSON (numbers, booleans, arrays), otherwise as strings.
 */
export function parseCommandLine(line: string): { name: string; args: Record<string, unknown> } {
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  const name = space < 0 ? trimmed : trimmed.slice(0, space);
  const rest = space < 0 ? '' : trimmed.slice(space + 1).trim();
  if (rest.startsWith('{')) {
    const args = JSON.parse(rest) as unknown;
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error('arguments must be a JSON object');
    return { name, args: args as Record<string, unknown> };
  }
  const args: Record<string, unknown> = {};
  for (const match of rest.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key, raw] = match as unknown as [string, string, string];
    args[key] = jsonOrText(raw);
  }
  return { name, args };
}

/** `text` as JSON when it parses (numbers, booleans, arrays, quoted strings), else `text` itself. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const HELP = `Type a tool call as  tool key=value ...  or  tool {"json": "arguments"}.
Commands: :tools  :end (grade now)  :quit  :help`;

/** An interactive episode at the terminal, through the real MCP client. */
export async function playEpisode(
  client: EnvironmentClient,
  params: { taskId?: string; split: 'train' | 'test'; seed: number },
  io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream },
): Promise<number> {
  const print = (text: string) => io.output.write(`${text}\n`);
  const info = await client.info();
  const start = await client.start(params);
  print(`${info.id}@${info.version} — task ${start.task.id} (${start.task.split})`);
  print(`\n${start.task.prompt}\n`);
  print(`Tools:\n${info.tools.map((t) => `  ${toolSignature(t)} — ${t.description}`).join('\n')}`);
  print(`\n${HELP}`);

  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  let turns = 0;
  const finish = async () => {
    const end = await client.end();
    print(`\nReward: ${end.reward.total.toFixed(3)}  (${end.terminated ? 'answered' : 'ended early'}, ${end.toolCalls} tool calls)`);
    for (const [name, value] of Object.entries(end.reward.components)) {
      print(`  ${name.padEnd(20)} ${value.toFixed(3)}  × weight ${end.reward.weights[name] ?? 0}`);
    }
    return end.reward.total;
  };
  io.output.write('> ');
  for await (const line of rl) {
    const text = line.trim();
    if (text === '' ) {
      io.output.write('> ');
      continue;
    }
    if (text === ':quit') break;
    if (text === ':help') print(HELP);
    else if (text === ':tools') print(info.tools.map(toolSignature).join('\n'));
    else if (text === ':end') {
      rl.close();
      return finish();
    } else {
      let call: { name: string; args: Record<string, unknown> };
      try {
        call = parseCommandLine(text);
      } catch (error) {
        print(`Could not read that: ${(error as Error).message}. ${HELP}`);
        io.output.write('> ');
        continue;
      }
      const result = await client.callTool(call.name, call.args);
      turns++;
      print(result.isError ? `error (${result.errorCode}): ${result.content}` : result.content);
      if (result.terminated || turns >= start.limits.maxTurns) {
        if (!result.terminated) print(`Turn limit (${start.limits.maxTurns}) reached.`);
        rl.close();
        return finish();
      }
    }
    io.output.write('> ');
  }
  rl.close();
  return finish();
}

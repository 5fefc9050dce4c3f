/**
 * Runs pure tools for `ToolWorkerPool`: imports the environment module named in `workerData`, then
 * answers one call at a time with what the tool returns.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AnyEnvironmentDefinition } from './registry.ts';
import { definitionsIn } from './registry.ts';
import { ToolError } from './errors.ts';
import type { ToolWorkerReply, ToolWorkerRequest } from './tool-workers.ts';

const port = parentPort!;
const { moduleUrl } = workerData as { moduleUrl: string };
const reply = (message: ToolWorkerReply) => port.postMessage(message);

let definitions: Map<string, AnyEnvironmentDefinition>;
try {
  definitions = new Map(definitionsIn(await import(moduleUrl)).map((d) => [d.ref, d]));
  reply({ kind: 'ready' });
} catch (error) {
  reply({ kind: 'broken', message: `a tool worker could not load ${moduleUrl}: ${error instanceof Error ? error.message : String(error)}` });
}

port.on('message', async ({ id, ref, tool, args }: ToolWorkerRequest) => {
  try {
    const run = definitions.get(ref)?.tools[tool]?.run;
    if (!run) throw new Error(`${moduleUrl} has no tool '${tool}' in environment ${ref}`);
    // A pure tool gets only its arguments.
    reply({ kind: 'result', id, output: await run(args, undefined as never) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    reply(error instanceof ToolError ? { kind: 'error', id, message, code: error.code } : { kind: 'error', id, message });
  }
});

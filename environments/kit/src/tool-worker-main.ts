/**
 * Runs pure tools for `ToolWorkerPool`: imports the environment module named in `workerData`, then
 * answers the requests that arrive in its channel, one at a time, with what the tool returns.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ToolError } from './errors.ts';
import { definitionsIn } from './registry.ts';
import type { AnyEnvironmentDefinition } from './registry.ts';
import { CHANNEL_CAPACITY, REPLY, REQUEST, ToolChannel } from './tool-channel.ts';
import type { ToolWorkerReply, ToolWorkerRequest } from './tool-workers.ts';

const { moduleUrl, buffer } = workerData as { moduleUrl: string; buffer: SharedArrayBuffer };
const channel = new ToolChannel(buffer);

let definitions: Map<string, AnyEnvironmentDefinition>;
try {
  definitions = new Map(definitionsIn(await import(moduleUrl)).map((d) => [d.ref, d]));
} catch (error) {
  parentPort!.postMessage({ kind: 'broken', message: `a tool worker could not load ${moduleUrl}: ${error instanceof Error ? error.message : String(error)}` });
  process.exit(1);
}
parentPort!.postMessage({ kind: 'ready' });

function failed(id: number, error: unknown): ToolWorkerReply {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof ToolError ? { kind: 'error', id, message, code: error.code } : { kind: 'error', id, message };
}

/** The reply to a request: at once for a synchronous tool, later for an async one. */
function answer({ id, ref, tool, args }: ToolWorkerRequest): ToolWorkerReply | Promise<ToolWorkerReply> {
  try {
    const run = definitions.get(ref)?.tools[tool]?.run;
    if (!run) throw new Error(`${moduleUrl} has no tool '${tool}' in environment ${ref}`);
    // A pure tool gets only its arguments.
    const output = run(args, undefined as never);
    return output instanceof Promise
      ? output.then((value): ToolWorkerReply => ({ kind: 'result', id, output: value }), (error: unknown) => failed(id, error))
      : { kind: 'result', id, output };
  } catch (error) {
    return failed(id, error);
  }
}

for (;;) {
  // Between calls the thread sleeps here.
  for (let phase = channel.phase; phase !== REQUEST; phase = channel.phase) Atomics.wait(channel.state, 0, phase);
  const request = channel.read<ToolWorkerRequest>();
  const pending = answer(request);
  // An async tool's awaits let this thread's event loop run; a synchronous one's reply goes at once.
  const reply = pending instanceof Promise ? await pending : pending;
  if (!channel.write(reply))
    channel.write({ kind: 'error', id: request.id, message: `the tool's output is larger than ${CHANNEL_CAPACITY} bytes` } satisfies ToolWorkerReply);
  channel.signal(REPLY);
}

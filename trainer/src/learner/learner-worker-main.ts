/** Runs one embedded learner and answers `createWorkerLearner`'s calls, in the order they come. */
import { parentPort, workerData } from 'node:worker_threads';
import { ToolGymError } from '@toolgym/protocol';
import { createEmbeddedLearner, type EmbeddedLearnerSettings } from './embedded-learner.ts';
import { processClockMs, threadId, threadTimes } from './learner-profile.ts';
import type { WorkerReply } from './worker-learner.ts';

const port = parentPort!;
const ready = createEmbeddedLearner(workerData as EmbeddedLearnerSettings);
let queue: Promise<unknown> = Promise.resolve();

port.on('message', ({ id, method, args }: { id: number; method: string; args: unknown[] }) => {
  const received = processClockMs();
  queue = queue.then(async () => {
    const started = processClockMs();
    const before = threadTimes();
    let reply: WorkerReply;
    try {
      const learner = await ready;
      const value =
        method === 'ready'
          ? threadId()
          : await (learner as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(
              ...args,
            );
      reply = { id, ok: true, value };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const typed = error instanceof ToolGymError ? { code: error.code, hint: error.hint } : {};
      reply = { id, ok: false, error: { name: error.name, message: error.message, ...typed } };
    }
    const after = threadTimes();
    reply.timing = {
      received,
      started,
      ended: processClockMs(),
      cpuMs: after.cpuMs - before.cpuMs,
      runQueueMs: after.runQueueMs - before.runQueueMs,
    };
    port.postMessage(reply);
  });
});

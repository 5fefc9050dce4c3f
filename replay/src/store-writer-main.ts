import { parentPort, workerData } from 'node:worker_threads';
import { ToolGymError } from '@toolgym/protocol';
import { type OpenStoreOptions, type StoredEvent, TrajectoryStore } from './store.ts';
import type { WriterReply, WriterRequest } from './store-writer.ts';

/**
 * Owns the store's one write connection. Requests that arrive while a commit runs wait and are
 * then committed together in one transaction (one fsync), each in a savepoint of its own, so a
 * refused request (a duplicate id, an invalid trajectory) writes nothing and the others commit.
 * Replies go back only after the commit: acknowledged still means committed. The reply carries the
 * events the commit logged, as the store kept them in memory: the feed never reads them back.
 */
const { file, options } = workerData as { file: string; options: OpenStoreOptions };
const port = parentPort!;
const store = openStore();

/** The store, or undefined (and the thread ends) when it cannot be opened. */
function openStore(): TrajectoryStore {
  try {
    const opened = TrajectoryStore.open(file, options);
    port.postMessage({ type: 'ready', head: opened.head() } satisfies WriterReply);
    return opened;
  } catch (error) {
    port.postMessage({ type: 'failed', error: describe(error) } satisfies WriterReply);
    port.close();
    return undefined as never;
  }
}

const queue: WriterRequest[] = [];
let scheduled = false;
/** The events of the last commit (the store reports them once its outermost transaction commits). */
let committed: readonly StoredEvent[] = [];
if (store)
  store.onCommit((events) => {
    committed = events;
  });
if (store)
  port.on('message', (request: WriterRequest) => {
    if (request.op === 'close') {
      store.close();
      port.postMessage({ type: 'closed' } satisfies WriterReply);
      port.close();
      return;
    }
    queue.push(request);
    if (!scheduled) {
      scheduled = true;
      setImmediate(commit);
    }
  });

function commit(): void {
  scheduled = false;
  const batch = queue.splice(0);
  const results: Extract<WriterReply, { type: 'committed' }>['results'] = [];
  committed = [];
  try {
    store.batch(() => {
      for (let i = 0; i < batch.length; ) {
        const turns = turnRun(batch, i);
        if (turns.length > 1 && commitTurns(turns, results)) {
          i += turns.length;
          continue;
        }
        const request = batch[i++]!;
        try {
          results.push({ id: request.id, ok: true, value: run(request) });
        } catch (error) {
          results.push({ id: request.id, ok: false, error: describe(error) });
        }
      }
    });
  } catch (error) {
    // The commit itself failed (disk full, I/O error): nothing of the batch was written.
    const failure = describe(error);
    port.postMessage({
      type: 'committed',
      results: batch.map((r) => ({ id: r.id, ok: false, error: failure })),
      events: [],
    } satisfies WriterReply);
    return;
  }
  port.postMessage({
    type: 'committed',
    results,
    events: committed,
  } satisfies WriterReply);
}

type TurnRequest = Extract<WriterRequest, { op: 'appendTurns' }>;

/** The turn requests from `i` on with the same options: turns of running episodes arrive in streaks. */
function turnRun(batch: readonly WriterRequest[], i: number): TurnRequest[] {
  const run: TurnRequest[] = [];
  const first = batch[i];
  if (first?.op !== 'appendTurns') return run;
  for (let j = i; j < batch.length; j++) {
    const request = batch[j]!;
    if (request.op !== 'appendTurns' || request.args[1]?.runId !== first.args[1]?.runId) break;
    run.push(request);
  }
  return run;
}

/** A streak of turn requests as one write; false (nothing written) when one is refused, to be retried one by one. */
function commitTurns(
  requests: TurnRequest[],
  results: Extract<WriterReply, { type: 'committed' }>['results'],
): boolean {
  try {
    const value = store.appendTurns(
      requests.flatMap((r) => r.args[0]),
      requests[0]!.args[1],
    );
    for (const r of requests) results.push({ id: r.id, ok: true, value });
    return true;
  } catch {
    return false;
  }
}

function run(request: WriterRequest): unknown {
  switch (request.op) {
    case 'appendGroup':
      return store.appendGroup(...request.args);
    case 'appendTurns':
      return store.appendTurns(...request.args);
    case 'appendStepMetrics':
      return store.appendStepMetrics(...request.args);
    case 'startRun':
      return store.startRun(...request.args);
    case 'setRunStatus':
      return store.setRunStatus(...request.args);
    case 'markUnfinished':
      return store.markUnfinished(...request.args);
  }
}

function describe(error: unknown): { code?: string; message: string; hint?: string } {
  if (error instanceof ToolGymError)
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { message: error instanceof Error ? error.message : String(error) };
}

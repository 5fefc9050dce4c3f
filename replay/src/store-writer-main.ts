import { parentPort, workerData } from 'node:worker_threads';
import { ToolGymError } from '@toolgym/protocol';
import type { StoredEvent } from './feed-events.ts';
import { KnownPieces, unpackGroup, unpacker, unpackTurn } from './handover.ts';
import { RingReader, type SharedRing } from './number-ring.ts';
import { type OpenStoreOptions, TrajectoryStore } from './store.ts';
import type {
  WriterBatch,
  WriterMessage,
  WriterOptions,
  WriterReply,
  WriterRequest,
} from './store-writer.ts';

/**
 * Owns the store's one write connection. Requests that arrive while a commit runs wait and are
 * then committed together in one transaction (one fsync), each in a savepoint of its own, so a
 * refused request (a duplicate id, an invalid trajectory) writes nothing and the others commit.
 * Replies go back only after the commit: acknowledged still means committed. The reply tells the
 * events the commit logged, from the store's memory (`split`): the feed never reads them back.
 */
const { file, options, seqBlock, ring } = workerData as {
  file: string;
  options: OpenStoreOptions;
  seqBlock: Required<WriterOptions>['seqBlock'];
  ring: SharedRing;
};
const reader = new RingReader(ring);
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
  port.on('message', ({ requests, ringEnd }: WriterBatch) => {
    const reservations: WriterRequest[] = [];
    // Every write is copied out of the ring as it arrives, and the ring's space freed at once.
    reader.acquire();
    const unpacked = requests.map(unpack);
    reader.release(ringEnd);
    for (const request of unpacked) {
      if (request.op === 'reserveSeqs') {
        reservations.push(request);
        continue;
      }
      if (request.op !== 'close') {
        queue.push(request);
        continue;
      }
      // Everything handed over before the close is committed first.
      if (queue.length > 0) commit(queue.splice(0));
      store.close();
      port.postMessage({ type: 'closed' } satisfies WriterReply);
      port.close();
      return;
    }
    // Seqs are reserved ahead of the writes queued before them: they only raise the run's limit
    // (those writes carry seqs below it), and the caller's next events must not wait for a backlog.
    if (reservations.length > 0) commit(reservations);
    if (!scheduled && queue.length > 0) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        commit(queue.splice(0));
      });
    }
  });

type Results = Extract<WriterReply, { type: 'committed' }>['results'];

function commit(batch: WriterRequest[]): void {
  let results: Results = [];
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
    results = batch.map((r) => ({ id: r.id, ok: false, error: failure }));
    committed = [];
  }
  for (const request of batch) {
    const runId = numberedRun(request);
    if (runId === undefined) continue;
    const result = results.find((r) => r.id === request.id);
    if (result) result.reserved = reserve(runId);
  }
  port.postMessage({ type: 'committed', results, ...split(committed) } satisfies WriterReply);
}

/**
 * A commit's events as the reply carries them. The writer's owner emitted the turns, trajectories
 * and step metrics and still holds them, so of those only where they landed crosses back (a
 * structured clone of every payload would cost the delivering thread more than their fan-out);
 * events numbered here (run status, unfinished episodes, writes that were not emitted) cross whole.
 */
function split(
  events: readonly StoredEvent[],
): Pick<Extract<WriterReply, { type: 'committed' }>, 'events' | 'landed'> {
  const whole: StoredEvent[] = [];
  const landed = { runIds: [] as string[], seqs: [] as number[], cursors: [] as number[] };
  for (const e of events) {
    if (e.seq === null || e.type === 'run' || e.type === 'episode') whole.push(e);
    else {
      landed.runIds.push(e.runId);
      landed.seqs.push(e.seq);
      landed.cursors.push(e.cursor);
    }
  }
  return {
    events: whole,
    landed: {
      runIds: landed.runIds,
      seqs: Float64Array.from(landed.seqs),
      cursors: Float64Array.from(landed.cursors),
    },
  };
}

/** The run of a write that numbered its events here (its owner waits to hear the run's last seq). */
function numberedRun(request: WriterRequest): string | undefined {
  switch (request.op) {
    case 'startRun':
    case 'setRunStatus':
      return request.args[0];
    case 'markUnfinished':
      return request.args[0]?.runId;
    default:
      return undefined;
  }
}

/** The seqs reserved for a run's next emitted events; undefined when the store cannot tell (it failed). */
function reserve(runId: string): { from: number; to: number } | undefined {
  try {
    return store.reserveSeqs(runId, seqBlock);
  } catch {
    return undefined;
  }
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
function commitTurns(requests: TurnRequest[], results: Results): boolean {
  try {
    const value = store.appendTurns(
      requests.flatMap((r) => r.args[0]),
      {
        ...requests[0]!.args[1],
        emitted: requests.flatMap((r) => r.args[1]?.emitted ?? r.args[0].map(() => undefined)),
      },
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
      return store.appendGroup(request.args[0], request.args[1]);
    case 'appendTurns':
      return store.appendTurns(request.args[0], request.args[1]);
    case 'appendStepMetrics':
      return store.appendStepMetrics(...request.args);
    case 'startRun':
      return store.startRun(...request.args);
    case 'setRunStatus':
      return store.setRunStatus(...request.args);
    case 'markUnfinished':
      return store.markUnfinished(...request.args);
    case 'reserveSeqs':
      return store.reserveSeqs(...request.args);
  }
}

const knownPieces = new KnownPieces();

/** A write as it was handed over (unpacked in arrival order: a turn's pieces may refer to earlier ones). */
function unpack({ spans, turnJson, turnsJson, ...request }: WriterMessage): WriterRequest {
  switch (request.op) {
    case 'appendGroup': {
      const group = unpackGroup(request.args[0], unpacker(reader, spans), turnsJson);
      return { ...request, args: [group, request.args[1]] };
    }
    case 'appendTurns': {
      const runId = request.args[1]?.runId;
      const take = unpacker(reader, spans);
      const turns = request.args[0].map((t, i) =>
        unpackTurn(t, t?.runId ?? runId, knownPieces, take, turnJson?.[i]),
      );
      return { ...request, args: [turns, request.args[1]] };
    }
    default:
      return request;
  }
}

function describe(error: unknown): { code?: string; message: string; hint?: string } {
  if (error instanceof ToolGymError)
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { message: error instanceof Error ? error.message : String(error) };
}

/**
 * Where a learner step's wall time goes: the forward pass (inside the gradient tape), the backward
 * pass (and accumulating micro-batch gradients), the optimiser step, and, data-parallel, the gradient
 * sync between replicas. `pnpm bench learner --profile` prints it per optimiser step.
 *
 * Beside wall time, each thread's own CPU time and its time ready to run but waiting for a core
 * (Linux's per-thread schedstat): on a shared machine the wall clock counts other processes' turns,
 * while a thread's CPU time is its own work, so data-parallel efficiency can be read from CPU times
 * when two idle cores are not to be had.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export type LearnerPhase = 'forward' | 'backward' | 'optimizer' | 'sync';

/** One data-parallel replica's share of the steps. */
export interface ReplicaProfile {
  /** Wall ms the replica spent computing (forward, backward, optimiser, its side of the sync). */
  busyMs: number;
  /** Its thread's CPU ms over the same calls. */
  cpuMs: number;
  /** Wall ms it sat idle inside the batch's calls, waiting for the slowest replica (and messaging). */
  waitMs: number;
}

export interface LearnerProfile {
  /** Optimiser steps. */
  steps: number;
  ms: Record<LearnerPhase, number>;
  /** CPU ms of the computing thread over those phases (NaN where the OS does not report it). */
  cpuMs: number;
  /** Wall ms the computing thread was ready but waiting for a core (other processes' turns). */
  runQueueMs: number;
  /** Data-parallel: each replica's figures; `cpuMs` then is the calling thread's own share of the sync. */
  replicas?: ReplicaProfile[];
  /**
   * Learner in worker threads: each call to a worker since the last profile (the latest
   * `MAX_TIMED_CALLS`), stamped on the process clock.
   */
  calls?: WorkerCallTiming[];
}

/** The latest calls a worker learner keeps for its profile (a run that never takes one stays bounded). */
export const MAX_TIMED_CALLS = 4096;

/** One call to a learner worker, each stamp in ms on `processClockMs`. */
export interface WorkerCallTiming {
  method: string;
  replica: number;
  /** The calling thread began the call (before serialising its arguments). */
  sent: number;
  /** `postMessage` returned: the arguments are serialised and queued. */
  posted: number;
  /** The worker's message handler ran. */
  received: number;
  /** The worker began the call (the calls before it done). */
  started: number;
  /** The worker finished it (before serialising the reply). */
  ended: number;
  /** The calling thread had the reply. */
  replied: number;
  /** The worker thread's CPU ms and run-queue ms during the call. */
  cpuMs: number;
  runQueueMs: number;
}

/**
 * A monotonic clock every thread of the process shares, in ms (`performance.now()` counts from each
 * thread's own start, so stamps of two threads would not compare).
 */
export function processClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The calling thread's id (Linux's tid, as in `/proc/<pid>/task`); undefined off Linux. */
export function threadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

/**
 * Every thread of this process with its CPU and run-queue ms so far, by thread id: beside the
 * main thread and workers, V8's helper threads (garbage collection, the optimising compiler) and
 * libuv's. Empty off Linux.
 */
export function processThreadTimes(): Map<number, { cpuMs: number; runQueueMs: number }> {
  const times = new Map<number, { cpuMs: number; runQueueMs: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        times.set(Number(tid), schedstatMs(`/proc/self/task/${tid}/schedstat`));
      } catch {
        // the thread ended between listing and reading
      }
    }
  } catch {
    // not Linux
  }
  return times;
}

/** A thread's schedstat file (nanoseconds on a CPU, nanoseconds waiting to run) in ms. */
function schedstatMs(file: string): { cpuMs: number; runQueueMs: number } {
  const [cpu, queued] = readFileSync(file, 'utf8').split(' ').map(Number);
  return { cpuMs: cpu! / 1e6, runQueueMs: queued! / 1e6 };
}

export function emptyLearnerProfile(): LearnerProfile {
  return { steps: 0, ms: { forward: 0, backward: 0, optimizer: 0, sync: 0 }, cpuMs: 0, runQueueMs: 0 };
}

/**
 * The calling thread's CPU time and run-queue wait so far, in ms (`/proc/thread-self/schedstat`:
 * nanoseconds on a CPU, nanoseconds waiting to run); NaN off Linux.
 */
export function threadTimes(): { cpuMs: number; runQueueMs: number } {
  try {
    return schedstatMs('/proc/thread-self/schedstat');
  } catch {
    return { cpuMs: Number.NaN, runQueueMs: Number.NaN };
  }
}

/** Starts counting the calling thread's CPU and run-queue time; the function returned adds it to `profile`. */
export function startThreadClock(profile: LearnerProfile): () => void {
  const start = threadTimes();
  return () => {
    const end = threadTimes();
    profile.cpuMs += end.cpuMs - start.cpuMs;
    profile.runQueueMs += end.runQueueMs - start.runQueueMs;
  };
}

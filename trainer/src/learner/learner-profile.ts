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
import { readFileSync } from 'node:fs';

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
    const [cpu, queued] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return { cpuMs: cpu! / 1e6, runQueueMs: queued! / 1e6 };
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

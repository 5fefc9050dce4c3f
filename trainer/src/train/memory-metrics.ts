/**
 * The `memory/` metrics of an RL step: where the trainer's memory stands once the step (and its
 * evaluation) is done, so a run's metrics show which part grows from step to step. They differ run
 * to run (allocators, garbage collection), so the metrics digest leaves them out, as it does `timing/`.
 */
import { readFileSync } from 'node:fs';
import type { Learner } from '../learner/learner.ts';

const MB = 2 ** 20;

/** The process's resident set and its peak so far, in bytes: Linux's VmRSS and VmHWM; elsewhere `rss` for both. */
export function residentBytes(): { rss: number; peak: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    if (Number.isFinite(rss) && Number.isFinite(peak)) return { rss: rss * 1024, peak: peak * 1024 };
  } catch {
    // not Linux
  }
  const { rss } = process.memoryUsage();
  return { rss, peak: rss };
}

/**
 * MB resident (`rss_mb`, `peak_rss_mb`), of the main thread's JavaScript heap (`js_heap_mb`), of
 * array buffers outside it (`array_buffers_mb`: token arrays, the policy's KV cache) and of the
 * trained learner's compute heap (`learner_heap_mb`, its wasm memory over all workers; a KL reference's
 * or PRIME's learners are not in it).
 */
export async function memoryMetrics(learner: Learner): Promise<Record<string, number>> {
  const { rss, peak } = residentBytes();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  const learnerHeap = await learner.heapBytes?.();
  return {
    'memory/rss_mb': rss / MB,
    'memory/peak_rss_mb': peak / MB,
    'memory/js_heap_mb': heapUsed / MB,
    'memory/array_buffers_mb': arrayBuffers / MB,
    ...(learnerHeap !== undefined ? { 'memory/learner_heap_mb': learnerHeap / MB } : {}),
  };
}

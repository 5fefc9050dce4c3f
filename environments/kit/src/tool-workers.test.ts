/**
 * The worker pool's deadline counts a tool's own running time: a reply that arrived while the
 * event loop was busy elsewhere (a learner step, a long render, a starved process on a loaded
 * host) is the call's result, not a `tool_timeout`.
 */
import { describe, expect, it } from 'vitest';
import limits from '../test/fixtures/limits-env.ts';
import { ToolDeadlineError, ToolWorkerPool } from './tool-workers.ts';

const moduleUrl = new URL('../test/fixtures/limits-env.ts', import.meta.url).href;

/** Holds this thread, as synchronous work elsewhere in the process would. */
function holdEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('ToolWorkerPool deadlines', () => {
  it('keeps a reply that came back while the event loop was held past the deadline', async () => {
    const pool = new ToolWorkerPool(moduleUrl);
    try {
      expect(await pool.run(limits.ref, 'echo', { text: 'warm' }, 5_000)).toBe('warm');
      for (let i = 0; i < 5; i++) {
        // 20 ms of work against a 200 ms deadline, but the reply is read only after 600 ms.
        const call = pool.run(limits.ref, 'spin', { ms: 20 }, 200);
        holdEventLoop(600);
        await expect(call).resolves.toBe('spun 20 ms');
      }
    } finally {
      await pool.close();
    }
  });

  it('still stops a tool that runs past its deadline', async () => {
    const pool = new ToolWorkerPool(moduleUrl);
    try {
      await expect(pool.run(limits.ref, 'spin', { ms: 0 }, 200)).rejects.toBeInstanceOf(ToolDeadlineError);
      expect(await pool.run(limits.ref, 'echo', { text: 'after' }, 5_000)).toBe('after');
    } finally {
      await pool.close();
    }
  });
});

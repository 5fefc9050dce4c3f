/**
 * An async tool whose synchronous part ends past the sync budget (on a loaded machine the
 * watchdog thread fires late, or the main thread stalls just as the tool returns) has already
 * started its work: its promise must be awaited, so its later failure becomes the call's `isError`
 * result and never an unhandled rejection that ends the process.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEnvironment } from './define-environment.ts';
import { Environment } from './episode.ts';
import { ToolError } from './errors.ts';
import { weightedReward } from './reward.ts';
import { runWithinBudget } from './sync-budget.ts';

const SYNC_BUDGET_MS = 20;

/** Blocks this thread in native code, where the watchdog cannot stop it, for `ms`. */
const blockNatively = (ms: number) => spawnSync('sleep', [String(ms / 1000)]);

const slow = defineEnvironment<object, object>({
  id: 'slow-start',
  version: 1,
  description: 'One tool whose synchronous start-up is slow, then fails later.',
  config: z.object({}),
  tasks: () => [{ id: 't', prompt: 'Call the tool.', split: 'train', meta: {} }],
  tools: {
    run_job: {
      description: 'Queues a job that finds no free resource.',
      input: z.object({}),
      run: () => {
        const queued = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new ToolError('no resource became free', 'resource_busy');
        })();
        blockNatively(SYNC_BUDGET_MS * 10);
        return queued;
      },
    },
  },
  setup: () => ({}),
  grade: () => weightedReward({ correct: 0 }, { correct: 1 }),
  rewardRange: [0, 1],
  limits: { syncBudgetMs: SYNC_BUDGET_MS },
});

const unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', record);
});
afterEach(() => {
  process.off('unhandledRejection', record);
});

describe('the sync budget', () => {
  it('gives every promise a stopped run made a handler, so its later rejection ends nothing', async () => {
    const run = runWithinBudget(() => {
      Promise.reject(new ToolError('work the stopped run left behind', 'resource_busy'));
      for (;;);
    }, SYNC_BUDGET_MS);
    expect(run).toEqual({ finished: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });

  it('ends an async tool call that overran its budget as an isError result, with no unhandled rejection', async () => {
    const episode = await new Environment(slow, {}).openEpisode({ taskId: 't' });
    const outcome = await episode.callTool('run_job', {});
    // Where the watchdog lands is up to the scheduler: it stops the tool part-way (tool_timeout)
    // or after it returned (the tool's own error). Either way the call ends as an isError result.
    expect(outcome.isError).toBe(true);
    expect(['tool_timeout', 'resource_busy']).toContain(outcome.errorCode);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(unhandled).toEqual([]);
    await episode.close();
  });
});

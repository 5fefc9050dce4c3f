import { promiseHooks } from 'node:v8';
import vm from 'node:vm';

/**
 * Runs `fn` on this thread and stops it if its synchronous part runs longer than `budgetMs`.
 *
 * JavaScript cannot interrupt a function that never yields, but V8 can terminate the running
 * script, and Node's `vm` does exactly that for a script given a `timeout`, then turns the
 * termination into an ordinary error at the script's boundary. So the function is called from a
 * one-line script in a context of its own: a busy loop ends after the budget, and whatever
 * the event loop was doing for other episodes resumes. Arming the watchdog costs a thread start
 * (about 0.1 ms), which is why pure tools take the worker path instead (`tool-workers.ts`).
 *
 * The function itself keeps its own realm: what it returns and throws are this realm's values.
 *
 * The watchdog may fire after `fn` has returned (a loaded machine runs the watchdog thread late,
 * or stalls the main thread just as the script ends): the call then still counts as finished,
 * because an async tool's returned promise is live work that must be awaited, or its later
 * rejection would have no handler and end the process. When the watchdog stops `fn` part-way,
 * the work it had started (a queued sandbox, a running query) lives on with nobody to await it:
 * every promise made during the run is given a handler, so that work fails quietly instead.
 */
const context = vm.createContext({ call: undefined as (() => unknown) | undefined });
const script = new vm.Script('call()', { filename: 'toolgym-sync-budget.js' });

export type BudgetedResult<T> = { finished: true; value: T } | { finished: false };

export function runWithinBudget<T>(fn: () => T, budgetMs: number): BudgetedResult<T> {
  const previous = context.call;
  let returned: { value: T } | undefined;
  context.call = () => {
    const value = fn();
    returned = { value };
    return value;
  };
  const made: Array<Promise<unknown>> = [];
  const stopWatching = promiseHooks.onInit((promise) => made.push(promise));
  try {
    script.runInContext(context, { timeout: Math.max(1, Math.floor(budgetMs)) });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error;
  } finally {
    stopWatching();
    // A tool that runs another budgeted call keeps its own function in place.
    context.call = previous;
  }
  if (returned) return { finished: true, value: returned.value };
  // Only the watchdog gets here without a returned value: `fn`'s own throw went out above.
  for (const promise of made) promise.catch(() => {});
  return { finished: false };
}

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
 */
const context = vm.createContext({ call: undefined as (() => unknown) | undefined });
const script = new vm.Script('call()', { filename: 'toolgym-sync-budget.js' });

export type BudgetedResult<T> = { finished: true; value: T } | { finished: false };

export function runWithinBudget<T>(fn: () => T, budgetMs: number): BudgetedResult<T> {
  const previous = context.call;
  context.call = fn;
  try {
    return { finished: true, value: script.runInContext(context, { timeout: Math.max(1, Math.floor(budgetMs)) }) as T };
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { finished: false };
    throw error;
  } finally {
    // A tool that runs another budgeted call keeps its own function in place.
    context.call = previous;
  }
}

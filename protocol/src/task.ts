import { z } from 'zod';

/**
 * Which part of an environment's task set a task belongs to. `test` holds out what the
 * environment declares as its unit of skill (a template, a database, a problem family …: see
 * `heldOut` in env-kit), so passing it measures the skill; `test-iid` holds out instances of units
 * that train also has, which measures fitting the seen units.
 */
export const SplitSchema = z.enum(['train', 'test', 'test-iid']);
export type Split = z.infer<typeof SplitSchema>;

/**
 * One task of an environment. `answer` is the environment's own gold data (a string, a SQL query,
 * a diagnosis …): graders and the oracle read it, the agent never sees it.
 */
export const TaskSchema = z.object({
  id: z.string().min(1),
  split: SplitSchema,
  prompt: z.string(),
  answer: z.unknown().optional(),
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type Task = z.infer<typeof TaskSchema>;

/** Whether each `task.meta[key]` equals the wanted value, or is one of a wanted list. */
export function taskMatchesMeta(task: Task, meta: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(meta).every(([key, want]) => {
    const have = task.meta?.[key];
    return Array.isArray(want) ? want.includes(have) : have === want;
  });
}

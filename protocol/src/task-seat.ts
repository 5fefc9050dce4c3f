import { z } from 'zod';
import type { Task } from './task.ts';

/**
 * The seat a task plays in a game of several players, declared in its meta. `match` names the
 * match (the same for all its seats), `seat` is the task's seat in it (0-based) of `seats`, and
 * `role` the part it plays (a seat of a game, e.g. `kuhn-poker/p0`), which role-conditioned
 * advantages keep one baseline for. Episodes of the match's seats started with one `match` id
 * (`toolgym/episode/start`) play one game against each other (self-play); started without one,
 * each plays the environment's scripted opponents.
 */
export const TaskSeatSchema = z.object({
  match: z.string().min(1),
  seat: z.number().int().nonnegative(),
  seats: z.number().int().min(2),
  role: z.string().min(1),
});
export type TaskSeat = z.infer<typeof TaskSeatSchema>;

/** The seat a task declares in its meta; undefined for a task of a single-player environment. */
export function taskSeatOf(task: Pick<Task, 'meta'>): TaskSeat | undefined {
  const parsed = TaskSeatSchema.safeParse(task.meta);
  return parsed.success && parsed.data.seat < parsed.data.seats ? parsed.data : undefined;
}

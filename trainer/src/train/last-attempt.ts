import type { Trajectory } from '@toolgym/protocol';

/**
 * The trajectory trained from its last attempt on (`environment.feedback.trainOn: last-attempt`):
 * the loss mask is cleared up to the end of the last observation that is the environment's
 * feedback (a tool result that begins with `message`), so the failed attempts and the feedback
 * stay in context and only the re-attempt after them has gradient. An episode right at its first
 * answer is unchanged.
 */
export function fromLastAttempt(t: Trajectory, message: string): Trajectory {
  const last = t.turns.findLast((turn) => turn.toolResults.some((r) => r.content.startsWith(message)));
  if (!last) return t;
  const start = last.observation.end;
  return { ...t, lossMask: t.lossMask.map((m, i) => (i < start ? 0 : m)) };
}

import type { Trajectory } from '@toolgym/protocol';

/**
 * The trajectory trained from its last attempt on (`environment.feedback.trainOn: last-attempt`):
 * the sampled tokens of every turn up to the last one the environment answered with its feedback
 * (a tool result that begins with `message`) lose their loss mask, in whichever sequence (the
 * episode, or a branch after a history rewrite) they were sampled, so the failed attempts and the
 * feedback stay in context and only the re-attempt after them has gradient. An episode right at its
 * first answer is unchanged.
 */
export function fromLastAttempt(t: Trajectory, message: string): Trajectory {
  const last = t.turns.findLastIndex((turn) => turn.toolResults.some((r) => r.content.startsWith(message)));
  if (last < 0) return t;
  const main = t.branches?.length ?? 0;
  const untrained = (lossMask: Uint8Array, sequence: number): Uint8Array => {
    const mask = lossMask.slice();
    for (const turn of t.turns.slice(0, last + 1))
      if ((turn.branch ?? main) === sequence) mask.fill(0, turn.sampled.start, turn.sampled.end);
    return mask;
  };
  return {
    ...t,
    lossMask: untrained(t.lossMask, main),
    ...(t.branches
      ? { branches: t.branches.map((b, i) => ({ ...b, lossMask: untrained(b.lossMask, i) })) }
      : {}),
  };
}

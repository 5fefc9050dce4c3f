import type { EpisodeTurn, TrajectoryGroup } from '@toolgym/protocol';

/**
 * The copy of a write to the writer thread. Structured clone copies a JS array of numbers element
 * by element, and the token arrays are most of a trajectory: packed into Float64Arrays (exact for
 * every number) they are copied as bytes, about half the handover's cost on the caller's thread.
 * An array holding anything but numbers is sent as it is, so the thread's validation still names it.
 */

const TRAJECTORY_ARRAYS = ['tokens', 'lossMask', 'logprobs', 'policyLogprobs', 'advantages'] as const;
const TURN_ARRAYS = ['ids', 'lossMask', 'logprobs', 'policyLogprobs'] as const;

function pack(values: unknown): unknown {
  if (!Array.isArray(values)) return values;
  const packed = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== 'number') return values;
    packed[i] = v;
  }
  return packed;
}

function unpack(values: unknown): unknown {
  return values instanceof Float64Array ? Array.from(values) : values;
}

function mapFields<T extends object>(
  object: T,
  fields: readonly string[],
  f: (values: unknown) => unknown,
): T {
  const copy = { ...object } as Record<string, unknown>;
  for (const field of fields) if (field in copy) copy[field] = f(copy[field]);
  return copy as T;
}

function mapGroup(group: TrajectoryGroup, f: (values: unknown) => unknown): TrajectoryGroup {
  if (!Array.isArray(group?.trajectories)) return group;
  return {
    ...group,
    trajectories: group.trajectories.map((t) =>
      t && typeof t === 'object' ? mapFields(t, TRAJECTORY_ARRAYS, f) : t,
    ),
  };
}

function mapTurn(turn: EpisodeTurn, f: (values: unknown) => unknown): EpisodeTurn {
  if (!turn?.tokens || typeof turn.tokens !== 'object') return turn;
  return { ...turn, tokens: mapFields(turn.tokens, TURN_ARRAYS, f) };
}

/** A group as it crosses to the writer thread (its number arrays as Float64Arrays). */
export const packGroup = (group: TrajectoryGroup) => mapGroup(group, pack);
/** The group as the caller handed it over. */
export const unpackGroup = (group: TrajectoryGroup) => mapGroup(group, unpack);
export const packTurn = (turn: EpisodeTurn) => mapTurn(turn, pack);
export const unpackTurn = (turn: EpisodeTurn) => mapTurn(turn, unpack);

import {
  type EpisodeTurn,
  plainArray,
  type Trajectory,
  type TrajectoryGroup,
  type Turn,
} from '@toolgym/protocol';
import {
  copyNumbers,
  isNumberArray,
  type NumberRing,
  type RingReader,
  type RingSpan,
} from './number-ring.ts';

/**
 * The copy of a write to the writer thread. Structured clone copies a JS array of numbers element
 * by element, and the token arrays are most of a trajectory: they go into the ring shared with the
 * thread (`number-ring.ts`), or, when it is full, packed into Float64Arrays (exact for every number)
 * that are copied as bytes. An array holding anything but numbers is sent as it is, so the thread's
 * validation still names it. Plain and typed arrays both cross (a typed array on shared memory as
 * a view of it); the thread gets plain arrays.
 *
 * A turn's `turn` (and a trajectory's `turns`) crosses as the JSON made for its feed event: one
 * string copy where structured clone would walk the object again.
 */

/** Where each number array of one write went, in the order the fields are visited: a span of the ring, or null (in the message). */
export type Spans = Array<RingSpan | null>;
type Unpack = (values: unknown) => unknown;

const TRAJECTORY_ARRAYS = ['tokens', 'lossMask', 'logprobs', 'policyLogprobs', 'advantages'] as const;
const TURN_ARRAYS = ['ids', 'lossMask', 'logprobs', 'policyLogprobs'] as const;

function pack(values: unknown): unknown {
  if (!isNumberArray(values) || isShared(values)) return values;
  const packed = new Float64Array(values.length);
  return copyNumbers(values, packed, 0) ? packed : values;
}

function unpack(values: unknown): unknown {
  return ArrayBuffer.isView(values) && isNumberArray(values)
    ? plainArray(values as ArrayLike<number>)
    : values;
}

/**
 * A typed array on memory already shared with the thread (a rollout engine that records tokens in a
 * SharedArrayBuffer): it crosses as a view of that memory, with no copy. The record it views must
 * only grow, never be written over, until the write is committed.
 */
function isShared(values: unknown): boolean {
  return ArrayBuffer.isView(values) && values.buffer instanceof SharedArrayBuffer && isNumberArray(values);
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

/** Each array into the ring when it fits (a 0 left in its place), else packed into the message. */
function packer(ring: NumberRing, spans: Spans): (values: unknown) => unknown {
  return (values) => {
    const span = isNumberArray(values) && !isShared(values) ? ring.put(values) : undefined;
    spans.push(span ?? null);
    return span ? 0 : pack(values);
  };
}

/**
 * The arrays of one write back, from the ring or the message: each call takes the next span, so the
 * fields (of every turn of the write, in order) are visited in the order `packer` visited them.
 */
export function unpacker(reader: RingReader, spans: Spans | undefined): Unpack {
  let i = 0;
  return (values) => {
    const span = spans?.[i++];
    return span ? reader.take(span) : unpack(values);
  };
}

/**
 * A group as it crosses to the writer thread (its number arrays in `ring`, their spans added to
 * `spans`). With `turnsJson` (each trajectory's turns as JSON, made for its events), the turns are
 * left out: the thread parses them from it.
 */
export function packGroup(
  group: TrajectoryGroup,
  ring: NumberRing,
  spans: Spans,
  turnsJson?: readonly string[],
): TrajectoryGroup {
  const packed = mapGroup(group, packer(ring, spans));
  if (!turnsJson) return packed;
  return {
    ...packed,
    trajectories: packed.trajectories.map(({ turns: _, ...t }) => t as Trajectory),
  };
}

/** The group as the caller handed it over (`turnsJson`: its trajectories' turns, when they crossed as JSON). */
export function unpackGroup(
  group: TrajectoryGroup,
  take: Unpack,
  turnsJson?: readonly string[],
): TrajectoryGroup {
  const unpacked = mapGroup(group, take);
  if (!turnsJson) return unpacked;
  return {
    ...unpacked,
    trajectories: unpacked.trajectories.map((t, i) => ({ ...t, turns: JSON.parse(turnsJson[i]!) as Turn[] })),
  };
}

/**
 * A turn's pieces as they cross: only those of ids whose piece has not crossed for the run before.
 * A piece is a token's text, the same every time the run's tokenizer decodes it, and copying a few
 * hundred short strings per turn cost more than the rest of the turn together.
 */
interface PieceDelta {
  newIds: number[];
  newPieces: string[];
}

/** Beyond this, ids are not tracked (their pieces cross whole); real vocabularies are far smaller. */
const MAX_TRACKED_ID = 1 << 22;

/** Per run, which ids' pieces crossed already (a byte per id). */
export class SentPieces {
  private readonly runs = new Map<string, Uint8Array>();

  /** The delta to send instead of `pieces`, or undefined when they must cross whole. */
  delta(runId: string | undefined, ids: unknown, pieces: unknown): PieceDelta | undefined {
    if (runId === undefined || !isNumberArray(ids) || !Array.isArray(pieces) || ids.length !== pieces.length)
      return undefined;
    let sent = this.runs.get(runId) ?? new Uint8Array(0);
    const newIds: number[] = [];
    const newPieces: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id: unknown = ids[i];
      const piece: unknown = pieces[i];
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= MAX_TRACKED_ID) return undefined;
      if (typeof piece !== 'string') return undefined;
      if ((id as number) < sent.length && sent[id as number] === 1) continue;
      newIds.push(id as number);
      newPieces.push(piece);
    }
    for (const id of newIds) {
      if (id >= sent.length) {
        const grown = new Uint8Array(Math.max(id + 1, sent.length * 2, 1024));
        grown.set(sent);
        sent = grown;
      }
      sent[id] = 1;
    }
    this.runs.set(runId, sent);
    return { newIds, newPieces };
  }
}

/** The pieces that crossed for each run, to rebuild each turn's pieces on the writer thread. */
export class KnownPieces {
  private readonly runs = new Map<string, Map<number, string>>();

  /** `pieces` as the caller handed them over: a delta is filled in from what crossed before. */
  restore(runId: string, ids: readonly number[], pieces: PieceDelta): string[] {
    let known = this.runs.get(runId);
    if (!known) {
      known = new Map();
      this.runs.set(runId, known);
    }
    for (let i = 0; i < pieces.newIds.length; i++) {
      if (!known.has(pieces.newIds[i]!)) known.set(pieces.newIds[i]!, pieces.newPieces[i]!);
    }
    return ids.map((id) => known.get(id)!);
  }
}

/**
 * A turn as it crosses: its number arrays as a group's, its pieces as a delta when `sent` allows
 * one. With `turnJson` (its `turn` as JSON, made for its event), its `turn` is left out.
 */
export function packTurn(
  turn: EpisodeTurn,
  runId: string | undefined,
  sent: SentPieces,
  ring: NumberRing,
  spans: Spans,
  turnJson?: string,
): EpisodeTurn {
  const packed = mapTurn(turn, packer(ring, spans));
  const delta = sent.delta(runId, turn?.tokens?.ids, turn?.tokens?.pieces);
  if (delta) packed.tokens = { ...packed.tokens, pieces: delta as unknown as string[] };
  if (turnJson === undefined) return packed;
  const { turn: _, ...rest } = packed;
  return rest as EpisodeTurn;
}

/** The turn as the caller handed it over (`turnJson`: its `turn`, when it crossed as JSON). */
export function unpackTurn(
  turn: EpisodeTurn,
  runId: string | undefined,
  known: KnownPieces,
  take: Unpack,
  turnJson?: string,
): EpisodeTurn {
  const unpacked = mapTurn(turn, take);
  if (turnJson !== undefined) unpacked.turn = JSON.parse(turnJson) as Turn;
  const pieces: unknown = unpacked?.tokens?.pieces;
  if (pieces && !Array.isArray(pieces) && runId !== undefined)
    unpacked.tokens.pieces = known.restore(runId, unpacked.tokens.ids, pieces as PieceDelta);
  return unpacked;
}

import { z } from 'zod';

/**
 * A trajectory's per-token arrays live in typed arrays in memory: `Int32Array` ids, `Uint8Array`
 * loss mask (0/1), `Float64Array` logprobs. The agent loop records them so, and a trajectory keeps
 * the loop's arrays without a copy. JSON holds them as arrays of numbers: parsing turns those into
 * typed arrays, and `plainArray` turns them back (the number each element holds is the same, so
 * the JSON is byte for byte what a plain array wrote).
 */
export type TokenArray = Int32Array | Uint8Array | Float64Array;

/** Token ids as a reader takes them: a trajectory's (or the agent loop's) `Int32Array`, or a plain array. */
export type TokenIds = Int32Array | readonly number[];

interface TokenArrayOf<T extends TokenArray> {
  readonly name: string;
  from(values: ArrayLike<number>): T;
}

/**
 * A typed per-token array: JSON's array of numbers (checked by `element`), or the typed array
 * itself (checked by `valid`, element by element); both parse to the typed array. JSON Schema
 * shows the array of numbers only: a typed array is never on the wire.
 */
export function tokenArraySchema<T extends TokenArray>(
  of: TokenArrayOf<T>,
  element: z.ZodType<number>,
  valid: (value: number) => boolean,
  expected: string,
) {
  const typed = z
    .custom<T>(
      (values) => values instanceof (of as unknown as abstract new () => T) && every(values, valid),
      `expected a ${of.name} of ${expected}`,
    )
    .meta({ not: {} });
  return z
    .union([z.array(element), typed])
    .transform((values): T => (Array.isArray(values) ? of.from(values) : (values as T)));
}

function every(values: ArrayLike<number>, valid: (value: number) => boolean): boolean {
  for (let i = 0; i < values.length; i++) if (!valid(values[i]!)) return false;
  return true;
}

/**
 * `values` from position `from` on, as a plain array: what JSON writes (it writes a typed array as
 * an object). An indexed copy: several times faster than `Array.from` or a spread of a typed array.
 */
export function plainArray(values: ArrayLike<number>, from = 0): number[] {
  const out = new Array<number>(Math.max(0, values.length - from));
  for (let i = from; i < values.length; i++) out[i - from] = values[i]!;
  return out;
}

import { describe, expect, it } from 'vitest';
import { isNumberArray, NumberRing, RingReader } from '../src/number-ring.ts';

describe('the number ring shared with the writer thread', () => {
  it('gives back exactly what was put, and refuses what would overwrite what the reader has not taken', () => {
    const ring = NumberRing.create(10 * 8);
    const reader = new RingReader(ring.shared);
    const a = ring.put([1, -0.5, 2 ** 53, Number.NEGATIVE_INFINITY])!;
    const b = ring.put([3, 4, 5, 6])!;
    // Two numbers of room left: a third array of four does not fit, and nothing was written over.
    expect(ring.put([7, 8, 9, 10])).toBeUndefined();
    const end = ring.publish();
    reader.acquire();
    expect(reader.take(a)).toEqual([1, -0.5, 2 ** 53, Number.NEGATIVE_INFINITY]);
    expect(reader.take(b)).toEqual([3, 4, 5, 6]);
    reader.release(end);
    // Freed: an array that does not fit in the tail skips it and starts over at 0, never wrapping.
    const c = ring.put([7, 8, 9, 10])!;
    expect(c).toEqual([0, 4]);
    expect(reader.take(c)).toEqual([7, 8, 9, 10]);
    // The skipped tail counts as used until the reader is past it: four numbers free, not six.
    expect(ring.put([11, 12, 13, 14, 15])).toBeUndefined();
    reader.release(ring.publish());
    const d = ring.put([11, 12, 13, 14, 15, 16])!;
    expect(d).toEqual([4, 6]);
    expect(reader.take(d)).toEqual([11, 12, 13, 14, 15, 16]);
  });

  it('leaves an array holding anything but numbers, or larger than the ring, to cross in the message', () => {
    const ring = NumberRing.create(4 * 8);
    expect(ring.put([1, '2', 3])).toBeUndefined();
    expect(ring.put([1, 2, 3, 4, 5])).toBeUndefined();
    // The refused puts took no room.
    expect(ring.put([1, 2, 3, 4])).toEqual([0, 4]);
  });

  it('takes typed arrays as they are (one copy), and leaves arrays of BigInts to the message', () => {
    const ring = NumberRing.create(64 * 8);
    const reader = new RingReader(ring.shared);
    const ids = ring.put(Int32Array.from([7, 0, 2 ** 31 - 1]))!;
    const mask = ring.put(Uint8Array.from([0, 1, 1]))!;
    const logprobs = ring.put(Float64Array.from([-0.25, -1e-300, Number.NEGATIVE_INFINITY]))!;
    expect(ring.put(BigInt64Array.from([1n]))).toBeUndefined();
    reader.acquire();
    expect(reader.take(ids)).toEqual([7, 0, 2 ** 31 - 1]);
    expect(reader.take(mask)).toEqual([0, 1, 1]);
    expect(reader.take(logprobs)).toEqual([-0.25, -1e-300, Number.NEGATIVE_INFINITY]);
    expect(isNumberArray(new Float32Array(2))).toBe(true);
    expect(isNumberArray(new DataView(new ArrayBuffer(8)))).toBe(false);
  });
});

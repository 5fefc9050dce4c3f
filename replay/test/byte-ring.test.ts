import { describe, expect, it } from 'vitest';
import { ByteRing, isNumberArray, RingReader } from '../src/byte-ring.ts';

describe('the byte ring shared with the writer thread', () => {
  it('gives back exactly what was put, and refuses what would overwrite what the reader has not taken', () => {
    const ring = ByteRing.create(10 * 8);
    const reader = new RingReader(ring.shared);
    const a = ring.put([1, -0.5, 2 ** 53, Number.NEGATIVE_INFINITY])!;
    const b = ring.put([3, 4, 5, 6])!;
    // Sixteen bytes of room left: a third array of four numbers does not fit, and nothing was written over.
    expect(ring.put([7, 8, 9, 10])).toBeUndefined();
    const end = ring.publish();
    reader.acquire();
    expect(reader.take(a)).toEqual([1, -0.5, 2 ** 53, Number.NEGATIVE_INFINITY]);
    expect(reader.take(b)).toEqual([3, 4, 5, 6]);
    reader.release(end);
    // Freed: an array that does not fit in the tail skips it and starts over at 0, never wrapping.
    const c = ring.put([7, 8, 9, 10])!;
    expect(c.slice(0, 2)).toEqual([0, 4]);
    expect(reader.take(c)).toEqual([7, 8, 9, 10]);
    // The skipped tail counts as used until the reader is past it: 32 bytes free, not 48.
    expect(ring.put([11, 12, 13, 14, 15])).toBeUndefined();
    reader.release(ring.publish());
    const d = ring.put([11, 12, 13, 14, 15, 16])!;
    expect(d.slice(0, 2)).toEqual([32, 6]);
    expect(reader.take(d)).toEqual([11, 12, 13, 14, 15, 16]);
  });

  it('leaves an array holding anything but numbers, or larger than the ring, to cross in the message', () => {
    const ring = ByteRing.create(4 * 8);
    expect(ring.put([1, '2', 3])).toBeUndefined();
    expect(ring.put([1, 2, 3, 4, 5])).toBeUndefined();
    // The refused puts took no room.
    expect(ring.put([1, 2, 3, 4])!.slice(0, 2)).toEqual([0, 4]);
  });

  it('takes typed arrays as their own bytes (one copy), and leaves arrays of BigInts to the message', () => {
    const ring = ByteRing.create(64 * 8);
    const reader = new RingReader(ring.shared);
    const ids = ring.put(Int32Array.from([7, 0, 2 ** 31 - 1]))!;
    const mask = ring.put(Uint8Array.from([0, 1, 1]))!;
    const logprobs = ring.put(Float64Array.from([-0.25, -1e-300, Number.NEGATIVE_INFINITY]))!;
    expect(ring.put(BigInt64Array.from([1n]))).toBeUndefined();
    // Three Int32s take 16 bytes (12, aligned to 8), three Uint8s 8: the logprobs start at 24.
    expect(logprobs[0]).toBe(24);
    reader.acquire();
    expect(reader.take(ids)).toEqual([7, 0, 2 ** 31 - 1]);
    expect(reader.take(mask)).toEqual([0, 1, 1]);
    expect(reader.take(logprobs)).toEqual([-0.25, -1e-300, Number.NEGATIVE_INFINITY]);
    expect(isNumberArray(new Float32Array(2))).toBe(true);
    expect(isNumberArray(new DataView(new ArrayBuffer(8)))).toBe(false);
  });

  it('holds a record whole: its text (any UTF-8) and its arrays, plain, typed or absent', () => {
    const ring = ByteRing.create(4096);
    const reader = new RingReader(ring.shared);
    const text = JSON.stringify({ content: 'naïve 🦀 \u0000 "quoted"', lone: '\ud800' });
    const at = ring.putRecord(text, [[5, 2 ** 31, 0.1], Uint8Array.from([1, 0]), undefined, new Float64Array(0)])!;
    const next = ring.putRecord('x', [[1]])!;
    reader.acquire();
    expect(reader.record(at)).toEqual({ text, arrays: [[5, 2 ** 31, 0.1], [1, 0], undefined, []] });
    expect(reader.record(next)).toEqual({ text: 'x', arrays: [[1]] });
  });

  it('refuses a record with an array of anything but numbers, or one that does not fit, taking no room', () => {
    const ring = ByteRing.create(256);
    const reader = new RingReader(ring.shared);
    expect(ring.putRecord('{}', [[1, 2], [3, '4']])).toBeUndefined();
    expect(ring.putRecord('{}', [{ length: 1, 0: 1 }])).toBeUndefined();
    // Room is reserved for 3 bytes per character: 80 characters and one number need 264 bytes of 256.
    expect(ring.putRecord('a'.repeat(80), [[1]])).toBeUndefined();
    const at = ring.putRecord('a'.repeat(60), [[1, 2, 3]])!;
    expect(at).toBe(0);
    reader.acquire();
    expect(reader.record(at)).toEqual({ text: 'a'.repeat(60), arrays: [[1, 2, 3]] });
  });
});

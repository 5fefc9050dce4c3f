/**
 * Token arrays are stored as little-endian typed-array bytes, not JSON text: 4 bytes per token
 * id (Int32), 1 per loss-mask entry (Uint8), 4 per logprob or advantage (Float32). Float32 is
 * what inference engines sample in; a Float64 logprob is rounded to the nearest Float32.
 */

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!littleEndian)
  throw new Error('@toolgym/replay stores typed arrays little-endian and needs a little-endian host.');

/** Encoders take a typed array (a trajectory's) or a plain one (a turn's), the bytes the same. */
export function encodeInt32(values: ArrayLike<number>): Buffer {
  const array = values instanceof Int32Array ? values : Int32Array.from(values);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export function encodeUint8(values: ArrayLike<number>): Buffer {
  return Buffer.from(values instanceof Uint8Array ? values : Uint8Array.from(values));
}

export function encodeFloat32(values: ArrayLike<number>): Buffer {
  const array = Float32Array.from(values);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** SQLite hands back Buffers at any byte offset; copy so that the typed array is aligned. */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

export function decodeInt32(bytes: Uint8Array): Int32Array {
  return new Int32Array(aligned(bytes));
}

export function decodeUint8(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

/** Float32 values widened to the Float64Array a trajectory holds (each exactly). */
export function decodeFloat32(bytes: Uint8Array): Float64Array {
  return Float64Array.from(new Float32Array(aligned(bytes)));
}

/** The typed arrays a token record is kept in. */
export type NumberArray = Int32Array | Uint8Array | Float64Array;

/** A typed array's constructor (`Int32Array`, `Uint8Array`, `Float64Array`). */
interface NumberArrayOf<T extends NumberArray> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Bytes of one slab that buffers are carved from. */
const SLAB_BYTES = 256 * 1024;
/** A buffer larger than this gets memory of its own. */
const OWN_BYTES = SLAB_BYTES / 4;

/**
 * Where growable buffers get their memory: carved one after another from slabs that many share,
 * never handed out twice. Allocating a typed array has a fixed cost well above that of a small
 * copy (a backing store, its bookkeeping, a free after the GC): an episode's record took three
 * allocations per sequence, now one in several episodes does. A slab lives while any view of it
 * does, so a record kept alone keeps its slab (at most `SLAB_BYTES`).
 */
let slab = new ArrayBuffer(0);
let slabUsed = 0;

function carve<T extends NumberArray>(of: NumberArrayOf<T>, length: number): T {
  const bytes = length * of.BYTES_PER_ELEMENT;
  if (bytes > OWN_BYTES) return new of(length);
  // 8-byte aligned, as a Float64Array must be.
  let at = (slabUsed + 7) & ~7;
  if (at + bytes > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    at = 0;
  }
  slabUsed = at + bytes;
  return new of(slab, at, length);
}

/**
 * An append-only typed array that grows by doubling its capacity, so `n` appends cost O(n) and
 * leave O(log n) buffers behind instead of a garbage array per growth step. Its memory is carved
 * from slabs outside the JS heap (`carve`), so the garbage collector never copies it. A `view()` is a window onto
 * what has been written so far, without a copy; since nothing written is ever overwritten, a view
 * keeps its values after the buffer grows (it then reads the buffer it was taken from).
 */
export class GrowableBuffer<T extends NumberArray> {
  private data: T;
  private used = 0;

  constructor(
    private readonly of: NumberArrayOf<T>,
    capacity = 64,
  ) {
    this.data = carve(of, Math.max(1, capacity));
  }

  get length(): number {
    return this.used;
  }

  /** The buffer's capacity: appends up to it write in place. */
  get capacity(): number {
    return this.data.length;
  }

  /** Appends one value. */
  push(value: number): void {
    if (this.used === this.data.length) this.reserve(this.used + 1);
    this.data[this.used++] = value;
  }

  /** Appends `values`, in order. */
  append(values: ArrayLike<number>): void {
    const n = values.length;
    this.reserve(this.used + n);
    this.data.set(values, this.used);
    this.used += n;
  }

  /** Appends `count` copies of `value`. */
  appendRepeated(value: number, count: number): void {
    this.reserve(this.used + count);
    this.data.fill(value, this.used, this.used + count);
    this.used += count;
  }

  /** What has been written so far, as a view onto the buffer (no copy). */
  view(): T {
    return this.data.subarray(0, this.used) as T;
  }

  /** Ensures room for `length` values, doubling the capacity as needed. */
  private reserve(length: number): void {
    if (length <= this.data.length) return;
    let capacity = this.data.length;
    while (capacity < length) capacity *= 2;
    const grown = carve(this.of, capacity);
    grown.set(this.data.subarray(0, this.used));
    this.data = grown;
  }
}

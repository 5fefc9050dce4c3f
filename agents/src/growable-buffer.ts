/** The typed arrays a token record is kept in. */
export type NumberArray = Int32Array | Uint8Array | Float64Array;

/** A typed array's constructor (`Int32Array`, `Uint8Array`, `Float64Array`). */
interface NumberArrayOf<T extends NumberArray> {
  new (length: number): T;
}

/**
 * An append-only typed array that grows by doubling its capacity, so `n` appends cost O(n) and
 * leave O(log n) buffers behind instead of a garbage array per growth step. Its backing store
 * lives outside the JS heap, so the garbage collector never copies it. A `view()` is a window onto
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
    this.data = new of(Math.max(1, capacity));
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

  /**
   * Appends `count` copies of `value`. Zeros cost no writes: memory past `length` is never written,
   * so it still holds the zeros a new typed array starts with.
   */
  appendRepeated(value: number, count: number): void {
    this.reserve(this.used + count);
    if (value !== 0 || Object.is(value, -0)) this.data.fill(value, this.used, this.used + count);
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
    const grown = new this.of(capacity);
    grown.set(this.data.subarray(0, this.used));
    this.data = grown;
  }
}

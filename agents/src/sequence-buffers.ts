/**
 * The ids, loss mask and behaviour logprobs of one token sequence, which always have the same
 * length, in one allocation: an ArrayBuffer holding the logprobs (Float64), then the ids (Int32),
 * then the mask (Uint8), each `capacity` long. One backing store per sequence instead of three, and
 * instead of a placeholder set before its prompt: on the exact loop's profile, allocating a typed
 * array's fresh memory cost more than writing it. The buffer grows by doubling, all three together.
 *
 * Memory past `length` is never written, so it holds the zeros a new ArrayBuffer starts with: an
 * observation's mask and logprobs (all 0) cost no writes. Views (`tokens`, `lossMask`, `logprobs`)
 * are windows onto what is written, as `GrowableBuffer.view` gives: they keep their values after
 * the buffer grows. A structured clone of one view copies the sequence's other two arrays with it
 * (its own buffer), never another sequence's.
 */
export class SequenceBuffers {
  private behaviour: Float64Array;
  private ids: Int32Array;
  private mask: Uint8Array;
  private used = 0;

  constructor(capacity: number) {
    [this.behaviour, this.ids, this.mask] = carve(Math.max(1, capacity));
  }

  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.ids.length;
  }

  get tokens(): Int32Array {
    return this.ids.subarray(0, this.used);
  }

  get lossMask(): Uint8Array {
    return this.mask.subarray(0, this.used);
  }

  get logprobs(): Float64Array {
    return this.behaviour.subarray(0, this.used);
  }

  /** Appends sampled ids (mask 1) with their logprobs (0 where `logprobs` has none). */
  appendSampled(tokens: ArrayLike<number>, logprobs: ArrayLike<number> | undefined): void {
    const start = this.used;
    const n = tokens.length;
    this.reserve(start + n);
    this.ids.set(tokens, start);
    this.mask.fill(1, start, start + n);
    if (logprobs) {
      const given = Math.min(n, logprobs.length);
      for (let i = 0; i < given; i++) this.behaviour[start + i] = logprobs[i] ?? 0;
    }
    this.used = start + n;
  }

  /** Appends ids of an observation: mask and logprobs 0, already there in unwritten memory. */
  appendObservation(tokens: ArrayLike<number>): void {
    const start = this.used;
    this.reserve(start + tokens.length);
    this.ids.set(tokens, start);
    this.used = start + tokens.length;
  }

  private reserve(length: number): void {
    if (length <= this.ids.length) return;
    let capacity = this.ids.length;
    while (capacity < length) capacity *= 2;
    const [behaviour, ids, mask] = carve(capacity);
    behaviour.set(this.behaviour.subarray(0, this.used));
    ids.set(this.ids.subarray(0, this.used));
    mask.set(this.mask.subarray(0, this.used));
    this.behaviour = behaviour;
    this.ids = ids;
    this.mask = mask;
  }
}

/** Three arrays of `capacity` values over one new ArrayBuffer (8-byte values first, so each is aligned). */
function carve(capacity: number): [Float64Array, Int32Array, Uint8Array] {
  const buffer = new ArrayBuffer(13 * capacity);
  return [
    new Float64Array(buffer, 0, capacity),
    new Int32Array(buffer, 8 * capacity, capacity),
    new Uint8Array(buffer, 12 * capacity, capacity),
  ];
}

import { plainArray } from '@toolgym/protocol';

/**
 * Memory shared with the writer thread, that the number arrays of writes (token ids, masks,
 * logprobs, advantages: most of a trajectory's size) are copied into on their way to it. One copy
 * into memory both threads see, where a Float64Array per array cost an allocation, a second copy by
 * structured clone and garbage on the delivering thread.
 *
 * The owner appends; the thread copies each array out when its batch arrives and then publishes
 * how far it has read, freeing the space. An array that does not fit in the free space crosses as
 * its own Float64Array instead: the ring never makes a write wait and never drops or reorders one,
 * and what the process holds beyond the ring is what it held before the ring existed.
 */
export interface SharedRing {
  data: SharedArrayBuffer;
  /**
   * `[read, written]`: how many numbers the thread has taken and the owner has put, counted from
   * the start (skipped tails included).
   */
  control: SharedArrayBuffer;
}

/** An array's place in the ring: where it starts, and how many numbers. */
export type RingSpan = [at: number, length: number];

/** The owner's side: copies arrays in. */
export class NumberRing {
  private readonly data: Float64Array;
  private readonly control: BigInt64Array;
  /** Numbers put since the start, skipped tails included. */
  private written = 0;
  /** How many the thread had taken when last read (it only grows). */
  private read = 0;

  constructor(readonly shared: SharedRing) {
    this.data = new Float64Array(shared.data);
    this.control = new BigInt64Array(shared.control);
  }

  static create(bytes: number): NumberRing {
    const capacity = Math.max(1, Math.floor(bytes / 8));
    return new NumberRing({
      data: new SharedArrayBuffer(capacity * 8),
      control: new SharedArrayBuffer(16),
    });
  }

  /**
   * Publish what was put so far (an atomic store: the thread that loads it sees every number put
   * before), and return it: the end of the batch about to be sent.
   */
  publish(): number {
    Atomics.store(this.control, 1, BigInt(this.written));
    return this.written;
  }

  /**
   * Copy `values` in when every element is a number and there is room: its span. Undefined when
   * it holds anything else (it crosses as it is, for the thread's validation to name) or does not fit.
   */
  put(values: ArrayLike<unknown>): RingSpan | undefined {
    const n = values.length;
    const capacity = this.data.length;
    if (n > capacity) return undefined;
    let at = this.written % capacity;
    // An array never wraps: the tail too short for it is skipped.
    const skip = at + n > capacity ? capacity - at : 0;
    // The thread's progress is read only when the room last read does not suffice.
    if (skip + n > capacity - (this.written - this.read)) {
      this.read = Number(Atomics.load(this.control, 0));
      if (skip + n > capacity - (this.written - this.read)) return undefined;
    }
    if (skip > 0) at = 0;
    if (ArrayBuffer.isView(values)) {
      // A typed array holds numbers only: one copy.
      if (!isNumberArray(values)) return undefined;
      this.data.set(values as ArrayLike<number>, at);
    } else if (!copyNumbers(values, this.data, at)) return undefined;
    this.written += skip + n;
    return [at, n];
  }
}

/** A plain array, or a typed array of numbers (not of BigInts). */
export function isNumberArray(values: unknown): values is ArrayLike<unknown> {
  if (Array.isArray(values)) return true;
  return (
    ArrayBuffer.isView(values) &&
    !(values instanceof DataView) &&
    !(values instanceof BigInt64Array) &&
    !(values instanceof BigUint64Array)
  );
}

/** Copy `values` to `data` from `at`; false (part copied) when one is not a number. */
export function copyNumbers(values: ArrayLike<unknown>, data: Float64Array, at: number): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') return false;
    data[at + i] = v;
  }
  return true;
}

/** The writer thread's side: copies arrays out, and frees what it read. */
export class RingReader {
  private readonly data: Float64Array;
  private readonly control: BigInt64Array;

  constructor(shared: SharedRing) {
    this.data = new Float64Array(shared.data);
    this.control = new BigInt64Array(shared.control);
  }

  /** Before taking a batch's arrays: everything put up to its end is visible to this thread. */
  acquire(): void {
    Atomics.load(this.control, 1);
  }

  take([at, length]: RingSpan): number[] {
    return plainArray(this.data.subarray(at, at + length));
  }

  /** Everything up to `end` (a batch's `NumberRing.publish()`) was taken: the owner may put over it. */
  release(end: number): void {
    Atomics.store(this.control, 0, BigInt(end));
  }
}

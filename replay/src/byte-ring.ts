import { plainArray } from '@toolgym/protocol';

/**
 * Memory shared with the writer thread, that writes are copied into on their way to it: a turn
 * whole (its fields as JSON text, its token arrays as bytes: `putRecord`), a group's number arrays
 * one by one (`put`). One copy into memory both threads see, where structured clone walks every
 * object and number on the delivering thread.
 *
 * The owner appends; the thread copies each write out when its batch arrives and then publishes
 * how far it has read, freeing the space. A write that does not fit in the free space crosses in
 * the message instead: the ring never makes a write wait and never drops or reorders one, and what
 * the process holds beyond the ring is what it held before the ring existed.
 */
export interface SharedRing {
  data: SharedArrayBuffer;
  /**
   * `[read, written]`: how many bytes the thread has taken and the owner has put, counted from the
   * start (skipped tails included).
   */
  control: SharedArrayBuffer;
}

/** An array's place in the ring: its byte offset, its length, and its element type (`ELEMENT_TYPES`). */
export type RingSpan = [at: number, length: number, type: number];

/**
 * How an array's numbers are held in the ring: a typed array as its own type (one copy of its
 * bytes), a plain array as Float64 (exact for every number).
 */
const ELEMENT_TYPES = [
  Float64Array,
  Int32Array,
  Uint8Array,
  Float32Array,
  Int8Array,
  Int16Array,
  Uint16Array,
  Uint32Array,
  Uint8ClampedArray,
] as const;
type ElementType = (typeof ELEMENT_TYPES)[number];
/** In a record: an array that is absent (an optional field). */
const ABSENT = 255;

const align = (bytes: number) => (bytes + 7) & ~7;

/** The owner's side: copies writes in. */
export class ByteRing {
  private readonly bytes: Buffer;
  private readonly words: Uint32Array;
  private readonly control: BigInt64Array;
  /** Bytes put since the start, skipped tails included. */
  private written = 0;
  /** How many the thread had taken when last read (it only grows). */
  private read = 0;

  constructor(readonly shared: SharedRing) {
    this.bytes = Buffer.from(shared.data);
    this.words = new Uint32Array(shared.data);
    this.control = new BigInt64Array(shared.control);
  }

  static create(bytes: number): ByteRing {
    const data = new SharedArrayBuffer(Math.max(8, align(bytes)));
    // Touched once here, so that the delivering thread never waits for a page of it to be mapped.
    new Uint8Array(data).fill(0);
    return new ByteRing({ data, control: new SharedArrayBuffer(16) });
  }

  /**
   * Publish what was put so far (an atomic store: the thread that loads it sees every byte put
   * before), and return it: the end of the batch about to be sent.
   */
  publish(): number {
    Atomics.store(this.control, 1, BigInt(this.written));
    return this.written;
  }

  /**
   * Where `bytes` (a multiple of 8) can be written without wrapping, or undefined when the free
   * space is too small. Nothing is taken until `advance`.
   */
  private room(bytes: number): { at: number; skip: number } | undefined {
    const capacity = this.bytes.length;
    if (bytes > capacity) return undefined;
    const at = this.written % capacity;
    // A write never wraps: the tail too short for it is skipped.
    const skip = at + bytes > capacity ? capacity - at : 0;
    // The thread's progress is read only when the room last read does not suffice.
    if (skip + bytes > capacity - (this.written - this.read)) {
      this.read = Number(Atomics.load(this.control, 0));
      if (skip + bytes > capacity - (this.written - this.read)) return undefined;
    }
    return { at: skip > 0 ? 0 : at, skip };
  }

  /**
   * Copy `values` in when every element is a number and there is room: its span. Undefined when
   * it holds anything else (it crosses as it is, for the thread's validation to name) or does not fit.
   */
  put(values: ArrayLike<unknown>): RingSpan | undefined {
    const type = elementType(values);
    const size = align(values.length * ELEMENT_TYPES[type]!.BYTES_PER_ELEMENT);
    const room = this.room(size);
    if (!room || !this.copy(values, type, room.at)) return undefined;
    this.written += room.skip + size;
    return [room.at, values.length, type];
  }

  /**
   * A write whole, as one record: `text` (UTF-8) and `arrays` (number arrays, or undefined for an
   * absent one) side by side. Its byte offset, or undefined when an array holds anything but
   * numbers or the record does not fit.
   */
  putRecord(text: string, arrays: readonly unknown[]): number | undefined {
    // At most 3 bytes per UTF-16 unit: the room is reserved for the worst case, the rest given back.
    let bound = 8 + align(text.length * 3);
    const types: number[] = [];
    for (const values of arrays) {
      if (values === undefined) {
        types.push(ABSENT);
        bound += 8;
        continue;
      }
      if (!isNumberArray(values)) return undefined;
      const type = elementType(values);
      types.push(type);
      bound += 8 + align(values.length * ELEMENT_TYPES[type]!.BYTES_PER_ELEMENT);
    }
    const room = this.room(bound);
    if (!room) return undefined;
    const textBytes = this.bytes.write(text, room.at + 8, 'utf8');
    this.words[room.at >> 2] = textBytes;
    this.words[(room.at >> 2) + 1] = arrays.length;
    let at = room.at + 8 + align(textBytes);
    for (const [i, values] of arrays.entries()) {
      // Each array behind an 8-byte head: its element type, its length.
      const type = types[i]!;
      const n = type === ABSENT ? 0 : (values as ArrayLike<unknown>).length;
      this.words[at >> 2] = type;
      this.words[(at >> 2) + 1] = n;
      at += 8;
      if (type === ABSENT) continue;
      if (!this.copy(values as ArrayLike<unknown>, type, at)) return undefined;
      at += align(n * ELEMENT_TYPES[type]!.BYTES_PER_ELEMENT);
    }
    this.written += room.skip + (at - room.at);
    return room.at;
  }

  /** Copy `values` to `at` as `type`; false (part copied) when one is not a number. */
  private copy(values: ArrayLike<unknown>, type: number, at: number): boolean {
    const view = new ELEMENT_TYPES[type]!(this.bytes.buffer as ArrayBuffer, at, values.length);
    if (ArrayBuffer.isView(values)) {
      // A typed array holds numbers only (BigInt arrays are not number arrays): one copy.
      if (!isNumberArray(values)) return false;
      view.set(values as ArrayLike<number>);
      return true;
    }
    return copyNumbers(values, view as Float64Array, 0);
  }
}

/** The element type an array is held as: its own for a typed array of numbers, Float64 otherwise. */
function elementType(values: ArrayLike<unknown>): number {
  const type = ArrayBuffer.isView(values) ? ELEMENT_TYPES.indexOf(values.constructor as ElementType) : 0;
  return type < 0 ? 0 : type;
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

/** The writer thread's side: copies writes out, and frees what it read. */
export class RingReader {
  private readonly bytes: Buffer;
  private readonly words: Uint32Array;
  private readonly control: BigInt64Array;

  constructor(shared: SharedRing) {
    this.bytes = Buffer.from(shared.data);
    this.words = new Uint32Array(shared.data);
    this.control = new BigInt64Array(shared.control);
  }

  /** Before taking a batch's writes: everything put up to its end is visible to this thread. */
  acquire(): void {
    Atomics.load(this.control, 1);
  }

  take([at, length, type]: RingSpan): number[] {
    return plainArray(new ELEMENT_TYPES[type]!(this.bytes.buffer as ArrayBuffer, at, length));
  }

  /** The record `putRecord` wrote at `at`: its text, and its arrays (undefined where absent). */
  record(at: number): { text: string; arrays: Array<number[] | undefined> } {
    const textBytes = this.words[at >> 2]!;
    const count = this.words[(at >> 2) + 1]!;
    const text = this.bytes.toString('utf8', at + 8, at + 8 + textBytes);
    let p = at + 8 + align(textBytes);
    const arrays: Array<number[] | undefined> = [];
    for (let i = 0; i < count; i++) {
      const type = this.words[p >> 2]!;
      const length = this.words[(p >> 2) + 1]!;
      p += 8;
      if (type === ABSENT) {
        arrays.push(undefined);
        continue;
      }
      arrays.push(this.take([p, length, type]));
      p += align(length * ELEMENT_TYPES[type]!.BYTES_PER_ELEMENT);
    }
    return { text, arrays };
  }

  /** Everything up to `end` (a batch's `ByteRing.publish()`) was taken: the owner may put over it. */
  release(end: number): void {
    Atomics.store(this.control, 0, BigInt(end));
  }
}

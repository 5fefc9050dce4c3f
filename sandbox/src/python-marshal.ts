/**
 * Encodes plain data in CPython's `marshal` format, which a Python program reads with the
 * built-in `marshal.loads` without importing anything (a `json` import costs more than the rest
 * of a launcher's job handling). Only the type codes that every marshal version reads are used.
 */
export type MarshalValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly MarshalValue[]
  | { readonly [key: string]: MarshalValue };

export function marshal(value: MarshalValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: MarshalValue, parts: Buffer[]): void {
  if (value === null) parts.push(Buffer.from('N'));
  else if (value === true) parts.push(Buffer.from('T'));
  else if (value === false) parts.push(Buffer.from('F'));
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`marshal: ${value} is not a safe integer`);
    if (value >= -(2 ** 31) && value < 2 ** 31) {
      const b = Buffer.alloc(5);
      b.write('i');
      b.writeInt32LE(value, 1);
      parts.push(b);
      return;
    }
    // TYPE_LONG: a signed count of base-2^15 digits, least significant first.
    const digits: number[] = [];
    for (let rest = Math.abs(value); rest > 0; rest = Math.floor(rest / 2 ** 15)) digits.push(rest % 2 ** 15);
    const b = Buffer.alloc(5 + 2 * digits.length);
    b.write('l');
    b.writeInt32LE(value < 0 ? -digits.length : digits.length, 1);
    digits.forEach((digit, i) => {
      b.writeUInt16LE(digit, 5 + 2 * i);
    });
    parts.push(b);
  } else if (typeof value === 'string') sized('u', Buffer.from(value, 'utf8'), parts);
  else if (value instanceof Uint8Array) sized('s', value, parts);
  else if (Array.isArray(value)) {
    const head = Buffer.alloc(5);
    head.write('[');
    head.writeUInt32LE(value.length, 1);
    parts.push(head);
    for (const item of value) write(item, parts);
  } else {
    parts.push(Buffer.from('{'));
    for (const [key, item] of Object.entries(value as Record<string, MarshalValue>)) {
      write(key, parts);
      write(item, parts);
    }
    parts.push(Buffer.from('0'));
  }
}

function sized(code: string, bytes: Uint8Array, parts: Buffer[]): void {
  const head = Buffer.alloc(5);
  head.write(code);
  head.writeUInt32LE(bytes.length, 1);
  parts.push(head, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

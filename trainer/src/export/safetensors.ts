/**
 * The safetensors format (https://huggingface.co/docs/safetensors), written and read here without
 * a dependency:
 *
 *   8 bytes   little-endian u64 N = length of the JSON header
 *   N bytes   UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *                          "__metadata__": { "<key>": "<string value>" } }   (padded with spaces to 8 bytes)
 *   rest      the raw little-endian tensor bytes; offsets are relative to the start of this block
 *
 * Only F32 is written (every ToolGym weight is float32); F32, F16 and BF16 are read (as float32).
 */
import { readFile } from 'node:fs/promises';
import { ToolGymError } from '@toolgym/protocol';
import { writeFileAtomic } from '../checkpoint/atomic-file.ts';

export interface SafeTensor {
  shape: number[];
  data: Float32Array;
}

/** A tensor file that is not valid safetensors, or tensors that cannot be written as one. */
export class SafetensorsError extends ToolGymError {
  constructor(message: string) {
    super(
      'invalid_safetensors',
      message,
      'write the file again with `toolgym learner publish`, or give a complete safetensors file',
    );
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialises tensors (names sorted, as the reference implementation does) with string metadata. */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new SafetensorsError(
        `tensor ${name}: shape [${t.shape}] holds ${count} values, data has ${t.data.length}`,
      );
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keeps the data block 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const data = tensors[name]!.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (littleEndian) out.set(bytes, at);
    else {
      const view = new DataView(out.buffer, at, data.byteLength);
      for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
    }
    at += data.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Parses a safetensors file's bytes; every inconsistency is an error naming the tensor. */
export function decodeSafetensors(bytes: Uint8Array, origin = 'safetensors data'): DecodedSafetensors {
  if (bytes.length < 8)
    throw new SafetensorsError(`${origin}: ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length)
    throw new SafetensorsError(
      `${origin}: header of ${headerLength} bytes runs past the end of the file (${bytes.length} bytes)`,
    );
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch (error) {
    throw new SafetensorsError(`${origin}: the header is not JSON (${(error as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors: Record<string, SafeTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: offsets,
    } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [begin, end] = offsets ?? [];
    if (
      !Array.isArray(shape) ||
      begin === undefined ||
      end === undefined ||
      end < begin ||
      end > dataLength
    ) {
      throw new SafetensorsError(
        `${origin}: tensor ${name} has data_offsets [${offsets}] outside the ${dataLength}-byte data block`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const width = dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : 0;
    if (width === 0)
      throw new SafetensorsError(
        `${origin}: tensor ${name} has dtype ${dtype}; F32, F16 and BF16 are supported`,
      );
    if (count * width !== end - begin)
      throw new SafetensorsError(
        `${origin}: tensor ${name} of shape [${shape}] ${dtype} needs ${count * width} bytes, has ${end - begin}`,
      );
    const data = new Float32Array(count);
    const tensorView = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = tensorView.getFloat32(i * 4, true);
      else if (dtype === 'BF16') data[i] = bf16ToFloat(tensorView.getUint16(i * 2, true));
      else data[i] = f16ToFloat(tensorView.getUint16(i * 2, true));
    }
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}

export async function writeSafetensors(
  file: string,
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export async function readSafetensors(file: string): Promise<DecodedSafetensors> {
  return decodeSafetensors(new Uint8Array(await readFile(file)), file);
}

function bf16ToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

function f16ToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from './safetensors.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('safetensors', () => {
  it('writes the documented layout: u64 header length, JSON header, aligned little-endian data', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-st-'));
    dirs.push(dir);
    const file = path.join(dir, 'model.safetensors');
    const b = { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -0]) };
    const a = { shape: [1], data: new Float32Array([42]) };
    await writeSafetensors(file, { b, a }, { policy_version: '7' });
    const bytes = new Uint8Array(await readFile(file));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header.__metadata__).toEqual({ policy_version: '7' });
    // Sorted by name: a first, at offset 0.
    expect(header.a).toEqual({ dtype: 'F32', shape: [1], data_offsets: [0, 4] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [4, 28] });
    expect(new DataView(bytes.buffer).getFloat32(8 + n, true)).toBe(42);
    expect(new DataView(bytes.buffer).getFloat32(8 + n + 4 + 8, true)).toBe(3.5);
    const back = await readSafetensors(file);
    expect(back.metadata.policy_version).toBe('7');
    expect(back.tensors.b!.shape).toEqual([2, 3]);
    expect(Array.from(back.tensors.b!.data)).toEqual(Array.from(b.data));
  });

  it('reads F16 and BF16 tensors as float32', () => {
    // Hand-built file: F16 1.0 = 0x3c00, -2.0 = 0xc000; BF16 1.5 = 0x3fc0.
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      g: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
    });
    const bytes = new Uint8Array(8 + header.length + 6);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(Buffer.from(header), 8);
    const data = new DataView(bytes.buffer, 8 + header.length);
    data.setUint16(0, 0x3c00, true);
    data.setUint16(2, 0xc000, true);
    data.setUint16(4, 0x3fc0, true);
    const out = decodeSafetensors(bytes);
    expect(Array.from(out.tensors.h!.data)).toEqual([1, -2]);
    expect(Array.from(out.tensors.g!.data)).toEqual([1.5]);
  });

  it('rejects truncated data and wrong shapes, naming the tensor', () => {
    const bytes = encodeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 2))).toThrow(/tensor w .*outside/);
    expect(() => decodeSafetensors(bytes.subarray(0, 5))).toThrow(SafetensorsError);
    expect(() => encodeSafetensors({ w: { shape: [3], data: new Float32Array(4) } })).toThrow(
      /tensor w: shape \[3\] holds 3 values, data has 4/,
    );
  });
});

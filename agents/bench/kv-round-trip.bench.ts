/**
 * `pnpm bench kv-round-trip [--context 512] [--batches 1,32]`: what it costs per generated token to hand
 * a decoder's KV cache (and logits) between onnxruntime-node and the host, as the `present` cache
 * layout does every step, measured on CPU as a proxy for the device↔host round trip that
 * onnxruntime-node cannot avoid on CUDA (it has no device-resident outputs for CUDA; see
 * agents/README.md). A graph of Identity nodes takes the cache in and gives it back, so the time is the
 * binding's: reading the input buffers, allocating the outputs and copying them out. Two shapes: the
 * built-in model (4 layers, 4 KV heads of 32, vocabulary 263) and Qwen2.5-0.5B's (24 layers, 2 KV
 * heads of 64, vocabulary 151,936), float32.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { cpuMs } from '../src/onnx/decode-profile.ts';
import { encodeOnnxModel, OnnxDataType } from '../src/model/onnx-proto.ts';

const { values } = parseArgs({
  options: {
    context: { type: 'string', default: '512' },
    batches: { type: 'string', default: '1,32' },
  },
});
const context = Number(values.context);
const batches = values.batches.split(',').map(Number);

interface Shape {
  name: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}
const shapes: Shape[] = [
  { name: 'built-in (DEFAULT_DECODER_CONFIG)', layers: 4, kvHeads: 4, headDim: 32, vocab: 263 },
  { name: 'Qwen2.5-0.5B', layers: 24, kvHeads: 2, headDim: 64, vocab: 151936 },
];

/** A graph that returns its inputs: the cache tensors and last-position logits. */
function identityGraph(shape: Shape): Uint8Array {
  const names = ['logits'];
  for (let i = 0; i < shape.layers; i++) names.push(`key.${i}`, `value.${i}`);
  const info = (name: string) => ({
    name,
    type: {
      tensor_type: {
        elem_type: OnnxDataType.FLOAT,
        shape: { dim: [{ dim_param: 'a' }, { dim_param: 'b' }, { dim_param: 'c' }, { dim_param: 'd' }] },
      },
    },
  });
  return encodeOnnxModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'toolgym',
    producer_version: '1',
    doc_string: 'KV cache round trip',
    graph: {
      name: 'round_trip',
      node: names.map((n) => ({
        name: `copy_${n}`,
        op_type: 'Identity',
        input: [n],
        output: [`${n}.out`],
        attribute: [],
      })),
      initializer: [],
      input: names.map(info),
      output: names.map((n) => info(`${n}.out`)),
    },
  });
}

process.stdout.write(
  `KV cache + logits handed back to the host once per decode step, ${context} positions of context, float32; CPU ms (median of 7)\n\n`,
);
const rows: string[][] = [];
for (const shape of shapes) {
  const session = await ort.InferenceSession.create(identityGraph(shape), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  for (const batch of batches) {
    const feeds: Record<string, ort.Tensor> = {
      logits: new ort.Tensor('float32', new Float32Array(batch * shape.vocab), [batch, 1, 1, shape.vocab]),
    };
    const dims = [batch, shape.kvHeads, context, shape.headDim];
    const size = dims.reduce((a, b) => a * b, 1);
    for (let i = 0; i < shape.layers; i++)
      for (const kind of ['key', 'value'])
        feeds[`${kind}.${i}`] = new ort.Tensor('float32', new Float32Array(size).fill(0.5), dims);
    const bytes = Object.values(feeds).reduce((n, t) => n + (t.data as Float32Array).byteLength, 0);
    await session.run(feeds);
    const times: number[] = [];
    for (let r = 0; r < 7; r++) {
      const start = cpuMs();
      await session.run(feeds);
      times.push(cpuMs() - start);
    }
    times.sort((a, b) => a - b);
    const ms = times[3]!;
    rows.push([
      shape.name,
      String(batch),
      (bytes / 2 ** 20).toFixed(1),
      ms.toFixed(2),
      (ms / batch).toFixed(3),
      ((2 * bytes) / (ms / 1000) / 2 ** 30).toFixed(1),
    ]);
  }
  await session.release();
}
const header = ['shape', 'batch', 'MiB per step', 'ms per step', 'ms per token', 'GiB/s (in + out)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const r of [header, ...rows])
  process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);

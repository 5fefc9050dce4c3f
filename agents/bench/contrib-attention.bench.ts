/**
 * `pnpm bench contrib-attention [--slots 208] [--rounds 5]`: onnxruntime's contrib attention ops on
 * CPU against the attention the in-place graph composes from standard ops, one decode step (one query
 * per row) over `--slots` cached slots of the built-in model's shape (4 heads of 32), at batch 1 and
 * 32:
 *   `com.microsoft` MultiHeadAttention, keys and values given as [batch, heads, slots, headDim] with a
 *   per-row key padding mask (no past/present: the cache is the engine's);
 *   the same with this step's key and value concatenated to the cache first (attending to them takes
 *   that, since the in-place cache receives them after the call);
 *   `com.microsoft` GroupQueryAttention with per-row `seqlens_k` and the cache as past, only the
 *   output fetched (its present output is the whole cache);
 *   the in-place graph's step at capacity 16 + slots minus its step at capacity 16, over its 4 layers.
 * Least CPU ms per call of interleaved rounds (each round times every configuration once).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildDecoderOnnx } from '../src/model/decoder-graph.ts';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import {
  encodeOnnxModel,
  type NodeProtoShape,
  OnnxDataType,
  type ValueInfoShape,
} from '../src/model/onnx-proto.ts';
import { DEFAULT_DECODER_CONFIG } from '../src/model/write-model-directory.ts';
import { cpuMs } from '../src/onnx/decode-profile.ts';

const { values } = parseArgs({
  options: { slots: { type: 'string', default: '208' }, rounds: { type: 'string', default: '5' } },
});
const slots = Number(values.slots);
const rounds = Number(values.rounds);
const config = DEFAULT_DECODER_CONFIG;
const heads = config.nHeads;
const headDim = config.dModel / heads;
const hidden = config.dModel;
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };

const info = (
  name: string,
  dims: Array<string | number>,
  type: number = OnnxDataType.FLOAT,
): ValueInfoShape => ({
  name,
  type: {
    tensor_type: {
      elem_type: type,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
    },
  },
});
/** A model of standard and contrib-op nodes. */
const contribModel = (node: NodeProtoShape[], input: ValueInfoShape[], output: ValueInfoShape[]) =>
  encodeOnnxModel({
    ir_version: 8,
    opset_import: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    producer_name: 'toolgym-bench',
    producer_version: '1',
    graph: { name: 'attention', node, initializer: [], input, output },
  });
const headsAttr = (name: string) => ({ name, type: 2, i: heads });
const mhaNode = (k: string, v: string): NodeProtoShape => ({
  name: 'mha',
  op_type: 'MultiHeadAttention',
  domain: 'com.microsoft',
  input: ['q', k, v, '', 'mask'],
  output: ['out'],
  attribute: [headsAttr('num_heads')],
});
const concatSlots = (name: string, inputs: string[]): NodeProtoShape => ({
  name,
  op_type: 'Concat',
  input: inputs,
  output: [name],
  attribute: [{ name: 'axis', type: 2, i: 2 }],
});
const cacheInputs = [info('k', ['b', heads, 'l', headDim]), info('v', ['b', heads, 'l', headDim])];
const mha = await ort.InferenceSession.create(
  contribModel(
    [mhaNode('k', 'v')],
    [info('q', ['b', 1, hidden]), ...cacheInputs, info('mask', ['b', 'l'], OnnxDataType.INT32)],
    [info('out', ['b', 1, hidden])],
  ),
  options,
);
const mhaConcat = await ort.InferenceSession.create(
  contribModel(
    [concatSlots('keys', ['k', 'knew']), concatSlots('values', ['v', 'vnew']), mhaNode('keys', 'values')],
    [
      info('q', ['b', 1, hidden]),
      ...cacheInputs,
      info('knew', ['b', heads, 1, headDim]),
      info('vnew', ['b', heads, 1, headDim]),
      info('mask', ['b', 'l1'], OnnxDataType.INT32),
    ],
    [info('out', ['b', 1, hidden])],
  ),
  options,
);
const gqa = await ort.InferenceSession.create(
  contribModel(
    [
      {
        name: 'gqa',
        op_type: 'GroupQueryAttention',
        domain: 'com.microsoft',
        input: ['q', 'knew', 'vnew', 'k', 'v', 'seqlens', 'total'],
        output: ['out', 'present_key', 'present_value'],
        attribute: [headsAttr('num_heads'), headsAttr('kv_num_heads')],
      },
    ],
    [
      info('q', ['b', 1, hidden]),
      info('knew', ['b', 1, hidden]),
      info('vnew', ['b', 1, hidden]),
      ...cacheInputs,
      info('seqlens', ['b'], OnnxDataType.INT32),
      info('total', [], OnnxDataType.INT32),
    ],
    [
      info('out', ['b', 1, hidden]),
      info('present_key', ['b', heads, 'm', headDim]),
      info('present_value', ['b', heads, 'm', headDim]),
    ],
  ),
  options,
);
const inPlace = await ort.InferenceSession.create(
  buildDecoderOnnx(config, initDecoderWeights(config, { seed: 0 }), 'in-place'),
  options,
);

/** Deterministic small values (the timing does not depend on them). */
const tensor = (dims: number[]) =>
  new ort.Tensor(
    'float32',
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(j) * 0.1),
    dims,
  );
const ones = (batch: number, width: number) =>
  new ort.Tensor('int32', new Int32Array(batch * width).fill(1), [batch, width]);
const cache = (batch: number) => ({
  k: tensor([batch, heads, slots, headDim]),
  v: tensor([batch, heads, slots, headDim]),
});
function inPlaceFeeds(batch: number, capacity: number): Record<string, ort.Tensor> {
  const width = capacity + 1;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(5n), [batch, 1]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * width).fill(1n), [batch, width]),
    position_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(capacity)), [batch, 1]),
  };
  for (let i = 0; i < config.nLayers; i++)
    for (const kind of ['key', 'value'])
      feeds[`past_key_values.${i}.${kind}`] = tensor([batch, heads, capacity, headDim]);
  return feeds;
}

interface Timed {
  run: () => Promise<unknown>;
  bestMs: number;
}
const timed = (run: () => Promise<unknown>): Timed => ({ run, bestMs: Number.POSITIVE_INFINITY });
const rows = [1, 32].map((batch) => {
  const q = tensor([batch, 1, hidden]);
  const m = { q, ...cache(batch), mask: ones(batch, slots) };
  const mc = {
    ...m,
    knew: tensor([batch, heads, 1, headDim]),
    vnew: tensor([batch, heads, 1, headDim]),
    mask: ones(batch, slots + 1),
  };
  const g = {
    q,
    ...cache(batch),
    knew: tensor([batch, 1, hidden]),
    vnew: tensor([batch, 1, hidden]),
    seqlens: new ort.Tensor('int32', new Int32Array(batch).fill(slots), [batch]),
    total: new ort.Tensor('int32', new Int32Array([slots + 1]), []),
  };
  const small = inPlaceFeeds(batch, 16);
  const large = inPlaceFeeds(batch, 16 + slots);
  return {
    batch,
    mha: timed(() => mha.run(m)),
    mhaConcat: timed(() => mhaConcat.run(mc)),
    gqa: timed(() => gqa.run(g, ['out'])),
    small: timed(() => inPlace.run(small)),
    large: timed(() => inPlace.run(large)),
  };
});
const all = rows.flatMap((r) => [r.mha, r.mhaConcat, r.gqa, r.small, r.large]);
for (const t of all) for (let i = 0; i < 10; i++) await t.run();
for (let r = 0; r < rounds; r++) {
  for (const t of all) {
    const calls = 30;
    const start = cpuMs();
    for (let i = 0; i < calls; i++) await t.run();
    t.bestMs = Math.min(t.bestMs, (cpuMs() - start) / calls);
  }
}

process.stdout.write(
  `attention of one decode step over ${slots} cached slots, ${heads} heads of ${headDim}, one layer, 1 thread; ` +
    `least CPU ms per call of ${rounds} interleaved rounds\nload average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n\n`,
);
const header = [
  'batch',
  'MultiHeadAttention',
  'after concatenating the cache',
  'GroupQueryAttention',
  `in-place graph step, 16 / ${16 + slots} slots`,
  `its ${slots} slots per layer`,
];
const table = rows.map((r) => [
  String(r.batch),
  r.mha.bestMs.toFixed(3),
  r.mhaConcat.bestMs.toFixed(3),
  r.gqa.bestMs.toFixed(3),
  `${r.small.bestMs.toFixed(3)} / ${r.large.bestMs.toFixed(3)}`,
  ((r.large.bestMs - r.small.bestMs) / config.nLayers).toFixed(3),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
process.stdout.write(`${line(header)}\n${table.map(line).join('\n')}\n`);
await Promise.all([mha.release(), mhaConcat.release(), gqa.release(), inPlace.release()]);

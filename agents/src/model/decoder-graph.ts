/**
 * Builds ToolGym's small decoder (agents/src/model/decoder-config.ts) as an ONNX model in the Hugging
 * Face Optimum decoder-with-past convention, so that the one `onnx` policy code path runs it and any
 * exported Hugging Face decoder alike:
 *
 *   inputs   input_ids [batch, seq] int64, attention_mask [batch, past+seq] int64,
 *            position_ids [batch, seq] int64, past_key_values.{i}.key/value [batch, heads, past, headDim]
 *   outputs  logits [batch, seq, vocab], present.{i}.key/value [batch, heads, past+seq, headDim]
 *
 * Standard opset-17 ops only (LayerNormalization is opset 17; GELU is composed from Tanh because the
 * Gelu op needs opset 20; the engine's shared-slot decode-step graph, built here too, is opset 20).
 * Causal masking is built from Range + LessOrEqual on the key/query indices (no Trilu), combined
 * with the attention mask and applied with Where, so masked scores are exactly -1e9 before the
 * softmax as the shared maths says. Initializer names are the decoder weight names.
 *
 * With RoPE positions, cos/sin for every position are two float32 constant tables [maxPositions, half]
 * (initializers `rope.cos` / `rope.sin`, not weights); the rows for `position_ids` are gathered once and
 * rotate q and the new keys of every layer before the keys join the cache, so the cache holds rotated
 * keys (as in Llama) and a cached step needs no recomputation.
 */
import {
  type DecoderConfig,
  type DecoderWeights,
  decoderPositions,
  decoderWeightShapes,
  ropeTables,
} from './decoder-config.ts';
import {
  encodeOnnxModel,
  type NodeProtoShape,
  OnnxAttributeType,
  OnnxDataType,
  type TensorProtoShape,
  type ValueInfoShape,
} from './onnx-proto.ts';

/** Opset of the default ONNX domain the builder targets. */
export const DECODER_OPSET = 17;
/** Opset of the shared-slot decode-step graph: 20 has Gelu, one operator where opset 17 composes nine. */
const DECODE_STEP_OPSET = 20;
const IR_VERSION = 8;
const MASKED_SCORE = -1e9;

type Attribute = NodeProtoShape['attribute'][number];

/** Accumulates nodes and initializers with unique names. */
class GraphBuilder {
  readonly nodes: NodeProtoShape[] = [];
  readonly initializers: TensorProtoShape[] = [];
  private counter = 0;

  op(opType: string, inputs: string[], attributes: Attribute[] = [], outputName?: string): string {
    const name = `${opType}_${this.counter++}`;
    const output = outputName ?? `${name}_out`;
    this.nodes.push({ name, op_type: opType, input: inputs, output: [output], attribute: attributes });
    return output;
  }

  floatTensor(name: string, dims: number[], data: Float32Array): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, data_type: OnnxDataType.FLOAT, raw_data: raw.slice() });
    return name;
  }

  /** Splits `x` along `axis` into `count` parts of the given sizes (an int64 vector), named as given or not. */
  split(
    x: string,
    sizes: string,
    axis: number,
    count: number,
    names: Array<string | undefined> = [],
  ): string[] {
    const name = `Split_${this.counter++}`;
    const outputs = Array.from({ length: count }, (_, i) => names[i] ?? `${name}_out${i}`);
    this.nodes.push({
      name,
      op_type: 'Split',
      input: [x, sizes],
      output: outputs,
      attribute: [intAttr('axis', axis)],
    });
    return outputs;
  }

  int64Const(values: number[], scalar = false): string {
    const name = `const_${this.counter++}`;
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      data_type: OnnxDataType.INT64,
      int64_data: values,
    });
    return name;
  }

  floatConst(value: number): string {
    return this.floatTensor(`const_${this.counter++}`, [], new Float32Array([value]));
  }
}

const intAttr = (name: string, i: number): Attribute => ({ name, type: OnnxAttributeType.INT, i });
const floatAttr = (name: string, f: number): Attribute => ({ name, type: OnnxAttributeType.FLOAT, f });
const intsAttr = (name: string, ints: number[]): Attribute => ({ name, type: OnnxAttributeType.INTS, ints });

function tensorInfo(name: string, elemType: number, dims: Array<number | string>): ValueInfoShape {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** Checks that `config` is buildable and `weights` holds exactly the weights it needs, with the right sizes. */
export function checkDecoderWeights(config: DecoderConfig, weights: DecoderWeights): void {
  const shapes = decoderWeightShapes(config); // throws on an unbuildable config (see decoderPositions)
  for (const [name, shape] of Object.entries(shapes)) {
    const w = weights[name];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`decoder weights: missing '${name}' (shape [${shape.join(', ')}])`);
    if (!(w instanceof Float32Array)) throw new Error(`decoder weights: '${name}' must be a Float32Array`);
    if (w.length !== size) {
      throw new Error(
        `decoder weights: '${name}' has ${w.length} values, shape [${shape.join(', ')}] needs ${size}`,
      );
    }
  }
  for (const name of Object.keys(weights)) {
    if (!(name in shapes)) {
      const hint =
        name === 'embed.positions'
          ? " (RoPE models have no position table: drop it, or use positions 'learned')"
          : '';
      throw new Error(`decoder weights: unexpected weight '${name}' for this config${hint}`);
    }
  }
}

/** Names of the RoPE constant tables in model.onnx (initializers that are not weights). */
export const ROPE_TABLE_NAMES = { cos: 'rope.cos', sin: 'rope.sin' } as const;

/**
 * Adds the RoPE tables and the cos/sin rows of `position_ids` ([batch, 1, seq, half], shared by every
 * layer) to the graph; returns rotate(x) for x = q or k as [batch, heads, seq, headDim].
 */
function ropeRotation(g: GraphBuilder, config: DecoderConfig): (x: string) => string {
  const { half, cos, sin } = ropeTables(config, config.maxPositions);
  const headDim = 2 * half;
  const rows = (table: string, values: Float64Array) =>
    g.op('Unsqueeze', [
      g.op('Gather', [
        g.floatTensor(table, [config.maxPositions, half], Float32Array.from(values)),
        'position_ids',
      ]),
      g.int64Const([1]),
    ]);
  const cosRows = rows(ROPE_TABLE_NAMES.cos, cos);
  const sinRows = rows(ROPE_TABLE_NAMES.sin, sin);
  const axis = g.int64Const([3]);
  const firstStart = g.int64Const([0]);
  const secondStart = g.int64Const([half]);
  const end = g.int64Const([headDim]);
  return (x) => {
    const x1 = g.op('Slice', [x, firstStart, secondStart, axis]);
    const x2 = g.op('Slice', [x, secondStart, end, axis]);
    const first = g.op('Sub', [g.op('Mul', [x1, cosRows]), g.op('Mul', [x2, sinRows])]);
    const second = g.op('Add', [g.op('Mul', [x2, cosRows]), g.op('Mul', [x1, sinRows])]);
    return g.op('Concat', [first, second], [intAttr('axis', 3)]);
  };
}

/**
 * How the graph carries the KV cache.
 * - `present` (the Optimum decoder-with-past convention): `past_key_values.{i}.*` in, and
 *   `present.{i}.*` = past ++ this call's keys/values out, logits for every input position.
 * - `in-place`: `past_key_values.{i}.*` is the engine's fixed-capacity cache [batch, heads, capacity,
 *   headDim], whose unused slots `attention_mask` marks 0; out come only this call's keys/values
 *   (`new_key_values.{i}.*` [batch, heads, seq, headDim]), which the engine writes into its cache, and
 *   the logits of the last position. `shared_key_values.{i}.*` [heads, shared, headDim] hold keys and
 *   values several rows attend to (a prompt they share), stored once; `attention_mask` is
 *   [batch, shared + capacity + seq], so each row marks the shared slots that are its own. Attention
 *   scores the shared slots, the cache and the new keys separately and adds the three weighted sums,
 *   so no call copies the cache.
 */
export type KvCacheLayout = 'present' | 'in-place';

/** Output names of the in-place layout's new keys and values of layer `i`. */
export const newKeyValueNames = (i: number) =>
  ({ key: `new_key_values.${i}.key`, value: `new_key_values.${i}.value` }) as const;

/** Input names of the in-place layout's shared slots of layer `i`, [heads, shared, headDim] each. */
export const sharedKeyValueNames = (i: number) =>
  ({ key: `shared_key_values.${i}.key`, value: `shared_key_values.${i}.value` }) as const;

/**
 * How the shared-slot step graph multiplies a row's queries with the shared slots, and its
 * probabilities with their values. Both give the same bits for a row at any batch size:
 * - `batched`: every row in one matrix product per head, [batch, headDim] · [headDim, shared], so a
 *   step reads the shared slots once, however many rows score them (the rows are moved head-major
 *   and back around each product);
 * - `per-row`: one product per row and head, as for the rows' own slots: no moving of rows, so a
 *   lone row runs 4 operators fewer per layer, and each row reads every shared slot;
 * - `row-sections`: the "shared" inputs are [batch, heads, section, headDim], a section of each row's
 *   own that holds its prompt alone (rows that share no prompt), multiplied per row as `per-row`: the
 *   same bits as that prompt alone in the shared slots, and no row reads another's prompt.
 */
export type SharedSlotProducts = 'batched' | 'per-row' | 'row-sections';

export interface DecoderGraphOptions {
  /**
   * In-place layout: the decode-step graph with the shared-slot inputs (`shared_key_values.{i}.*`),
   * multiplied so. It takes one new token per row (the engine prefills with the graph without them).
   */
  sharedSlots?: SharedSlotProducts;
}

/** A graph holding `weights` as initializers named as the weights. */
function weightedGraph(config: DecoderConfig, weights: DecoderWeights): GraphBuilder {
  checkDecoderWeights(config, weights);
  const g = new GraphBuilder();
  const shapes = decoderWeightShapes(config);
  for (const [name, shape] of Object.entries(shapes)) g.floatTensor(name, shape, weights[name]!);
  return g;
}

function layerNorm(g: GraphBuilder, config: DecoderConfig, x: string, prefix: string): string {
  return g.op(
    'LayerNormalization',
    [x, `${prefix}.weight`, `${prefix}.bias`],
    [intAttr('axis', -1), floatAttr('epsilon', config.layerNormEps)],
  );
}

/** GELU, tanh approximation (Hendrycks & Gimpel 2016): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluOf(g: GraphBuilder): (x: string) => string {
  const half = g.floatConst(0.5);
  const oneF = g.floatConst(1);
  const geluCubic = g.floatConst(0.044715);
  const geluScale = g.floatConst(Math.sqrt(2 / Math.PI));
  return (x) => {
    const inner = g.op('Mul', [
      geluScale,
      g.op('Add', [x, g.op('Mul', [geluCubic, g.op('Mul', [x, g.op('Mul', [x, x])])])]),
    ]);
    return g.op('Mul', [g.op('Mul', [half, x]), g.op('Add', [oneF, g.op('Tanh', [inner])])]);
  };
}

function encodeDecoder(
  g: GraphBuilder,
  input: ValueInfoShape[],
  output: ValueInfoShape[],
  opset = DECODER_OPSET,
): Uint8Array {
  return encodeOnnxModel({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'toolgym',
    producer_version: '1',
    doc_string: 'ToolGym small decoder (agents/src/model/decoder-config.ts)',
    graph: { name: 'toolgym_decoder', node: g.nodes, initializer: g.initializers, input, output },
  });
}

/** Serialises the decoder with `weights` to ONNX model bytes (protobuf). */
export function buildDecoderOnnx(
  config: DecoderConfig,
  weights: DecoderWeights,
  layout: KvCacheLayout = 'present',
  options: DecoderGraphOptions = {},
): Uint8Array {
  if (options.sharedSlots) {
    if (layout !== 'in-place') throw new Error('decoder graph: shared slots need the in-place layout');
    return sharedSlotStep(config, weights, options.sharedSlots);
  }
  const g = weightedGraph(config, weights);
  const { dModel, nHeads, nLayers } = config;
  const headDim = dModel / nHeads;
  const rope = decoderPositions(config) === 'rope';

  // Masks: query i of this call sits at key index past + i; it may see key j iff j <= past + i and
  // attention_mask[b, j] = 1.
  const zero = g.int64Const([0], true);
  const one = g.int64Const([1], true);
  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), one], [intAttr('axis', 0)]);
  const totalLen = g.op('Gather', [g.op('Shape', ['attention_mask']), one], [intAttr('axis', 0)]);
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const keyIndex = g.op('Range', [zero, totalLen, one]);
  const queryIndex = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, one]), g.int64Const([1])]);
  const causal = g.op('LessOrEqual', [keyIndex, queryIndex]); // [seq, total]
  const keyPresent = g.op('Unsqueeze', [
    g.op('Cast', ['attention_mask'], [intAttr('to', OnnxDataType.BOOL)]),
    g.int64Const([1, 2]),
  ]); // [batch, 1, 1, total]
  const allowed = g.op('And', [causal, keyPresent]); // [batch, 1, seq, total]
  const maskedScore = g.floatConst(MASKED_SCORE);
  /** In-place layout: where the scores of [cache slots ++ new positions] meet, along axis 3. */
  const split =
    layout === 'in-place'
      ? {
          zero: g.int64Const([0]),
          /** Cache slots: attention_mask is [batch, capacity + seq]. */
          past: g.op('Unsqueeze', [pastLen, g.int64Const([0])]),
          total: g.op('Unsqueeze', [totalLen, g.int64Const([0])]),
          axis: g.int64Const([3]),
        }
      : undefined;

  const linear = (x: string, prefix: string) =>
    g.op('Add', [g.op('MatMul', [x, `${prefix}.weight`]), `${prefix}.bias`]);
  const splitHeadsShape = g.int64Const([0, 0, nHeads, headDim]);
  const mergeHeadsShape = g.int64Const([0, 0, dModel]);
  const toHeads = (x: string) =>
    g.op('Transpose', [g.op('Reshape', [x, splitHeadsShape])], [intsAttr('perm', [0, 2, 1, 3])]);
  const scale = g.floatConst(1 / Math.sqrt(headDim));
  const gelu = geluOf(g);

  const tokens = g.op('Gather', ['embed.tokens', 'input_ids']);
  let h = rope ? tokens : g.op('Add', [tokens, g.op('Gather', ['embed.positions', 'position_ids'])]);
  const rotate = rope ? ropeRotation(g, config) : (x: string) => x;
  for (let i = 0; i < nLayers; i++) {
    const p = `layers.${i}`;
    const a = layerNorm(g, config, h, `${p}.ln1`);
    const q = rotate(toHeads(linear(a, `${p}.attn.q`)));
    const pastKey = `past_key_values.${i}.key`;
    const pastValue = `past_key_values.${i}.value`;
    const newKey = rotate(toHeads(linear(a, `${p}.attn.k`)));
    const newValue = toHeads(linear(a, `${p}.attn.v`));
    const scoresOf = (key: string) =>
      g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [key], [intsAttr('perm', [0, 1, 3, 2])])]), scale]);
    const softmax = (scores: string) =>
      g.op('Softmax', [g.op('Where', [allowed, scores, maskedScore])], [intAttr('axis', -1)]);
    let attended: string;
    if (layout === 'present') {
      const key = g.op('Concat', [pastKey, newKey], [intAttr('axis', 2)], `present.${i}.key`);
      const value = g.op('Concat', [pastValue, newValue], [intAttr('axis', 2)], `present.${i}.value`);
      attended = g.op('MatMul', [softmax(scoresOf(key)), value]);
    } else {
      g.op('Identity', [newKey], [], newKeyValueNames(i).key);
      g.op('Identity', [newValue], [], newKeyValueNames(i).value);
      // softmax over [cache slots ++ new positions], split back: probs·V = probsPast·Vpast + probsNew·Vnew.
      const probs = softmax(g.op('Concat', [scoresOf(pastKey), scoresOf(newKey)], [intAttr('axis', 3)]));
      const { zero, past, total, axis } = split!;
      const probsPast = g.op('Slice', [probs, zero, past, axis]);
      const probsNew = g.op('Slice', [probs, past, total, axis]);
      attended = g.op('Add', [g.op('MatMul', [probsPast, pastValue]), g.op('MatMul', [probsNew, newValue])]);
    }
    const context = g.op('Transpose', [attended], [intsAttr('perm', [0, 2, 1, 3])]);
    h = g.op('Add', [h, linear(g.op('Reshape', [context, mergeHeadsShape]), `${p}.attn.o`)]);
    h = g.op('Add', [
      h,
      linear(gelu(linear(layerNorm(g, config, h, `${p}.ln2`), `${p}.mlp.up`)), `${p}.mlp.down`),
    ]);
  }
  // The in-place layout serves generation only, which reads the last position's logits.
  const last =
    layout === 'present'
      ? h
      : g.op('Slice', [h, g.int64Const([-1]), g.int64Const([2 ** 62]), g.int64Const([1])]);
  g.op('MatMul', [layerNorm(g, config, last, 'final_norm'), 'lm_head.weight'], [], 'logits');

  const kvDims = ['batch_size', nHeads, 'past_sequence_length', headDim];
  const presentDims = ['batch_size', nHeads, 'total_sequence_length', headDim];
  const newDims = ['batch_size', nHeads, 'sequence_length', headDim];
  const inputs = [
    tensorInfo('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
    tensorInfo('attention_mask', OnnxDataType.INT64, ['batch_size', 'total_sequence_length']),
    tensorInfo('position_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [
    tensorInfo('logits', OnnxDataType.FLOAT, [
      'batch_size',
      layout === 'present' ? 'sequence_length' : 1,
      config.vocabSize,
    ]),
  ];
  for (let i = 0; i < nLayers; i++) {
    for (const kind of ['key', 'value'] as const) {
      inputs.push(tensorInfo(`past_key_values.${i}.${kind}`, OnnxDataType.FLOAT, kvDims));
      outputs.push(
        layout === 'present'
          ? tensorInfo(`present.${i}.${kind}`, OnnxDataType.FLOAT, presentDims)
          : tensorInfo(newKeyValueNames(i)[kind], OnnxDataType.FLOAT, newDims),
      );
    }
  }
  return encodeDecoder(g, inputs, outputs);
}

/**
 * The in-place layout with shared slots (`shared_key_values.{i}.*` [heads, shared, headDim]: keys and
 * values several rows attend to, stored once; `attention_mask` keeps each row to its own) for decode
 * steps: one new token per row, so hidden states are [batch, dModel] and every head split and merge
 * is a Reshape, no causal mask is needed (the token sees every slot the mask gives it), the q, k and
 * v projections are one product (their weights concatenated, which onnxruntime folds at load), and
 * each linear layer's bias is added in its product (Gemm). The engine prefills with the graph without
 * shared slots.
 */
function sharedSlotStep(
  config: DecoderConfig,
  weights: DecoderWeights,
  products: SharedSlotProducts,
): Uint8Array {
  const g = weightedGraph(config, weights);
  const { dModel, nHeads, nLayers } = config;
  const headDim = dModel / nHeads;
  const rope = decoderPositions(config) === 'rope';
  const axis = (i: number) => [intAttr('axis', i)];
  const perm = (p: number[]) => [intsAttr('perm', p)];
  /** [heads, shared, headDim], or per row [batch, heads, section, headDim]. */
  const sharedRank = products === 'row-sections' ? 4 : 3;

  const allowed = g.op('Unsqueeze', [
    g.op('Cast', ['attention_mask'], [intAttr('to', OnnxDataType.BOOL)]),
    g.int64Const([1, 2]),
  ]); // [batch, 1, 1, shared + capacity + 1]
  const maskedScore = g.floatConst(MASKED_SCORE);
  /** [shared, capacity, 1]: where the probabilities of the three kinds of slot meet. */
  const slotKinds = g.op(
    'Concat',
    [
      g.op(
        'Shape',
        [sharedKeyValueNames(0).key],
        [intAttr('start', sharedRank - 2), intAttr('end', sharedRank - 1)],
      ),
      g.op('Shape', ['past_key_values.0.key'], [intAttr('start', 2), intAttr('end', 3)]),
      g.int64Const([1]),
    ],
    axis(0),
  );
  const scale = g.floatConst(1 / Math.sqrt(headDim));
  const minusOne = g.floatConst(-1);
  const gelu = (x: string) =>
    g.op(
      'Gelu',
      [x],
      [{ name: 'approximate', type: OnnxAttributeType.STRING, s: new TextEncoder().encode('tanh') }],
    );
  const linear = (x: string, weight: string, bias: string) => g.op('Gemm', [x, weight, bias]);
  const layer = (i: number, part: string) => `layers.${i}.${part}`;
  /** Heads of a [batch, n · headDim] row: [batch, n, 1, headDim]. */
  const headsShape = (n: number) => g.int64Const([0, n, 1, headDim]);
  const qkvHeads = headsShape(3 * nHeads);
  const rowShape = g.int64Const([-1, dModel]);
  /**
   * a · b scaled by `scale` ≠ 1, which onnxruntime folds into the product: its CPU matrix product
   * (MLAS) multiplies a single row with another kernel than several (other bits) unless the product
   * is scaled, so each row's product with the shared slots is the same bits in a batch of any size.
   * The weighted sum of the values has no scale of its own: it is scaled by −1 and subtracted
   * (exact: a − (−c) is a + c to the bit).
   */
  const scaledMatMul = (a: string, b: string, by: string) => g.op('Mul', [g.op('MatMul', [a, b]), by]);
  /** `batched`: [batch, heads, 1, n] ↔ [1, heads, batch, n], one product per head over every row. */
  const headMajor = (x: string) => (products === 'batched' ? g.op('Transpose', [x], perm([2, 1, 0, 3])) : x);

  const tokens = g.op('Gather', ['embed.tokens', 'input_ids']);
  const embedded = rope ? tokens : g.op('Add', [tokens, g.op('Gather', ['embed.positions', 'position_ids'])]);
  let h = g.op('Reshape', [embedded, rowShape]);
  const rotate = rope ? ropeRotation(g, config) : undefined;
  for (let i = 0; i < nLayers; i++) {
    const names = newKeyValueNames(i);
    const shared = sharedKeyValueNames(i);
    const pastKey = `past_key_values.${i}.key`;
    const pastValue = `past_key_values.${i}.value`;
    const attn = ['q', 'k', 'v'].map((x) => layer(i, `attn.${x}`));
    const qkv = g.op('Reshape', [
      linear(
        layerNorm(g, config, h, layer(i, 'ln1')),
        g.op(
          'Concat',
          attn.map((x) => `${x}.weight`),
          axis(1),
        ),
        g.op(
          'Concat',
          attn.map((x) => `${x}.bias`),
          axis(0),
        ),
      ),
      qkvHeads,
    ]);
    // q, k and v part along the heads; with RoPE, q and k are rotated together first.
    const sizes = (parts: number[]) => g.int64Const(parts.map((n) => n * nHeads));
    let parts: string[];
    if (rotate) {
      const [qk, v] = g.split(qkv, sizes([2, 1]), 1, 2, [undefined, names.value]);
      parts = [...g.split(rotate(qk!), sizes([1, 1]), 1, 2, [undefined, names.key]), v!];
    } else parts = g.split(qkv, sizes([1, 1, 1]), 1, 3, [undefined, names.key, names.value]);
    const [q, key, value] = parts as [string, string, string];
    const keysT = (k: string, rank: number) =>
      g.op('Transpose', [k], perm(rank === 3 ? [0, 2, 1] : [0, 1, 3, 2]));
    // softmax over [shared slots ++ cache slots ++ this token], split back:
    // probs·V = probsShared·Vshared + probsPast·Vpast + probsNew·Vnew.
    const scores = [
      headMajor(scaledMatMul(headMajor(q), keysT(shared.key, sharedRank), scale)),
      scaledMatMul(q, keysT(pastKey, 4), scale),
      scaledMatMul(q, keysT(key, 4), scale),
    ];
    const probs = g.op(
      'Softmax',
      [g.op('Where', [allowed, g.op('Concat', scores, axis(3)), maskedScore])],
      axis(-1),
    );
    const [probsShared, probsPast, probsNew] = g.split(probs, slotKinds, 3, 3);
    const attended = g.op('Sub', [
      g.op('Add', [g.op('MatMul', [probsPast!, pastValue]), g.op('MatMul', [probsNew!, value])]),
      headMajor(scaledMatMul(headMajor(probsShared!), shared.value, minusOne)),
    ]);
    const context = g.op('Reshape', [attended, rowShape]);
    const o = layer(i, 'attn.o');
    h = g.op('Add', [h, linear(context, `${o}.weight`, `${o}.bias`)]);
    const [up, down] = [layer(i, 'mlp.up'), layer(i, 'mlp.down')];
    const inner = gelu(linear(layerNorm(g, config, h, layer(i, 'ln2')), `${up}.weight`, `${up}.bias`));
    h = g.op('Add', [h, linear(inner, `${down}.weight`, `${down}.bias`)]);
  }
  g.op(
    'Unsqueeze',
    [g.op('MatMul', [layerNorm(g, config, h, 'final_norm'), 'lm_head.weight']), g.int64Const([1])],
    [],
    'logits',
  );

  const inputs = [
    tensorInfo('input_ids', OnnxDataType.INT64, ['batch_size', 1]),
    tensorInfo('attention_mask', OnnxDataType.INT64, ['batch_size', 'total_sequence_length']),
    tensorInfo('position_ids', OnnxDataType.INT64, ['batch_size', 1]),
  ];
  const outputs = [tensorInfo('logits', OnnxDataType.FLOAT, ['batch_size', 1, config.vocabSize])];
  for (let i = 0; i < nLayers; i++) {
    for (const kind of ['key', 'value'] as const) {
      inputs.push(
        tensorInfo(`past_key_values.${i}.${kind}`, OnnxDataType.FLOAT, [
          'batch_size',
          nHeads,
          'past_sequence_length',
          headDim,
        ]),
        tensorInfo(
          sharedKeyValueNames(i)[kind],
          OnnxDataType.FLOAT,
          sharedRank === 4
            ? ['batch_size', nHeads, 'section_length', headDim]
            : [nHeads, 'shared_length', headDim],
        ),
      );
      outputs.push(
        tensorInfo(newKeyValueNames(i)[kind], OnnxDataType.FLOAT, ['batch_size', nHeads, 1, headDim]),
      );
    }
  }
  return encodeDecoder(g, inputs, outputs, DECODE_STEP_OPSET);
}

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
 * Gelu op needs opset 20). Causal masking is built from Range + LessOrEqual on the key/query indices
 * (no Trilu), combined with the attention mask and applied with Where, so masked scores are exactly
 * -1e9 before the softmax as the shared maths says. Initializer names are the decoder weight names.
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

  /** Splits `x` along `axis` into `count` parts of the given sizes (an int64 vector). */
  split(x: string, sizes: string, axis: number, count: number): string[] {
    const name = `Split_${this.counter++}`;
    const outputs = Array.from({ length: count }, (_, i) => `${name}_out${i}`);
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
 * How the in-place graph multiplies a row's queries with the shared slots, and its probabilities with
 * their values. Both give the same bits for a row at any batch size:
 * - `batched`: every row in one matrix product per head, [batch·seq, headDim] · [headDim, shared],
 *   so a step reads the shared slots once, however many rows score them (the rows are moved
 *   head-major and back around each product);
 * - `per-row`: one product per row and head, as for the rows' own slots: no moving of rows, so a
 *   lone row runs 8 operators fewer per layer, and each row reads every shared slot.
 */
export type SharedSlotProducts = 'batched' | 'per-row';

/**
 * The in-place layout's shared slots: keys and values that several rows attend to (the prompt of a
 * GRPO group), stored once; `attention_mask` keeps each row to its own shared slots. The values are
 * stored negated (`SHARED_VALUE_SIGN`).
 */
function sharedSlotAttention(g: GraphBuilder, config: DecoderConfig, products: SharedSlotProducts) {
  const { nHeads, dModel } = config;
  const headDim = dModel / nHeads;
  const length = g.op('Shape', [sharedKeyValueNames(0).value], [intAttr('start', 1), intAttr('end', 2)]);
  /**
   * a · b scaled by `scale` ≠ 1, which onnxruntime folds into the product: its CPU matrix product
   * (MLAS) multiplies a single row with another kernel than several (other bits) unless the product
   * is scaled, so each row's product is the same bits in a batch of any size. The weighted sum of
   * the values has no scale of its own: they are stored negated and the product scaled by −1 (exact).
   */
  const scaledMatMul = (a: string, b: string, scale: string) => g.op('Mul', [g.op('MatMul', [a, b]), scale]);
  const valueSign = g.floatConst(SHARED_VALUE_SIGN);
  const rowsOf = products === 'batched' ? batchedRows(g, nHeads, headDim, length) : undefined;
  return {
    /** [shared, capacity, seq]: where the probabilities of the three kinds of slot meet. */
    splitSizes: g.op(
      'Concat',
      [
        length,
        g.op('Shape', ['past_key_values.0.key'], [intAttr('start', 2), intAttr('end', 3)]),
        g.op('Shape', ['input_ids'], [intAttr('start', 1), intAttr('end', 2)]),
      ],
      [intAttr('axis', 0)],
    ),
    /** q [batch, heads, seq, headDim] → scores [batch, heads, seq, shared]. */
    scores: (i: number, q: string, scale: string) => {
      const keysT = g.op('Transpose', [sharedKeyValueNames(i).key], [intsAttr('perm', [0, 2, 1])]);
      if (!rowsOf) return scaledMatMul(q, keysT, scale);
      return rowsOf.unfold(scaledMatMul(rowsOf.fold(q, 'queries'), keysT, scale), 'scores');
    },
    /** probs [batch, heads, seq, shared] → their weighted sum of values [batch, heads, seq, headDim]. */
    context: (i: number, probs: string) => {
      const values = sharedKeyValueNames(i).value;
      if (!rowsOf) return scaledMatMul(probs, values, valueSign);
      return rowsOf.unfold(scaledMatMul(rowsOf.fold(probs, 'probs'), values, valueSign), 'context');
    },
  };
}

/**
 * The sign of the values in `shared_key_values.{i}.value`: the engine stores them negated, so that
 * the graph's product with them carries a scale (see `sharedSlotAttention`) at no extra operator.
 */
export const SHARED_VALUE_SIGN = -1;

/**
 * `batched` shared-slot products: [batch, heads, seq, n] ↔ [heads, batch·seq, n], so that one
 * product per head covers every row.
 */
function batchedRows(g: GraphBuilder, nHeads: number, headDim: number, length: string) {
  const axis0 = [intAttr('axis', 0)];
  const vector = (scalar: string) => g.op('Unsqueeze', [scalar, g.int64Const([0])]);
  const dim = (input: string, index: number) =>
    vector(g.op('Gather', [g.op('Shape', [input]), g.int64Const([index], true)], axis0));
  const batch = dim('input_ids', 0);
  const seq = dim('input_ids', 1);
  const heads = g.int64Const([nHeads]);
  const rows = g.op('Mul', [batch, seq]);
  const width = g.int64Const([headDim]);
  const shapeOf = (parts: string[]) => g.op('Concat', parts, axis0);
  const folded = { queries: shapeOf([heads, rows, width]), probs: shapeOf([heads, rows, length]) };
  const unfolded = {
    scores: shapeOf([heads, batch, seq, length]),
    context: shapeOf([heads, batch, seq, width]),
  };
  // allowzero: with no shared slots a 0 in the shape is a length, not "keep this dimension".
  const reshape = (x: string, shape: string) => g.op('Reshape', [x, shape], [intAttr('allowzero', 1)]);
  /** [batch, heads, …] ↔ [heads, batch, …]. */
  const swap = (x: string) => g.op('Transpose', [x], [intsAttr('perm', [1, 0, 2, 3])]);
  return {
    fold: (x: string, kind: keyof typeof folded) => reshape(swap(x), folded[kind]),
    unfold: (x: string, kind: keyof typeof unfolded) => swap(reshape(x, unfolded[kind])),
  };
}

export interface DecoderGraphOptions {
  /** In-place layout: add the shared-slot inputs (`shared_key_values.{i}.*`), multiplied so. */
  sharedSlots?: SharedSlotProducts;
}

/** Serialises the decoder with `weights` to ONNX model bytes (protobuf). */
export function buildDecoderOnnx(
  config: DecoderConfig,
  weights: DecoderWeights,
  layout: KvCacheLayout = 'present',
  options: DecoderGraphOptions = {},
): Uint8Array {
  checkDecoderWeights(config, weights);
  const g = new GraphBuilder();
  const shapes = decoderWeightShapes(config);
  for (const [name, shape] of Object.entries(shapes)) g.floatTensor(name, shape, weights[name]!);

  const { dModel, nHeads, nLayers, layerNormEps } = config;
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
  /** In-place layout without shared slots: where the scores of [cache slots ++ new positions] meet, along axis 3. */
  const split =
    layout === 'in-place' && !options.sharedSlots
      ? {
          zero: g.int64Const([0]),
          /** Cache slots: attention_mask is [batch, capacity + seq]. */
          past: g.op('Unsqueeze', [pastLen, g.int64Const([0])]),
          total: g.op('Unsqueeze', [totalLen, g.int64Const([0])]),
          axis: g.int64Const([3]),
        }
      : undefined;
  const shared =
    layout === 'in-place' && options.sharedSlots
      ? sharedSlotAttention(g, config, options.sharedSlots)
      : undefined;

  const layerNorm = (x: string, prefix: string) =>
    g.op(
      'LayerNormalization',
      [x, `${prefix}.weight`, `${prefix}.bias`],
      [intAttr('axis', -1), floatAttr('epsilon', layerNormEps)],
    );
  const linear = (x: string, prefix: string) =>
    g.op('Add', [g.op('MatMul', [x, `${prefix}.weight`]), `${prefix}.bias`]);
  const splitHeadsShape = g.int64Const([0, 0, nHeads, headDim]);
  const mergeHeadsShape = g.int64Const([0, 0, dModel]);
  const toHeads = (x: string) =>
    g.op('Transpose', [g.op('Reshape', [x, splitHeadsShape])], [intsAttr('perm', [0, 2, 1, 3])]);
  const scale = g.floatConst(1 / Math.sqrt(headDim));
  const half = g.floatConst(0.5);
  const oneF = g.floatConst(1);
  const geluCubic = g.floatConst(0.044715);
  const geluScale = g.floatConst(Math.sqrt(2 / Math.PI));

  const tokens = g.op('Gather', ['embed.tokens', 'input_ids']);
  let h = rope ? tokens : g.op('Add', [tokens, g.op('Gather', ['embed.positions', 'position_ids'])]);
  const rotate = rope ? ropeRotation(g, config) : (x: string) => x;
  for (let i = 0; i < nLayers; i++) {
    const p = `layers.${i}`;
    const a = layerNorm(h, `${p}.ln1`);
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
      // softmax over [shared slots ++ cache slots ++ new positions], split back:
      // probs·V = probsShared·Vshared + probsPast·Vpast + probsNew·Vnew.
      const scores = [scoresOf(pastKey), scoresOf(newKey)];
      if (shared) scores.unshift(shared.scores(i, q, scale));
      const probs = softmax(g.op('Concat', scores, [intAttr('axis', 3)]));
      if (shared) {
        const [probsShared, probsPast, probsNew] = g.split(probs, shared.splitSizes, 3, 3);
        attended = g.op('Add', [
          g.op('Add', [g.op('MatMul', [probsPast!, pastValue]), g.op('MatMul', [probsNew!, newValue])]),
          shared.context(i, probsShared!),
        ]);
      } else {
        const { zero, past, total, axis } = split!;
        const probsPast = g.op('Slice', [probs, zero, past, axis]);
        const probsNew = g.op('Slice', [probs, past, total, axis]);
        attended = g.op('Add', [
          g.op('MatMul', [probsPast, pastValue]),
          g.op('MatMul', [probsNew, newValue]),
        ]);
      }
    }
    const context = g.op('Transpose', [attended], [intsAttr('perm', [0, 2, 1, 3])]);
    h = g.op('Add', [h, linear(g.op('Reshape', [context, mergeHeadsShape]), `${p}.attn.o`)]);

    const up = linear(layerNorm(h, `${p}.ln2`), `${p}.mlp.up`);
    const inner = g.op('Mul', [
      geluScale,
      g.op('Add', [up, g.op('Mul', [geluCubic, g.op('Mul', [up, g.op('Mul', [up, up])])])]),
    ]);
    const gelu = g.op('Mul', [g.op('Mul', [half, up]), g.op('Add', [oneF, g.op('Tanh', [inner])])]);
    h = g.op('Add', [h, linear(gelu, `${p}.mlp.down`)]);
  }
  // The in-place layout serves generation only, which reads the last position's logits.
  const last =
    layout === 'present'
      ? h
      : g.op('Slice', [h, g.int64Const([-1]), g.int64Const([2 ** 62]), g.int64Const([1])]);
  g.op('MatMul', [layerNorm(last, 'final_norm'), 'lm_head.weight'], [], 'logits');

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
      if (shared)
        inputs.push(
          tensorInfo(sharedKeyValueNames(i)[kind], OnnxDataType.FLOAT, [nHeads, 'shared_length', headDim]),
        );
    }
  }

  return encodeOnnxModel({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: DECODER_OPSET }],
    producer_name: 'toolgym',
    producer_version: '1',
    doc_string: 'ToolGym small decoder (agents/src/model/decoder-config.ts)',
    graph: {
      name: 'toolgym_decoder',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs,
      output: outputs,
    },
  });
}

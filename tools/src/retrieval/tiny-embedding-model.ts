/**
 * A small embedding model built here, for tests: hashed bag-of-words mean pooling, a random
 * projection that makes cosine similarity track term overlap. It is a real ONNX graph
 * (Gather → masked mean) run by onnxruntime-node, so it exercises the same path a downloaded
 * encoder would. For tests and benches only (protobufjs is a dev dependency): `@toolgym/tools/tiny-embedding-model`,
 * not the package's main entry.
 */
import protobuf from 'protobufjs';
import { analyze } from './analyzer.ts';

// The subset of onnx.proto (proto2, upstream field numbers) this builder writes.
const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto { optional string name = 1; optional int64 i = 3; optional int32 type = 20; }
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message NodeProto { repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4; repeated AttributeProto attribute = 5; }
message TensorProto { repeated int64 dims = 1; optional int32 data_type = 2; repeated int64 int64_data = 7 [packed = true]; optional string name = 8; optional bytes raw_data = 9; }
message TensorShapeProto { message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } } repeated Dimension dim = 1; }
message TypeProto { message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; } oneof value { Tensor tensor_type = 1; } }
message GraphProto { repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message ModelProto { optional int64 ir_version = 1; optional string producer_name = 2; optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`;

const FLOAT = 1;
const INT64 = 7;
const ATTRIBUTE_INT = 2;

/** Seeded standard-normal table [vocabulary, dimension] (mulberry32 + Box–Muller). */
export function embeddingTable(vocabulary: number, dimension: number, seed = 1): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const table = new Float32Array(vocabulary * dimension);
  for (let i = 0; i < table.length; i++)
    table[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return table;
}

/** The tokenizer of the tiny model: analyzed terms hashed (FNV-1a) into the vocabulary. */
export function hashedTokenIds(text: string, vocabulary: number): number[] {
  return analyze(text).map((term) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < term.length; i++) h = Math.imul(h ^ term.charCodeAt(i), 0x01000193);
    return (h >>> 0) % vocabulary;
  });
}

/**
 * The ONNX model: embedding = Σ_s E[ids[b,s]] · mask[b,s] / Σ_s mask[b,s], output `embedding`
 * [batch, dimension] (opset 13).
 */
export function buildTinyEmbeddingModel(
  table: Float32Array,
  vocabulary: number,
  dimension: number,
): Uint8Array {
  const dims = (names: Array<string | number>) => ({
    dim: names.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })),
  });
  const valueInfo = (name: string, elemType: number, shape: Array<string | number>) => ({
    name,
    type: { tensor_type: { elem_type: elemType, shape: dims(shape) } },
  });
  const int64s = (name: string, values: number[]) => ({
    name,
    dims: [values.length],
    data_type: INT64,
    int64_data: values,
  });
  const node = (op_type: string, input: string[], output: string[], attribute: unknown[] = []) => ({
    name: output[0],
    op_type,
    input,
    output,
    attribute,
  });
  const model = {
    ir_version: 8,
    producer_name: 'toolgym-tiny-embedder',
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny_embedder',
      initializer: [
        {
          name: 'E',
          dims: [vocabulary, dimension],
          data_type: FLOAT,
          raw_data: new Uint8Array(table.buffer, table.byteOffset, table.byteLength),
        },
        int64s('axis_tokens', [1]),
        int64s('axis_last', [2]),
      ],
      node: [
        node('Gather', ['E', 'input_ids'], ['token_vectors']),
        node('Cast', ['attention_mask'], ['mask_float'], [{ name: 'to', type: ATTRIBUTE_INT, i: FLOAT }]),
        node('Unsqueeze', ['mask_float', 'axis_last'], ['mask3']),
        node('Mul', ['token_vectors', 'mask3'], ['masked']),
        node(
          'ReduceSum',
          ['masked', 'axis_tokens'],
          ['summed'],
          [{ name: 'keepdims', type: ATTRIBUTE_INT, i: 0 }],
        ),
        node(
          'ReduceSum',
          ['mask3', 'axis_tokens'],
          ['counted'],
          [{ name: 'keepdims', type: ATTRIBUTE_INT, i: 0 }],
        ),
        node('Max', ['counted', 'one'], ['count']),
        node('Div', ['summed', 'count'], ['embedding']),
      ],
      input: [
        valueInfo('input_ids', INT64, ['batch', 'tokens']),
        valueInfo('attention_mask', INT64, ['batch', 'tokens']),
      ],
      output: [valueInfo('embedding', FLOAT, ['batch', dimension])],
    },
  };
  // Max(count, 1) keeps an all-padding row at zero instead of 0/0.
  model.graph.initializer.push({
    name: 'one',
    dims: [],
    data_type: FLOAT,
    raw_data: new Uint8Array(new Float32Array([1]).buffer),
  });
  const type = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const problem = type.verify(model);
  if (problem) throw new Error(`tiny embedding model does not match onnx.ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

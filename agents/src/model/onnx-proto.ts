/**
 * The subset of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto, proto2, field
 * numbers as upstream) that the decoder builder writes and the weight reader reads. Embedded so that
 * building a model needs no download; protobufjs encodes it.
 */
import protobuf from 'protobufjs';

const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7; STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  optional string doc_string = 12;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** ONNX TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;

/** ONNX AttributeProto.AttributeType values used here. */
export const OnnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, INTS: 7 } as const;

let modelType: protobuf.Type | undefined;

/** The protobufjs type of `onnx.ModelProto`, parsed once from the embedded subset. */
export function onnxModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export interface TensorProtoShape {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  int64_data?: number[];
}

export interface NodeProtoShape {
  name: string;
  op_type: string;
  /** Operator set domain; absent for the default ONNX domain (e.g. `com.microsoft` for contrib ops). */
  domain?: string;
  input: string[];
  output: string[];
  attribute: Array<{
    name: string;
    type: number;
    i?: number;
    f?: number;
    s?: Uint8Array;
    ints?: number[];
    t?: TensorProtoShape;
  }>;
}

export interface ValueInfoShape {
  name: string;
  type: {
    tensor_type: { elem_type: number; shape: { dim: Array<{ dim_value: number } | { dim_param: string }> } };
  };
}

export interface ModelProtoShape {
  ir_version: number;
  opset_import: Array<{ domain: string; version: number }>;
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: {
    name: string;
    node: NodeProtoShape[];
    initializer: TensorProtoShape[];
    input: ValueInfoShape[];
    output: ValueInfoShape[];
  };
}

export function encodeOnnxModel(model: ModelProtoShape): Uint8Array {
  const type = onnxModelProto();
  const problem = type.verify(model);
  if (problem) throw new Error(`internal: ONNX model does not match onnx.ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes a model's initializers (name → tensor). Used to read the weights of a ToolGym model back. */
export function decodeOnnxInitializers(bytes: Uint8Array): Map<string, TensorProtoShape> {
  const type = onnxModelProto();
  const decoded = type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as {
    graph?: { initializer?: TensorProtoShape[] };
  };
  return new Map((decoded.graph?.initializer ?? []).map((t) => [t.name, t]));
}

/**
 * Reads a ToolGym decoder's weights back out of its model.onnx (initializers are named by the decoder
 * weight names), e.g. for the learner to start from the weights a policy serves.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DecoderConfig, DecoderWeights } from '../model/decoder-config.ts';
import { decoderWeightShapes } from '../model/decoder-config.ts';
import { ModelDirError } from './errors.ts';
import { readModelDir } from './model-dir.ts';
import { decodeOnnxInitializers, OnnxDataType } from './onnx-proto.ts';

export function readDecoderWeights(onnxBytes: Uint8Array, config: DecoderConfig): DecoderWeights {
  const initializers = decodeOnnxInitializers(onnxBytes);
  const weights: DecoderWeights = {};
  for (const [name, shape] of Object.entries(decoderWeightShapes(config))) {
    const t = initializers.get(name);
    if (!t || t.data_type !== OnnxDataType.FLOAT || !t.raw_data)
      throw new Error(`model.onnx has no float32 initializer '${name}'`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.raw_data.byteLength !== size * 4)
      throw new Error(
        `model.onnx initializer '${name}' has ${t.raw_data.byteLength / 4} values, expected ${size}`,
      );
    // Copy: raw_data may be unaligned inside the decoded buffer.
    weights[name] = new Float32Array(Uint8Array.from(t.raw_data).buffer);
  }
  return weights;
}

/** Config and weights of a ToolGym model directory (needs toolgym.json). */
export async function readDecoderModelDir(
  dir: string,
): Promise<{ config: DecoderConfig; weights: DecoderWeights; policyVersion: number }> {
  const model = readModelDir(dir);
  if (!model.toolgym)
    throw new ModelDirError(
      'missing_model_file',
      path.join(model.dir, 'toolgym.json'),
      'missing; only ToolGym decoders have readable weights',
    );
  const config = model.toolgym.decoder;
  return {
    config,
    weights: readDecoderWeights(await readFile(model.modelPath), config),
    policyVersion: model.toolgym.policyVersion,
  };
}

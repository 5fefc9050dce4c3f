import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TextEmbedder } from './dense-index.ts';
import { RetrievalConfigError } from './types.ts';

export interface OnnxEmbedderOptions {
  /** An ONNX model with int64 inputs `input_ids` and `attention_mask` [batch, tokens] and one output:
   * sentence embeddings [batch, dim], or token states [batch, tokens, dim] that are mean-pooled. */
  modelPath: string;
  /** The model's tokenizer: text → token ids (a model's own WordPiece/BPE tokenizer goes here). */
  tokenize(text: string): number[];
  /** Longer inputs are cut (transformer encoders have a maximum length). */
  maxTokens?: number;
  /** Id used when no token is left (empty text). */
  padId?: number;
  /** Execution providers in order of preference; CPU by default (CUDA when the machine has it). */
  executionProviders?: string[];
}

/**
 * A `TextEmbedder` on onnxruntime-node: batches are padded to their longest text, outputs are
 * mean-pooled over real tokens when the model returns token states, and L2-normalised.
 */
export async function createOnnxEmbedder(options: OnnxEmbedderOptions): Promise<TextEmbedder> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(options.modelPath);
  } catch {
    throw new RetrievalConfigError(
      'embedding_model',
      `no embedding model at ${options.modelPath}`,
      'build or copy an ONNX model there',
    );
  }
  // Loaded on first use: importing @toolgym/tools should not load the ONNX runtime.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: options.executionProviders ?? ['cpu'],
  });
  for (const name of ['input_ids', 'attention_mask']) {
    if (!session.inputNames.includes(name)) {
      throw new RetrievalConfigError(
        'embedding_model',
        `${options.modelPath} has no input '${name}' (inputs: ${session.inputNames.join(', ')})`,
      );
    }
  }
  const output = session.outputNames[0]!;
  const maxTokens = options.maxTokens ?? 512;
  const padId = options.padId ?? 0;
  const id = `onnx:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;

  const run = async (texts: readonly string[]) => {
    const tokenized = texts.map((t) => {
      const ids = options.tokenize(t).slice(0, maxTokens);
      return ids.length > 0 ? { ids, real: ids.length } : { ids: [padId], real: 0 };
    });
    const width = Math.max(...tokenized.map((t) => t.ids.length));
    const inputIds = new BigInt64Array(texts.length * width);
    const mask = new BigInt64Array(texts.length * width);
    tokenized.forEach((t, b) => {
      t.ids.forEach((tokenId, s) => {
        inputIds[b * width + s] = BigInt(tokenId);
        if (s < t.real) mask[b * width + s] = 1n;
      });
    });
    const result = await session.run({
      input_ids: new ort.Tensor('int64', inputIds, [texts.length, width]),
      attention_mask: new ort.Tensor('int64', mask, [texts.length, width]),
    });
    const tensor = result[output]!;
    const data = tensor.data as Float32Array;
    const dims = tensor.dims;
    const dim = dims[dims.length - 1]!;
    return texts.map((_, b) => {
      const v = new Float32Array(dim);
      if (dims.length === 2) {
        v.set(data.subarray(b * dim, (b + 1) * dim));
      } else {
        // Mean over the real tokens of [batch, tokens, dim].
        const real = tokenized[b]!.real;
        for (let s = 0; s < real; s++)
          for (let j = 0; j < dim; j++) v[j]! += data[(b * width + s) * dim + j]! / real;
      }
      let norm = 0;
      for (const x of v) norm += x * x;
      norm = Math.sqrt(norm);
      if (norm > 0) for (let j = 0; j < dim; j++) v[j]! /= norm;
      return v;
    });
  };

  // Probe once to learn the dimension (and fail now, not mid-episode, if the model is unusable).
  const [probe] = await run(['dimension probe']);
  return {
    id,
    dimension: probe!.length,
    async embed(texts, signal) {
      signal?.throwIfAborted();
      return texts.length === 0 ? [] : run(texts);
    },
  };
}

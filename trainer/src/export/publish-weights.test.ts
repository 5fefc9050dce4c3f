import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createOnnxPolicy,
  type DecoderConfig,
  decoderWeightShapes,
  initDecoderWeights,
} from '@toolgym/agents';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fromHuggingFaceGpt2,
  huggingFaceGpt2Config,
  publishWeights,
  toHuggingFaceGpt2,
  UnsupportedExportError,
} from './publish-weights.ts';
import { readSafetensors } from './safetensors.ts';

const decoder: DecoderConfig = {
  vocabSize: 263,
  dModel: 16,
  nLayers: 2,
  nHeads: 2,
  dFF: 24,
  maxPositions: 32,
  layerNormEps: 1e-5,
};
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('publishing weights', () => {
  it('writes safetensors (HF GPT-2 names) and an ONNX model directory with the policy version', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-publish-'));
    dirs.push(dir);
    const weights = initDecoderWeights(decoder, { seed: 2, std: 0.2 });
    const published = await publishWeights({ dir, decoder, weights, policyVersion: 7, step: 12 });
    expect(published.dir).toBe(path.join(dir, 'v7'));
    expect((await readFile(path.join(dir, 'latest'), 'utf8')).trim()).toBe('7');

    const st = await readSafetensors(path.join(dir, 'v7', 'hf', 'model.safetensors'));
    expect(st.metadata).toMatchObject({ policy_version: '7', step: '12' });
    expect(st.tensors['transformer.h.1.attn.c_attn.weight']!.shape).toEqual([16, 48]);
    expect(st.tensors['lm_head.weight']!.shape).toEqual([263, 16]);
    // q|k|v column blocks: row 3 of c_attn is q row 3, then k row 3, then v row 3.
    const row = st.tensors['transformer.h.0.attn.c_attn.weight']!.data.subarray(3 * 48, 4 * 48);
    expect(Array.from(row.subarray(16, 32))).toEqual(
      Array.from(weights['layers.0.attn.k.weight']!.subarray(3 * 16, 4 * 16)),
    );
    // lm_head transposed: HF [vocab, d][t][j] = ToolGym [d, vocab][j][t].
    expect(st.tensors['lm_head.weight']!.data[5 * 16 + 2]).toBe(weights['lm_head.weight']![2 * 263 + 5]);
    const back = fromHuggingFaceGpt2(decoder, st.tensors);
    for (const name of Object.keys(decoderWeightShapes(decoder)))
      expect(Array.from(back[name]!), name).toEqual(Array.from(weights[name]!));
    const config = JSON.parse(await readFile(path.join(dir, 'v7', 'hf', 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'gpt2',
      n_embd: 16,
      n_layer: 2,
      n_inner: 24,
      activation_function: 'gelu_new',
      tie_word_embeddings: false,
    });

    const policy = await createOnnxPolicy({ model: path.join(dir, 'v7', 'onnx'), executionProvider: 'cpu' });
    expect(policy.version).toBe(7);
    await policy.close();
  });
});

describe('publishing a RoPE decoder', () => {
  const rope: DecoderConfig = { ...decoder, positions: 'rope' };
  const weights = initDecoderWeights(rope, { seed: 3, std: 0.2 });

  it('refuses the HF GPT-2 export by name, before writing anything', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-publish-rope-'));
    dirs.push(dir);
    const gpt2 = /cannot export a decoder with RoPE positions \(positions: 'rope'\) as Hugging Face GPT-2/;
    await expect(publishWeights({ dir, decoder: rope, weights, policyVersion: 1 })).rejects.toThrow(gpt2);
    await expect(publishWeights({ dir, decoder: rope, weights, policyVersion: 1 })).rejects.toBeInstanceOf(
      UnsupportedExportError,
    );
    expect(await readdir(dir)).toEqual([]);
    expect(() => toHuggingFaceGpt2(rope, weights)).toThrow(gpt2);
    expect(() => fromHuggingFaceGpt2(rope, {})).toThrow(gpt2);
    expect(() => huggingFaceGpt2Config(rope)).toThrow(gpt2);
  });

  it('publishes the ONNX model directory alone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-publish-rope-'));
    dirs.push(dir);
    await publishWeights({ dir, decoder: rope, weights, policyVersion: 2, formats: ['onnx'] });
    const meta = JSON.parse(await readFile(path.join(dir, 'v2', 'onnx', 'toolgym.json'), 'utf8'));
    expect(meta.decoder).toEqual(rope);
    const policy = await createOnnxPolicy({ model: path.join(dir, 'v2', 'onnx'), executionProvider: 'cpu' });
    expect(policy.version).toBe(2);
    await policy.close();
  });
});

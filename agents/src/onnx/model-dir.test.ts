import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelDir } from './model-dir.ts';
import { createTinyTestModel } from './tiny-test-model.ts';

let dir: string;
beforeAll(async () => {
  ({ dir } = await createTinyTestModel());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readModelDir: the Hugging Face layout', () => {
  it("reads ToolGym's own directory", () => {
    const model = readModelDir(dir);
    expect(model.shape).toEqual({
      numLayers: 2,
      numKvHeads: 4,
      headDim: 8,
      vocabSize: 263,
      maxPositions: 96,
    });
    expect(model.eosTokenIds).toEqual([258, 256]);
    expect(model.padTokenId).toBe(256);
    expect(model.toolgym?.policyVersion).toBe(0);
    expect(model.chatTemplate).toContain('<|im_start|>');
  });

  it('reads a Qwen2-style config.json (GQA, eos from generation_config) and the onnx/model.onnx layout', async () => {
    const qwen = `${dir}-qwen`;
    await cp(dir, qwen, { recursive: true });
    await rm(path.join(qwen, 'toolgym.json'));
    await mkdir(path.join(qwen, 'onnx'));
    await rename(path.join(qwen, 'model.onnx'), path.join(qwen, 'onnx', 'model.onnx'));
    await writeFile(
      path.join(qwen, 'config.json'),
      JSON.stringify({
        architectures: ['Qwen2ForCausalLM'],
        model_type: 'qwen2',
        hidden_size: 896,
        num_hidden_layers: 24,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        max_position_embeddings: 32768,
        vocab_size: 151936,
        eos_token_id: 151645,
      }),
    );
    await writeFile(
      path.join(qwen, 'generation_config.json'),
      JSON.stringify({ eos_token_id: [151645, 151643], pad_token_id: 151643 }),
    );
    const model = readModelDir(qwen);
    expect(model.shape).toEqual({
      numLayers: 24,
      numKvHeads: 2,
      headDim: 64,
      vocabSize: 151936,
      maxPositions: 32768,
    });
    expect(model.modelPath).toBe(path.join(qwen, 'onnx', 'model.onnx'));
    expect(model.eosTokenIds).toEqual([151645, 151643, 258]);
    expect(model.padTokenId).toBe(151643);
    expect(model.toolgym).toBeUndefined();
    await rm(qwen, { recursive: true, force: true });
  });
});

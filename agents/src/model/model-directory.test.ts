import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxPolicy } from '../onnx/onnx-policy.ts';
import { createTinyTestModel, TINY_TEST_CONFIG } from '../onnx/tiny-test-model.ts';
import { initDecoderWeights } from './init-weights.ts';
import { readDecoderModelDir, readModelDir } from './model-directory.ts';
import { writeDecoderModelDir } from './write-model-directory.ts';

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
      numHeads: 4,
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
      numHeads: 14,
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

describe('a RoPE model directory', () => {
  it('round-trips: readDecoderModelDir gives back the same config and weights; config.json names the encoding', async () => {
    const created = await createTinyTestModel(5, { positions: 'rope', ropeTheta: 20000 });
    try {
      const back = await readDecoderModelDir(created.dir);
      expect(back.config).toEqual(created.config);
      expect(back.config).toMatchObject({ positions: 'rope', ropeTheta: 20000 });
      expect(Object.keys(back.weights).sort()).toEqual(Object.keys(created.weights).sort());
      expect(back.weights['embed.positions']).toBeUndefined();
      for (const [name, w] of Object.entries(created.weights)) expect(back.weights[name]).toEqual(w);
      const hf = JSON.parse(await readFile(path.join(created.dir, 'config.json'), 'utf8'));
      expect(hf).toMatchObject({
        model_type: 'toolgym-decoder',
        position_embedding_type: 'rope',
        rope_theta: 20000,
        max_position_embeddings: 96,
      });
      expect(readModelDir(created.dir).shape.headDim).toBe(8);
    } finally {
      await rm(created.dir, { recursive: true, force: true });
    }
  });

  it('learned-position directories keep their config: no positions key added, no rope keys in config.json', async () => {
    const back = await readDecoderModelDir(dir);
    expect(back.config).not.toHaveProperty('positions');
    expect(back.weights['embed.positions']).toHaveLength(96 * 32);
    const hf = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    expect(hf).not.toHaveProperty('rope_theta');
    expect(hf).not.toHaveProperty('position_embedding_type');
  });
});

describe('a model directory with extra tokens (tool names)', () => {
  const extraTokens = ['reverse', 'answer'];

  it('the onnx policy tokenizer reads them, toolgym.json records them, the vocabulary covers them', async () => {
    const target = await mkdtemp(path.join(tmpdir(), 'toolgym-extra-'));
    try {
      const config = { ...TINY_TEST_CONFIG, vocabSize: 265 };
      await writeDecoderModelDir(target, {
        config,
        weights: initDecoderWeights(config, { seed: 1 }),
        extraTokens,
      });
      const model = readModelDir(target);
      expect(model.toolgym?.extraTokens).toEqual(extraTokens);
      const policy = await createOnnxPolicy({ model: target, executionProvider: 'cpu' });
      try {
        expect(policy.tokenizer.encode('reverse:abc')).toEqual([263, 58, 97, 98, 99]);
        expect(policy.tokenizer.vocabSize).toBe(265);
      } finally {
        await policy.close();
      }
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it('refuses a vocabulary smaller than the tokenizer, saying which size is needed', async () => {
    const target = await mkdtemp(path.join(tmpdir(), 'toolgym-extra-'));
    try {
      await expect(
        writeDecoderModelDir(target, {
          config: TINY_TEST_CONFIG,
          weights: initDecoderWeights(TINY_TEST_CONFIG, { seed: 1 }),
          extraTokens,
        }),
      ).rejects.toMatchObject({
        code: 'invalid_decoder_config',
        message: expect.stringMatching(/below the tokenizer's 265 tokens/),
        hint: 'set vocabSize to at least 265',
      });
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it('names the path it cannot write as a ModelDirError', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'toolgym-unwritable-'));
    try {
      await writeFile(path.join(parent, 'a-file'), 'not a directory');
      const under = path.join(parent, 'a-file', 'model');
      await expect(
        writeDecoderModelDir(under, {
          config: TINY_TEST_CONFIG,
          weights: initDecoderWeights(TINY_TEST_CONFIG, { seed: 1 }),
        }),
      ).rejects.toMatchObject({ code: 'unwritable_model_dir', file: under });
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('names model.onnx when its bytes are not an ONNX graph', async () => {
    const copy = await mkdtemp(path.join(tmpdir(), 'toolgym-garbled-'));
    try {
      await cp(dir, copy, { recursive: true });
      await writeFile(path.join(copy, 'model.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
      await expect(readDecoderModelDir(copy)).rejects.toMatchObject({
        code: 'malformed_model_file',
        file: path.join(copy, 'model.onnx'),
      });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('a recorded chat layout', () => {
  it('writes the chat template and the tool-call format, and refuses a format it does not know', async () => {
    const target = await mkdtemp(path.join(tmpdir(), 'toolgym-chat-'));
    try {
      const template = "{%- for message in messages %}{{- message.content + '\\n' }}{%- endfor %}";
      await writeDecoderModelDir(target, {
        config: TINY_TEST_CONFIG,
        weights: initDecoderWeights(TINY_TEST_CONFIG, { seed: 1 }),
        chat: { template, toolCalls: 'compact' },
      });
      const model = readModelDir(target);
      expect(model.chatTemplate).toBe(template);
      expect(model.toolgym?.toolCalls).toBe('compact');
      const meta = path.join(target, 'toolgym.json');
      await writeFile(
        meta,
        JSON.stringify({ ...JSON.parse(await readFile(meta, 'utf8')), toolCalls: 'xml' }),
      );
      expect(() => readModelDir(target)).toThrow(/'toolCalls' is 'compact' or absent \(Hermes\), got "xml"/);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });
});

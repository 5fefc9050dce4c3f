import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  decoderWeightShapes,
  initDecoderWeights,
  readModelDir,
} from '@toolgym/agents';
import { modelChat, parseTrainConfig, writeCheckpoint } from '@toolgym/trainer';
import { describe, expect, it } from 'vitest';
import { TOOLGYM_BIN, temporaryDirectories, tinyDecoder, withToolgymServer } from './test-support.ts';

const tempDir = temporaryDirectories('toolgym-cli-publish-');
const tools = ['reverse', 'upper', 'answer'];
const decoder = tinyDecoder(tools.length, 64);

/** A run directory holding one checkpoint with the given state, as `toolgym train` writes it. */
async function runDir(state: Record<string, unknown>): Promise<string> {
  const dir = await tempDir();
  const weights = initDecoderWeights(decoder, { seed: 1 });
  const shapes = decoderWeightShapes(decoder);
  const tensors = Object.fromEntries(
    Object.entries(weights).map(([name, data]) => [`weights.${name}`, { shape: shapes[name]!, data }]),
  );
  await writeCheckpoint(path.join(dir, 'checkpoints'), 3, {
    state: { decoder, learnerStep: 4, policyVersion: 5, ...state },
    tensors,
  });
  return dir;
}

const publish = (dir: string) =>
  spawnSync(process.execPath, [TOOLGYM_BIN, 'learner', 'publish', dir, '--format', 'onnx'], {
    encoding: 'utf8',
  });

describe('toolgym learner publish', () => {
  it("publishes a tool-token run's ONNX directory with its tool names as single tokens and its chat layout", async () => {
    const config = parseTrainConfig({
      environment: { id: 'compose' },
      template: { kind: 'compact', toolTokens: true },
      rl: { tasks: { split: 'train' } },
      eval: { tasks: { split: 'test' } },
    });
    const dir = await runDir({ extraTokens: tools, config });
    const run = publish(dir);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('published policy version 5 (onnx)');
    const model = readModelDir(path.join(dir, 'published', 'v5', 'onnx'));
    expect(model.toolgym?.extraTokens).toEqual(tools);
    expect(model.tokenizer.encode('upper')).toEqual([BYTE_TOKENIZER_VOCAB_SIZE + 1]);
    // …and the chat layout it was trained with, so `toolgym eval` plays it the same way.
    expect(model.toolgym?.toolCalls).toBe('compact');
    expect(model.chatTemplate).toBe(modelChat(config.template)!.template);
  });

  it('refuses a checkpoint whose vocabulary its recorded tokens do not explain, writing nothing', async () => {
    const dir = await runDir({});
    const run = publish(dir);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`decoder has ${decoder.vocabSize} tokens but names 0 beyond`);
    expect(run.stderr).toContain('publish a checkpoint written by this version');
    expect(await readdir(dir)).toEqual(['checkpoints']);
  });
});

describe('toolgym learner serve', () => {
  it("takes its API key from TINKER_API_KEY, the variable Tinker clients read, and refuses requests without it", async () => {
    const code = await withToolgymServer(
      ['learner', 'serve', '--port', '0'],
      /learner API at (http:\/\/\S+)/,
      async (url) => {
        const capabilities = `${url}/get_server_capabilities`;
        expect((await fetch(capabilities)).status).toBe(401);
        expect((await fetch(capabilities, { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
        const ok = await fetch(capabilities, { headers: { 'x-api-key': 'tinker-secret' } });
        expect(ok.status).toBe(200);
        expect(((await ok.json()) as { supported_models: unknown[] }).supported_models.length).toBeGreaterThan(0);
      },
      { ...process.env, TINKER_API_KEY: 'tinker-secret' },
    );
    expect(code).toBe(0);
  }, 60_000);
});

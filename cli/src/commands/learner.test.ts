import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  type DecoderConfig,
  decoderWeightShapes,
  initDecoderWeights,
  readModelDir,
} from '@toolgym/agents';
import { writeCheckpoint } from '@toolgym/trainer';
import { afterAll, describe, expect, it } from 'vitest';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/toolgym.js');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const tools = ['reverse', 'upper', 'answer'];
const decoder: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE + tools.length,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  dFF: 32,
  maxPositions: 64,
  layerNormEps: 1e-5,
  positions: 'rope',
};

/** A run directory holding one checkpoint with the given state, as `toolgym train` writes it. */
async function runDir(state: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-cli-publish-'));
  dirs.push(dir);
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
  spawnSync(process.execPath, [bin, 'learner', 'publish', dir, '--format', 'onnx'], { encoding: 'utf8' });

describe('toolgym learner publish', () => {
  it("publishes a tool-token run's ONNX directory with its tool names as single tokens", async () => {
    const dir = await runDir({ extraTokens: tools });
    const run = publish(dir);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('published policy version 5 (onnx)');
    const model = readModelDir(path.join(dir, 'published', 'v5', 'onnx'));
    expect(model.toolgym?.extraTokens).toEqual(tools);
    expect(model.tokenizer.encode('upper')).toEqual([BYTE_TOKENIZER_VOCAB_SIZE + 1]);
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

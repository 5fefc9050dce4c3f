import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createOnnxPolicy, initDecoderWeights, readModelDir, writeDecoderModelDir } from '@toolgym/agents';
import compose, { COMPOSE_INSTRUCTION } from '@toolgym/env-compose';
import { Environment } from '@toolgym/env-kit';
import { modelChat, parseTrainConfig } from '@toolgym/trainer';
import { describe, expect, it } from 'vitest';
import { trainedToolFormat } from './eval.ts';
import { TOOLGYM_BIN, temporaryDirectories, tinyDecoder } from './test-support.ts';

const tempDir = temporaryDirectories('toolgym-cli-eval-');
const tools = new Environment(compose, compose.parseConfig({})).toolSpecs;
const decoder = tinyDecoder(tools.length, 256);
/** The compact layout of the main job's config, as `toolgym train` records it. */
const chat = modelChat(
  parseTrainConfig({
    environment: { id: 'compose' },
    template: { kind: 'compact', dropFromPrompt: [COMPOSE_INSTRUCTION], toolTokens: true },
    rl: { tasks: { split: 'train' } },
    eval: { tasks: { split: 'test' } },
  }).template,
)!;

async function modelDir(withChat: boolean): Promise<string> {
  const dir = await tempDir();
  await writeDecoderModelDir(dir, {
    config: decoder,
    weights: initDecoderWeights(decoder, { seed: 4 }),
    extraTokens: tools.map((t) => t.name),
    ...(withChat ? { chat } : {}),
  });
  return dir;
}

/** `toolgym eval` of one compose task; the text of the first prompt the policy saw. */
function firstPrompt(dir: string): Promise<string> {
  const out = path.join(dir, 'episodes.jsonl');
  const run = spawnSync(
    process.execPath,
    [
      TOOLGYM_BIN,
      'eval',
      '--env',
      'compose',
      '--policy',
      `onnx:${dir}`,
      '--limit',
      '1',
      '-n',
      '1',
      '--max-turns',
      '1',
      '--max-tokens',
      '4',
      '--out',
      out,
      '--json',
      '--quiet',
    ],
    { encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
  return readFile(out, 'utf8').then((text) => {
    const episode = JSON.parse(text.split('\n')[0]!) as { tokens: number[]; promptLength: number };
    return readModelDir(dir).tokenizer.decode(episode.tokens.slice(0, episode.promptLength));
  });
}

describe('toolgym eval of a model trained with the compact layout', () => {
  it('reads the tool-call format from the model directory, and only there', async () => {
    const compact = await createOnnxPolicy({ model: await modelDir(true), executionProvider: 'cpu' });
    const plain = await createOnnxPolicy({ model: await modelDir(false), executionProvider: 'cpu' });
    try {
      const format = await trainedToolFormat(compact, async () => tools);
      const parsed = format!.parse('<tool_call>reverse:abc</tool_call>', 'c');
      expect(parsed.errors).toEqual([]);
      expect(parsed.calls).toEqual([{ id: 'c-0', name: 'reverse', arguments: { text: 'abc' } }]);
      expect(await trainedToolFormat(plain, async () => tools)).toBeUndefined();
    } finally {
      await compact.close();
      await plain.close();
    }
  });

  it('prompts with the chat template it was trained with, not the default tool listing', async () => {
    const compact = await firstPrompt(await modelDir(true));
    expect(compact.startsWith('<|im_start|>u\n')).toBe(true);
    expect(compact).not.toContain(COMPOSE_INSTRUCTION.trim());
    expect(compact).not.toContain('Tools (call:');
    const plain = await firstPrompt(await modelDir(false));
    expect(plain.startsWith('<|im_start|>system\nTools (call:')).toBe(true);
    expect(plain).toContain(COMPOSE_INSTRUCTION.trim());
  });
});

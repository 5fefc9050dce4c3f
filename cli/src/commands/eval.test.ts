import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createOnnxPolicy, initDecoderWeights, readModelDir, writeDecoderModelDir } from '@toolgym/agents';
import compose, { COMPOSE_INSTRUCTION } from '@toolgym/env-compose';
import { Environment } from '@toolgym/env-kit';
import { type Task, taskMatchesMeta } from '@toolgym/protocol';
import { modelChat, parseTrainConfig } from '@toolgym/trainer';
import { describe, expect, it } from 'vitest';
import { parseMetaFilter, parseSplits, trainedToolFormat } from './eval.ts';
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

/** `toolgym eval` of compose with a model directory, one episode per task, a short turn; its process and episodes. */
async function runEval(dir: string, args: string[]) {
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
      ...args,
    ],
    { encoding: 'utf8' },
  );
  const episodes =
    run.status === 0
      ? (await readFile(out, 'utf8'))
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { taskId: string; tokens: number[]; promptLength: number })
      : [];
  return { run, episodes };
}

/** `toolgym eval` of one compose task; the text of the first prompt the policy saw. */
async function firstPrompt(dir: string): Promise<string> {
  const { run, episodes } = await runEval(dir, ['--limit', '1']);
  expect(run.status, run.stderr).toBe(0);
  const episode = episodes[0]!;
  return readModelDir(dir).tokenizer.decode(episode.tokens.slice(0, episode.promptLength));
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

describe('toolgym eval --meta', () => {
  it('reads key=value flags as a meta filter: values as JSON when they parse, a repeated key for any of them', () => {
    expect(parseMetaFilter(['depth=2', 'notation=compose'])).toEqual({ depth: 2, notation: 'compose' });
    expect(parseMetaFilter(['depth=1', 'depth=2'])).toEqual({ depth: [1, 2] });
    expect(() => parseMetaFilter(['depth'])).toThrow(/--meta depth is not key=value/);
    const task: Task = { id: 't', split: 'test', prompt: '', meta: { depth: 2 } };
    expect(taskMatchesMeta(task, { depth: 2 })).toBe(true);
    expect(taskMatchesMeta(task, { depth: '2' })).toBe(false);
    expect(taskMatchesMeta(task, { depth: [1, 2] })).toBe(true);
    expect(taskMatchesMeta(task, { depth: 2, chain: 'x' })).toBe(false);
  });

  it('plays only the tasks that match, and names a filter that none does', async () => {
    const dir = await modelDir(true);
    const { run, episodes } = await runEval(dir, ['--split', 'test', '--meta', 'depth=2', '--limit', '3']);
    expect(run.status, run.stderr).toBe(0);
    expect(episodes.map((e) => e.taskId.split('-')[0])).toEqual(['d2', 'd2', 'd2']);
    const none = await runEval(dir, ['--meta', 'depth=9']);
    expect(none.run.status).not.toBe(0);
    expect(none.run.stderr).toMatch(/no test task of 'compose' has meta \{"depth":9\}/);
  });
});

describe('toolgym eval per split', () => {
  it('reads --split as one split, a comma list or all, and names a split that does not exist', () => {
    expect(parseSplits('test')).toEqual(['test']);
    expect(parseSplits('test,test-iid,test')).toEqual(['test', 'test-iid']);
    expect(parseSplits('all')).toEqual(['train', 'test', 'test-iid']);
    expect(() => parseSplits('test,dev')).toThrow(/--split dev is not a split/);
  });

  it('reports pass@1 per split and per held-out unit', () => {
    const options = JSON.stringify({ functions: ['reverse', 'upper', 'double'], depths: [1, 2], tasksPerDepth: 30, alphabet: 'abc', heldOutPairFraction: 0.34 });
    const run = spawnSync(
      process.execPath,
      [TOOLGYM_BIN, 'eval', '--env', 'compose', '--options', options, '--policy', 'oracle', '-n', '1', '--split', 'test,test-iid', '--json', '--quiet'],
      { encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      tasks: number;
      splits: Record<string, { tasks: number; passAt1: number }>;
      units: { unit: string; bySplit: Record<string, Record<string, { tasks: number; passAt1: number }>> };
    };
    const { test, 'test-iid': iid } = summary.splits;
    expect(test!.tasks + iid!.tasks).toBe(summary.tasks);
    expect([test!.passAt1, iid!.passAt1]).toEqual([1, 1]);
    expect(summary.units.unit).toBe('function-pair');
    const pairs = Object.keys(summary.units.bySplit.test!);
    expect(pairs.length).toBe(2);
    expect(pairs.every((p) => /^(reverse|upper|double)>(reverse|upper|double)$/.test(p))).toBe(true);
    expect(Object.values(summary.units.bySplit.test!).reduce((n, s) => n + s.tasks, 0)).toBe(test!.tasks);
  });
});

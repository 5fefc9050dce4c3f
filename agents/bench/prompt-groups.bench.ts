/**
 * `pnpm bench prompt-groups [--rows 32] [--sizes 4,6,8,16] [--prompt 162] [--tokens 64] [--rounds 5]`:
 * where `sharedPrompts` should run a prompt group (prompt-group-batch.ts), at the level of the batch
 * classes (JS preparation, `session.run` and cache handling of a decode step; no sampling). `--rows`
 * rows in groups of each size in `--sizes` (one prompt per group) decode `--tokens` steps after
 * `--prompt`-token prompts, three ways:
 *   sub-batches: each group a sub-batch of its own, its prompt in that sub-batch's shared slots;
 *   sections: every row in one sub-batch, each row's prompt in a section of its own;
 *   default: the default engine's batch (`InPlaceBatch`, every prompt in its rows' own slots).
 * Then distinct prompts (every row in sections) against the default. CPU ms per decode step, median
 * and range of `--rounds` interleaved rounds (after one untimed round), built-in model, one thread.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildDecoderOnnx, type SharedSlotProducts } from '../src/model/decoder-graph.ts';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import { DEFAULT_DECODER_CONFIG } from '../src/model/write-model-directory.ts';
import type { DecodeBatch } from '../src/onnx/decode-batch.ts';
import { cpuMs } from '../src/onnx/decode-profile.ts';
import { DecoderSession } from '../src/onnx/decoder-session.ts';
import { InPlaceBatch, type PromptSlots } from '../src/onnx/in-place-batch.ts';
import { PromptGroupBatch } from '../src/onnx/prompt-group-batch.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '32' },
    sizes: { type: 'string', default: '4,6,8,16' },
    prompt: { type: 'string', default: '162' },
    tokens: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '5' },
  },
});
const rows = Number(values.rows);
const sizes = values.sizes.split(',').map(Number);
const promptLength = Number(values.prompt);
const newTokens = Number(values.tokens);
const rounds = Number(values.rounds);

const config = DEFAULT_DECODER_CONFIG;
const weights = initDecoderWeights(config, { seed: 0 });
const shape = {
  numLayers: config.nLayers,
  numHeads: config.nHeads,
  numKvHeads: config.nHeads,
  headDim: config.dModel / config.nHeads,
  vocabSize: config.vocabSize,
  maxPositions: config.maxPositions,
};
const sessions = new Map<string, Promise<DecoderSession>>();
/** The graph without shared slots, or with them multiplied so; opened once each. */
const open = (products?: SharedSlotProducts) => {
  const key = products ?? 'none';
  let session = sessions.get(key);
  if (!session) {
    session = ort.InferenceSession.create(
      buildDecoderOnnx(config, weights, 'in-place', { sharedSlots: products }),
      { intraOpNumThreads: 1, interOpNumThreads: 1 },
    ).then((s) => new DecoderSession(s, shape, { provider: 'cpu', reason: 'bench' }));
    sessions.set(key, session);
  }
  return session;
};
const decoder = await open();
const PAD = 256;
/** `sharedPrompts`' batch, a prompt of `groupRows` rows or more in a sub-batch of its own. */
const grouped = (groupRows: number) =>
  new PromptGroupBatch((slots: PromptSlots) => new InPlaceBatch(decoder, open, PAD, true, slots), groupRows);
const byDefault = () => new InPlaceBatch(decoder, open, PAD, true);

const promptOf = (i: number) => Array.from({ length: promptLength }, (_, j) => (i * 37 + j * 11) % 250);

/** CPU ms per decode step of `prompts` in a fresh `batch`. */
async function stepMs(batch: DecodeBatch, prompts: number[][]): Promise<number> {
  await batch.add(prompts);
  const start = cpuMs();
  for (let t = 0; t < newTokens; t++) await batch.step(prompts.map((_, b) => (b * 13 + t * 7) % 256));
  return (cpuMs() - start) / newTokens;
}

const samples = new Map<string, number[]>();
const configurations: Array<[label: string, run: () => Promise<number>]> = [];
for (const size of sizes) {
  const prompts = Array.from({ length: rows }, (_, i) => promptOf(Math.floor(i / size)));
  configurations.push(
    [`groups of ${size}: sub-batches`, () => stepMs(grouped(1), prompts)],
    [`groups of ${size}: sections`, () => stepMs(grouped(Number.POSITIVE_INFINITY), prompts)],
    [`groups of ${size}: default`, () => stepMs(byDefault(), prompts)],
  );
}
const distinct = Array.from({ length: rows }, (_, i) => promptOf(1000 + i));
configurations.push(
  ['distinct prompts: sections', () => stepMs(grouped(Number.POSITIVE_INFINITY), distinct)],
  ['distinct prompts: default', () => stepMs(byDefault(), distinct)],
);
for (let round = 0; round <= rounds; round++) {
  for (const [label, run] of configurations) {
    const ms = await run();
    if (round === 0) continue;
    samples.set(label, [...(samples.get(label) ?? []), ms]);
  }
}
process.stdout.write(
  `${rows} rows, prompts of ${promptLength} tokens, ${newTokens} steps, built-in model, 1 thread, load average ${loadavg()[0]!.toFixed(1)}\n` +
    `CPU ms per decode step, median (range) of ${rounds} interleaved rounds\n\n`,
);
const width = Math.max(...configurations.map(([label]) => label.length));
for (const [label] of configurations) {
  const sorted = [...samples.get(label)!].sort((a, b) => a - b);
  const n = sorted.length;
  const median = (sorted[Math.floor((n - 1) / 2)]! + sorted[Math.ceil((n - 1) / 2)]!) / 2;
  process.stdout.write(
    `${label.padEnd(width)}  ${median.toFixed(2)} (${sorted[0]!.toFixed(2)}–${sorted[n - 1]!.toFixed(2)})\n`,
  );
}
for (const session of sessions.values()) await (await session).release();

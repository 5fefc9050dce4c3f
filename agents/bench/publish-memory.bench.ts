/**
 * `pnpm bench publish-memory [--publishes 10] [--rows 32] [--prompt 1500] [--tokens 256] [--loose]`:
 * whether the onnx policy's memory grows from weight publish to weight publish, on the sql
 * Agent-RLVR config's decoder (dModel 64, 2 layers, 4 heads, 2,048 positions). Each publish loads new
 * weights (`loadWeights`, which opens a new onnxruntime session and releases the old), then generates
 * `tokens` tokens for `rows` prompts of about `prompt` tokens (groups of four of one length, as GRPO's
 * turns), and prints the resident set and its peak (VmRSS, VmHWM), the JS heap and array buffers.
 * `--loose` runs with `batchInvariant: false`. No baseline: the figure is the trend over publishes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import { writeDecoderModelDir } from '../src/model/write-model-directory.ts';
import { OnnxPolicy } from '../src/onnx/onnx-policy.ts';
import { SQL_DECODER, statusMb } from './sql-decoder.ts';

const { values } = parseArgs({
  options: {
    publishes: { type: 'string', default: '10' },
    rows: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '1500' },
    tokens: { type: 'string', default: '256' },
    loose: { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const promptLength = Number(values.prompt);
const maxTokens = Number(values.tokens);

const MB = 2 ** 20;
1024;

const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-publish-memory-'));
await writeDecoderModelDir(dir, {
  config: SQL_DECODER,
  weights: initDecoderWeights(SQL_DECODER, { seed: 1, std: 0.02 }),
  initSeed: 1,
});
const policy = await OnnxPolicy.create({
  model: dir,
  executionProvider: 'cpu',
  maxBatchSize: 256,
  batchInvariant: !values.loose,
});
console.log(
  `${rows} prompts of ${promptLength}+ tokens, ${maxTokens} generated each, ${values.loose ? 'batchInvariant: false' : 'batch-invariant'}; start ${statusMb('VmRSS').toFixed(0)} MB resident`,
);
console.log('publish  resident MB  peak MB  JS heap MB  array buffers MB  CPU s');
const start = process.cpuUsage();
for (let p = 1; p <= Number(values.publishes); p++) {
  await policy.loadWeights(initDecoderWeights(SQL_DECODER, { seed: 100 + p, std: 0.02 }));
  await Promise.all(
    Array.from({ length: rows }, (_, r) => {
      const length = promptLength + (Math.floor(r / 4) % 8) * 37 + (p % 5) * 11;
      return policy.enqueue({
        tokens: Array.from({ length }, (_, t) => (t * 7 + r) % 250),
        sampling: { temperature: 1, maxTokens, seed: p * 1000 + r },
        ignoreEos: true,
      });
    }),
  );
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  const cpu = process.cpuUsage(start);
  console.log(
    `${String(p).padStart(7)}  ${statusMb('VmRSS').toFixed(0).padStart(11)}  ${statusMb('VmHWM').toFixed(0).padStart(7)}  ${(heapUsed / MB).toFixed(0).padStart(10)}  ${(arrayBuffers / MB).toFixed(0).padStart(16)}  ${((cpu.user + cpu.system) / 1e6).toFixed(1).padStart(5)}`,
  );
}
await policy.close();
await rm(dir, { recursive: true, force: true });

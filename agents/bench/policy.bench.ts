/**
 * `pnpm bench policy [--execution-provider auto|cuda|cpu] [--tokens N] [--batches 1,8,32,64] [--repeats R] [--threads T] [--profile]`:
 * generated tokens/s of the built-in small model (DEFAULT_DECODER_CONFIG) at each batch size with the
 * KV cache, and with full recompute (the baseline) at batch 1 and 32, measured in the same run; the
 * cache's speed-up is the ratio. Each figure is the best of R runs (the machine may be shared).
 * `--profile` splits a decode step into JS preparation, `session.run`, KV-cache handling and
 * sampling (DecodeProfile), per batch size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDefaultModel, DEFAULT_DECODER_CONFIG } from '../src/model/model-directory.ts';
import { renderChatTemplate } from '../src/onnx/chat-prompt.ts';
import { DecodeProfile, type DecodePhase, type PhaseTotals } from '../src/onnx/decode-profile.ts';
import type { ExecutionProviderPreference } from '../src/onnx/execution-provider.ts';
import { OnnxPolicy } from '../src/onnx/onnx-policy.ts';

const { values } = parseArgs({
  options: {
    'execution-provider': { type: 'string', default: 'auto' },
    tokens: { type: 'string', default: '64' },
    batches: { type: 'string', default: '1,8,32,64' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
  },
});
const executionProvider = values['execution-provider'] as ExecutionProviderPreference;
const newTokens = Number(values.tokens);
const batches = values.batches.split(',').map(Number);
const repeats = Number(values.repeats);
const threads = Number(values.threads);
/** Full recompute is slow; it is the baseline at these batch sizes only. */
const recomputeBatches = new Set([1, 32]);

const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-bench-policy-'));
try {
  await createDefaultModel(dir, { seed: 0 });
  const policies = {
    cache: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: true, threads }),
    recompute: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: false, threads }),
  };
  const prompt = policies.cache.tokenizer.encode(
    renderChatTemplate(policies.cache.chatTemplate!, {
      messages: [{ role: 'user', content: 'Find the population of the largest city in France.' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'search',
            description: 'Web search.',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
      ],
      addGenerationPrompt: true,
    }),
  );

  /** Generated tokens/s of one batch; with `profile`, the phases of that run are added to it. */
  async function tokensPerSecond(
    policy: OnnxPolicy,
    batch: number,
    profile?: DecodeProfile,
  ): Promise<number> {
    policy.profile = profile;
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        policy.enqueue({
          tokens: prompt,
          sampling: { maxTokens: newTokens, temperature: 1, seed: i },
          ignoreEos: true,
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    policy.profile = undefined;
    return results.reduce((n, r) => n + r.tokens!.length, 0) / seconds;
  }

  /** Best of `repeats` runs, and the profile of that best run. */
  async function best(policy: OnnxPolicy, batch: number): Promise<{ speed: number; profile: DecodeProfile }> {
    let top = { speed: 0, profile: new DecodeProfile() };
    for (let r = 0; r < repeats; r++) {
      const profile = new DecodeProfile();
      const speed = await tokensPerSecond(policy, batch, profile);
      if (speed > top.speed) top = { speed, profile };
    }
    return top;
  }

  // Warm-up: first runs pay for onnxruntime's kernel setup.
  await tokensPerSecond(policies.cache, 2);
  await tokensPerSecond(policies.recompute, 2);

  const ep = policies.cache.executionProvider;
  const c = DEFAULT_DECODER_CONFIG;
  process.stdout.write(
    `onnx policy, built-in small model (dModel ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, dFF ${c.dFF}, vocab ${c.vocabSize}), ` +
      `prompt ${prompt.length} tokens, ${newTokens} new tokens per sequence, ${threads} intra-op thread(s), best of ${repeats}\n` +
      `execution provider: ${ep.provider} (${ep.reason})\n` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (other work on the machine slows every figure alike)\n\n`,
  );
  const rows: string[][] = [];
  const profiles: Array<[number, DecodeProfile]> = [];
  let batchOne = 0;
  for (const batch of batches) {
    const recompute = recomputeBatches.has(batch) ? (await best(policies.recompute, batch)).speed : undefined;
    const cache = await best(policies.cache, batch);
    if (batch === 1) batchOne = cache.speed;
    profiles.push([batch, cache.profile]);
    rows.push([
      ep.provider,
      String(batch),
      cache.speed.toFixed(0),
      batchOne > 0 ? `${(cache.speed / batchOne).toFixed(2)}×` : '—',
      recompute === undefined ? '—' : recompute.toFixed(0),
      recompute === undefined ? '—' : `${(cache.speed / recompute).toFixed(2)}×`,
    ]);
  }
  if (ep.provider !== 'cuda') {
    for (const batch of batches)
      rows.push(['cuda', String(batch), 'not measurable here', '—', 'not measurable here', '—']);
  }
  printTable(
    ['device', 'batch', 'tok/s with KV cache', 'vs batch 1', 'tok/s full recompute (baseline)', 'speed-up'],
    rows,
  );

  if (values.profile) {
    const phases: DecodePhase[] = ['prepare', 'run', 'cache', 'sample'];
    const perCall = (t: PhaseTotals, phase: DecodePhase) => t.ms[phase] / Math.max(1, t.calls);
    const stepTotal = (t: PhaseTotals) => phases.reduce((sum, p) => sum + perCall(t, p), 0);
    process.stdout.write(
      '\nA decode step (one token for every row), ms per step and share: JS preparation (ids, masks, positions, tensors), ' +
        'session.run, KV-cache handling (select, merge, write), sampling; prefill = the prompts’ first pass, ms per call.\n',
    );
    printTable(
      [
        'batch',
        'steps',
        ...phases.map((p) => `${p} ms`),
        'step ms',
        ...phases.map((p) => `${p} %`),
        'prefill ms',
      ],
      profiles.map(([batch, p]) => {
        const total = stepTotal(p.decode);
        return [
          String(batch),
          String(p.decode.calls),
          ...phases.map((phase) => perCall(p.decode, phase).toFixed(3)),
          total.toFixed(3),
          ...phases.map(
            (phase) => `${((100 * perCall(p.decode, phase)) / Math.max(1e-9, total)).toFixed(0)}%`,
          ),
          stepTotal(p.prefill).toFixed(1),
        ];
      }),
    );
  }
  if (ep.provider !== 'cuda') {
    process.stdout.write(
      '\nGPU: no CUDA here. On a GPU machine: `npm install onnxruntime-node --onnxruntime-node-install=cuda12` (CUDA 12 + cuDNN 9), ' +
        'then `pnpm bench policy --execution-provider cuda`.\n',
    );
  }
  await policies.cache.close();
  await policies.recompute.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
}

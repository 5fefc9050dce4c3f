/**
 * `pnpm bench shared-slots [--prompt 162] [--tokens 64] [--rounds 15] [--threads 1]`: what storing a GRPO group's
 * prompt once (the in-place graph's shared slots) does to a decode step of the built-in model, at the
 * level of `session.run` alone. For each configuration the step is timed at every cache capacity a
 * generation of `--tokens` tokens after a `--prompt`-token prompt passes through (capacity grows
 * `CAPACITY_STEP` slots at a time), weighted by the steps spent there:
 *   batch 1, the prompt in the row's own slots (the baseline);
 *   batch 32 and 64 with every row's prompt in its own slots (no shared slots);
 *   batch 32 and 64 with the prompt in the shared slots and only generated tokens in the rows' own.
 *   batch 1 with its prompt in the shared slots at an aligned length (`sharedPrompts`, where every
 *   prompt, alone too, sits there), multiplied per row as the engine does for one row.
 * Configurations are timed in interleaved rounds and each keeps its least CPU time, so a burst of
 * other work on a shared machine costs one round, not one configuration.
 *
 * `--threads 1,2,2-nospin` repeats every configuration with each onnxruntime thread setting (intra-op
 * threads; `-nospin` turns off the pool's spin-waiting), in the same rounds; beside the CPU time it
 * then reports the least wall time, which more threads can lower while raising the CPU time.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { cpus, loadavg } from 'node:os';
import { buildDecoderOnnx, sharedKeyValueNames } from '../src/model/decoder-graph.ts';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import { DEFAULT_DECODER_CONFIG } from '../src/model/write-model-directory.ts';
import { CAPACITY_STEP, PER_ROW_SHARED_PRODUCTS, PROMPT_ALIGN } from '../src/onnx/in-place-batch.ts';
import { cpuMs } from '../src/onnx/decode-profile.ts';

const { values } = parseArgs({
  options: {
    prompt: { type: 'string', default: '162' },
    tokens: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1' },
  },
});
const promptLength = Number(values.prompt);
const newTokens = Number(values.tokens);
const rounds = Number(values.rounds);

const config = DEFAULT_DECODER_CONFIG;
const weights = initDecoderWeights(config, { seed: 0 });
const heads = config.nHeads;
const headDim = config.dModel / config.nHeads;
/** Per thread setting (`N` or `N-nospin`): the graph without and with shared slots. */
const settings = await Promise.all(
  values.threads.split(',').map(async (label) => {
    const [count, spin] = label.split('-');
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: Number(count),
      interOpNumThreads: 1,
      ...(spin === 'nospin' ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    };
    return {
      label,
      plain: await ort.InferenceSession.create(buildDecoderOnnx(config, weights, 'in-place'), options),
      sharing: await ort.InferenceSession.create(
        buildDecoderOnnx(config, weights, 'in-place', { sharedSlots: 'batched' }),
        options,
      ),
      perRow: await ort.InferenceSession.create(
        buildDecoderOnnx(config, weights, 'in-place', { sharedSlots: 'per-row' }),
        options,
      ),
    };
  }),
);
const alignedPrompt = Math.ceil(promptLength / PROMPT_ALIGN) * PROMPT_ALIGN;

/** The capacities a row passes through from `first` used slots on, and the steps spent at each. */
function capacities(first: number): Array<[capacity: number, steps: number]> {
  const steps = new Map<number, number>();
  for (let t = 0; t < newTokens; t++) {
    const capacity = Math.ceil((first + t + 1) / CAPACITY_STEP) * CAPACITY_STEP;
    steps.set(capacity, (steps.get(capacity) ?? 0) + 1);
  }
  return [...steps];
}

/** Deterministic small values (the timing does not depend on them). */
const filler = (n: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(j) * 0.1);
function feeds(batch: number, shared: number, capacity: number): Record<string, ort.Tensor> {
  const width = shared + capacity + 1;
  const f: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(5n), [batch, 1]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * width).fill(1n), [batch, width]),
    position_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(shared + capacity)), [
      batch,
      1,
    ]),
  };
  for (let i = 0; i < config.nLayers; i++) {
    for (const kind of ['key', 'value'] as const) {
      f[`past_key_values.${i}.${kind}`] = new ort.Tensor(
        'float32',
        filler(batch * heads * capacity * headDim),
        [batch, heads, capacity, headDim],
      );
      if (shared > 0)
        f[sharedKeyValueNames(i)[kind]] = new ort.Tensor('float32', filler(heads * shared * headDim), [
          heads,
          shared,
          headDim,
        ]);
    }
  }
  return f;
}

interface Configuration {
  threads: string;
  label: string;
  batch: number;
  session: ort.InferenceSession;
  steps: Array<{ feeds: Record<string, ort.Tensor>; weight: number; bestMs: number; bestWallMs: number }>;
}
const configurations: Configuration[] = settings.flatMap(({ label: threads, plain, sharing, perRow }) => {
  /** `shared`: the prompt's slots in the shared slots (`slots` of them), the rows' own hold what they generate. */
  const configuration = (label: string, batch: number, shared?: number): Configuration => ({
    threads,
    label,
    batch,
    session: !shared ? plain : batch <= PER_ROW_SHARED_PRODUCTS ? perRow : sharing,
    steps: capacities(shared ? 0 : promptLength).map(([capacity, weight]) => ({
      feeds: feeds(batch, shared ?? 0, capacity),
      weight,
      bestMs: Number.POSITIVE_INFINITY,
      bestWallMs: Number.POSITIVE_INFINITY,
    })),
  });
  return [
    configuration('1', 1),
    configuration(`1, prompt shared (aligned to ${alignedPrompt} slots)`, 1, alignedPrompt),
    configuration('32, prompt in every row', 32),
    configuration('32, prompt shared', 32, promptLength),
    configuration('64, prompt in every row', 64),
    configuration('64, prompt shared', 64, promptLength),
  ];
});

for (const c of configurations)
  for (const s of c.steps) for (let i = 0; i < 5; i++) await c.session.run(s.feeds);
for (let r = 0; r < rounds; r++) {
  for (const c of configurations) {
    for (const s of c.steps) {
      const calls = Math.max(3, Math.round(64 / c.batch));
      const start = cpuMs();
      const wallStart = performance.now();
      for (let i = 0; i < calls; i++) await c.session.run(s.feeds);
      s.bestMs = Math.min(s.bestMs, (cpuMs() - start) / calls);
      s.bestWallMs = Math.min(s.bestWallMs, (performance.now() - wallStart) / calls);
    }
  }
}

const stepMs = (c: Configuration, clock: 'bestMs' | 'bestWallMs' = 'bestMs') =>
  c.steps.reduce((sum, s) => sum + s.weight * s[clock], 0) / newTokens;
const baseline = stepMs(configurations[0]!);
process.stdout.write(
  `session.run of a decode step, built-in model (dModel ${config.dModel}, ${config.nLayers} layers), prompt ${promptLength} tokens, ` +
    `${newTokens} new tokens, capacity step ${CAPACITY_STEP}; least CPU and wall time of ${rounds} interleaved rounds, ` +
    `"vs batch 1" against the first thread setting's batch 1 in CPU time\n` +
    `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n\n`,
);
const rows = configurations.map((c) => {
  const ms = stepMs(c);
  return [
    c.threads,
    c.label,
    ms.toFixed(3),
    stepMs(c, 'bestWallMs').toFixed(3),
    (c.batch / ms).toFixed(2),
    `${((c.batch / ms) * baseline).toFixed(2)}×`,
  ];
});
const header = ['threads', 'batch', 'CPU ms per step', 'wall ms per step', 'tokens per CPU-ms', 'vs batch 1'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
await Promise.all(settings.flatMap((s) => [s.plain.release(), s.sharing.release(), s.perRow.release()]));

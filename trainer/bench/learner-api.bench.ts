/**
 * `pnpm bench learner-api`: the cost of a training step through the Tinker-protocol client
 * (`TinkerLearner` against `toolgym learner serve`) against the same step in process, in one run, for a batch of realistic size — the main config's RL step
 * (configs/compose-main.yaml: d=64, 2 layers, 8 tasks × 8 episodes = 64 sequences of ~120 tokens,
 * PPO with advantages and sampling logprobs).
 *
 * The server is `toolgym learner serve` in its own process (as in use: compute there, HTTP + JSON
 * here), so both sides do the same TF.js work and the difference is the API's overhead: request
 * encoding, the future round trips, and validation. Also measured: save_weights_for_sampler and its
 * download (the trainer publishes weights to the policy after every step) and save_state (checkpoints).
 *
 * On a shared machine the load moves more within a minute than the overhead is, so each repeat
 * times the two back to back (which goes first alternates) and the figure is the median of the
 * per-repeat differences, with their interquartile range and the load average around the run.
 * The protocol's own work is also timed alone, where the load moves it less: encoding a step's
 * requests, the server's parsing and validation of them, and an HTTP round trip to the server.
 * Options: --batch 64 --seq 120 --repeats 9
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DecoderConfig, initDecoderWeights, writeDecoderModelDir } from '@toolgym/agents';
import { TinkerLearner } from '../src/api/tinker-learner.ts';
import { datumFromWire, datumToWire, ForwardBackwardRequestSchema } from '../src/api/tinker-wire.ts';
import { createEmbeddedLearner } from '../src/learner/embedded-learner.ts';
import { type Datum, datumFromSequence, type Learner } from '../src/learner/learner.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const decoder: DecoderConfig = {
  vocabSize: 263,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  dFF: 256,
  maxPositions: 160,
  layerNormEps: 1e-5,
};
const batchSize = arg('batch', 64);
const seq = arg('seq', 120);
const repeats = arg('repeats', 9);
const weights = initDecoderWeights(decoder, { seed: 0 });
const adam = { learningRate: 1e-3, gradClipNorm: 1 };
const lossConfig = { clipLow: 0.2, clipHigh: 0.28 };

// Episodes of varying length: the prompt (loss mask 0) then sampled turns (mask 1).
const data: Datum[] = Array.from({ length: batchSize }, (_, b) => {
  const n = seq - (b % 17);
  const tokens = Array.from({ length: n }, (_, i) => (i * 31 + b * 7) % 256);
  const mask = tokens.map((_, i) => (i > n / 2 ? 1 : 0));
  return datumFromSequence(tokens, mask, {
    advantages: tokens.map(() => (b % 2 ? 0.7 : -0.7)),
    logprobs: tokens.map((_, i) => -1 - (i % 5) * 0.3),
  });
});

type Call = 'step' | 'save_weights' | 'save_state';

async function once(learner: Learner, what: Call): Promise<number> {
  const t0 = performance.now();
  if (what === 'step') {
    await learner.forwardBackward(data, 'ppo', lossConfig);
    await learner.optimStep(adam);
  } else if (what === 'save_weights') await learner.saveWeights();
  else await learner.saveState();
  return performance.now() - t0;
}

/** Per repeat, [in process, Tinker protocol] timed back to back; the first of each is a warm-up. */
async function paired(local: Learner, remote: Learner, what: Call): Promise<Array<[number, number]>> {
  await once(local, what);
  await once(remote, what);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < repeats; i++) {
    if (i % 2 === 0) {
      const l = await once(local, what);
      out.push([l, await once(remote, what)]);
    } else {
      const r = await once(remote, what);
      out.push([await once(local, what), r]);
    }
  }
  return out;
}

/** The median time of `work` over `n` runs (after one warm-up). */
function medianOf(n: number, work: () => unknown): number {
  work();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  }
  return quantile(samples, 0.5);
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const server = spawn(
  process.execPath,
  [path.join(root, 'cli/bin/toolgym.js'), 'learner', 'serve', '--port', '0'],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
const url = await new Promise<string>((resolve, reject) => {
  let text = '';
  server.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const match = /learner API at (http:\/\/\S+)\/api\/v1/.exec(text);
    if (match) resolve(match[1]!);
  });
  server.once('exit', (code) => reject(new Error(`toolgym learner serve exited with ${code}:\n${text}`)));
});

const modelDir = await mkdtemp(path.join(tmpdir(), 'toolgym-bench-model-'));
try {
  await writeDecoderModelDir(modelDir, { config: decoder, weights });
  const embedded = await createEmbeddedLearner({ decoder, weights, microBatchSize: 64 });
  const remote = await TinkerLearner.create({ url, baseModel: modelDir });
  const names: Record<Call, string> = {
    step: 'forward_backward + optim_step',
    save_weights: 'save_weights_for_sampler + download',
    save_state: 'save_weights (state) + download',
  };
  const loadBefore = loadavg()[0]!;
  const rows = [];
  for (const what of ['step', 'save_weights', 'save_state'] as const) rows.push({ what, pairs: await paired(embedded, remote, what) });
  const loadAfter = loadavg()[0]!;
  const tokens = data.reduce((s, d) => s + d.modelInput.tokens.length, 0);
  const requestBytes = JSON.stringify({ data: data.map(datumToWire) }).length;
  process.stdout.write(
    `learner API overhead — ${batchSize} sequences, ${tokens} tokens, d=${decoder.dModel} L=${decoder.nLayers}; forward_backward request ${(requestBytes / 1024).toFixed(0)} KiB; ${repeats} paired repeats; load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${cpus().length} cores\n\n`,
  );
  process.stdout.write(
    '| call | in process (ms, median) | Tinker protocol (ms, median) | client overhead (ms, median of differences) | IQR of differences (ms) | overhead / in-process step |\n|---|---:|---:|---:|---:|---:|\n',
  );
  // Every overhead against the learner's own step (forward_backward + optim_step in process), measured in this run.
  const step = quantile(rows[0]!.pairs.map(([l]) => l), 0.5);
  for (const { what, pairs } of rows) {
    const diffs = pairs.map(([l, r]) => r - l);
    const overhead = quantile(diffs, 0.5);
    process.stdout.write(
      `| ${names[what]} | ${quantile(pairs.map(([l]) => l), 0.5).toFixed(1)} | ${quantile(pairs.map(([, r]) => r), 0.5).toFixed(1)} | ${overhead.toFixed(1)} | ${quantile(diffs, 0.25).toFixed(1)} … ${quantile(diffs, 0.75).toFixed(1)} | ${((overhead / step) * 100).toFixed(1)} % |\n`,
    );
  }
  // The protocol's own work for one step, timed alone.
  const body = () =>
    JSON.stringify({ model_id: 'm', seq_id: 1, forward_backward_input: { data: data.map(datumToWire), loss_fn: 'ppo', loss_fn_config: {} } });
  const encoded = body();
  const encode = medianOf(repeats * 3, body);
  const decode = medianOf(repeats * 3, () =>
    ForwardBackwardRequestSchema.parse(JSON.parse(encoded)).forward_backward_input.data.map(datumFromWire),
  );
  const roundTrips: number[] = [];
  for (let i = 0; i < repeats * 3; i++) {
    const t0 = performance.now();
    await (await fetch(`${url}/api/v1/healthz`)).text();
    roundTrips.push(performance.now() - t0);
  }
  const roundTrip = quantile(roundTrips, 0.5);
  // A step is forward_backward and optim_step, each a submit and at least one retrieve_future.
  const requests = 4;
  const floor = encode + decode + requests * roundTrip;
  process.stdout.write(
    `\nThe protocol's own work per step, timed alone (median of ${repeats * 3}): encode the forward_backward request ${encode.toFixed(1)} ms, parse and validate it on the server ${decode.toFixed(1)} ms, ${requests} HTTP round trips of ${roundTrip.toFixed(1)} ms: ${floor.toFixed(1)} ms, ${((floor / step) * 100).toFixed(1)} % of the in-process step.\n`,
  );
  await embedded.close();
  await remote.close();
} finally {
  server.kill('SIGTERM');
  await rm(modelDir, { recursive: true, force: true });
}

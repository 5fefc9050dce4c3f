/**
 * `pnpm bench prefill-memory [--rows 16] [--from 1000] [--to 1500] [--rounds 2]`: the peak resident
 * memory of prefilling `rows` prompts of `from`…`to` tokens (distinct lengths, as the turns of
 * long episodes) on the sql Agent-RLVR config's decoder (dModel 64, 2 layers, 4 heads, 2,048
 * positions), each case in a fresh process (VmHWM, /proc/self/status):
 * - `one forward`: every prompt left-padded into one forward, as the in-place engine prefilled a
 *   join before its prefills were bounded (the baseline; `batchInvariant: false` did this too);
 * - `bounded`: `InPlaceBatch.add`, whose forwards hold at most `PREFILL_SCORE_BYTES` of attention scores;
 * - `present, one forward` and `present, bounded`: the same in the layout of exported models
 *   (Optimum decoder-with-past, every position's logits and the whole cache out), the second through
 *   `PaddedBatch.add`.
 * The cases alternate round by round; the CPU time of each process is printed beside its peak.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildDecoderOnnx } from '../src/model/decoder-graph.ts';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import { leftPaddedPrompts } from '../src/onnx/decode-batch.ts';
import { DecoderSession } from '../src/onnx/decoder-session.ts';
import { InPlaceBatch } from '../src/onnx/in-place-batch.ts';
import { PaddedBatch } from '../src/onnx/padded-batch.ts';
import { SQL_DECODER, statusMb } from './sql-decoder.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '16' },
    from: { type: 'string', default: '1000' },
    to: { type: 'string', default: '1500' },
    rounds: { type: 'string', default: '2' },
    case: { type: 'string' },
  },
});
const rows = Number(values.rows);
const from = Number(values.from);
const to = Number(values.to);

/** One case, in this process: prints `peak_mb cpu_s`. */
async function runCase(kind: string): Promise<void> {
  const layout = kind.startsWith('present') ? 'present' : 'in-place';
  const session = await ort.InferenceSession.create(
    buildDecoderOnnx(SQL_DECODER, initDecoderWeights(SQL_DECODER, { seed: 1, std: 0.02 }), layout),
    { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] },
  );
  const shape = {
    numLayers: SQL_DECODER.nLayers,
    numHeads: SQL_DECODER.nHeads,
    numKvHeads: SQL_DECODER.nHeads,
    headDim: SQL_DECODER.dModel / SQL_DECODER.nHeads,
    vocabSize: SQL_DECODER.vocabSize,
    maxPositions: SQL_DECODER.maxPositions,
  };
  const decoder = new DecoderSession(session, shape, { provider: 'cpu', reason: 'bench' });
  const step = rows > 1 ? (to - from) / (rows - 1) : 0;
  const prompts = Array.from({ length: rows }, (_, r) =>
    Array.from({ length: Math.round(from + r * step) }, (_, t) => (t * 7 + r) % 250),
  );
  const start = process.cpuUsage();
  if (kind.endsWith('one forward')) {
    await decoder.forward({ batch: rows, ...leftPaddedPrompts(prompts, 0) });
  } else if (layout === 'present') {
    await new PaddedBatch(decoder, 0, 'present').add(prompts);
  } else {
    const batch = new InPlaceBatch(
      decoder,
      () => Promise.reject(new Error('no shared slots in this bench')),
      0,
      false,
    );
    await batch.add(prompts);
  }
  const cpu = process.cpuUsage(start);
  process.stdout.write(`${statusMb('VmHWM')} ${(cpu.user + cpu.system) / 1e6}\n`);
  await session.release();
}

if (values.case) await runCase(values.case);
else {
  const cases = ['one forward', 'bounded', 'present, one forward', 'present, bounded'];
  const results = new Map<string, Array<{ peak: number; cpu: number }>>(cases.map((c) => [c, []]));
  for (let round = 0; round < Number(values.rounds); round++)
    for (const kind of round % 2 === 0 ? cases : [...cases].reverse()) {
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--case',
          kind,
          ...['--rows', String(rows), '--from', String(from), '--to', String(to)],
        ],
        { encoding: 'utf8' },
      );
      if (child.status !== 0) throw new Error(`${kind}: ${child.stderr}`);
      const [peak, cpu] = child.stdout.trim().split(' ').map(Number);
      results.get(kind)!.push({ peak: peak!, cpu: cpu! });
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`prefill of ${rows} prompts of ${from}-${to} tokens, sql Agent-RLVR decoder (2,048 positions)`);
  console.log('case                  peak resident MB (median, runs)     CPU s (median)');
  for (const [kind, rs] of results)
    console.log(
      `${kind.padEnd(21)} ${median(rs.map((r) => r.peak))
        .toFixed(0)
        .padStart(6)} (${rs.map((r) => r.peak.toFixed(0)).join(', ')})`.padEnd(58) +
        `${median(rs.map((r) => r.cpu)).toFixed(2)}`,
    );
  const peak = (kind: string) => median(results.get(kind)!.map((r) => r.peak));
  for (const layout of ['', 'present, '])
    console.log(
      `${layout}bounded / one forward, peak: ${(peak(`${layout}bounded`) / peak(`${layout}one forward`)).toFixed(2)}x`,
    );
}

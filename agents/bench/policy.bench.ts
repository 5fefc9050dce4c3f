/**
 * `pnpm bench policy [--execution-provider auto|cuda|cpu] [--tokens N] [--batches 1,8,32,64] [--repeats R] [--threads T] [--profile]`:
 * generated tokens/s of the built-in small model (DEFAULT_DECODER_CONFIG) at each batch size with the
 * KV cache, and with full recompute (the baseline) at batch 1 and 32, measured in the same run; the
 * cache's speed-up is the ratio.
 *
 * Each figure is given twice: per second of wall time, and per second of the process's CPU time. On a
 * shared machine the wall clock also counts time other processes held the core; with one onnxruntime
 * thread (the default) CPU time is the engine's own. Cached figures are the best of R runs, taken in
 * rounds that go through every batch size in turn (a burst of other work hits one round of each); the slow
 * baseline runs once. Rows share one prompt, as a GRPO group's do; "distinct prompts" gives each row
 * its own. The engine is batch-invariant (the default); "shared slots" is the same one prompt with
 * `batchInvariant: false`, which stores a prompt that a quarter of the rows share once, measured
 * in the same rounds: the price of invariance is the ratio. A second table does the same for
 * GRPO-like batches, groups of 8 rows whose prompts differ in length from group to group (the
 * invariant engine prefills each length on its own). A third runs `sharedPrompts: true` in the same
 * rounds, and its one-prompt speed against the default's batch 1 as the median of per-round ratios,
 * which a ratio near 1 needs (each batch-1 sample is one short generation), and per kind of batch its
 * speed over the default's at the same size in the same round (median and range). Every cached sample
 * follows an untimed run of the same generation, so it does not pay for collecting an earlier
 * sample's garbage. `--profile` splits a decode step into JS preparation, `session.run`, KV-cache handling and
 * sampling (DecodeProfile, CPU ms), per batch size. Then the same generation with the cache at batch 1
 * and 32 through `toolgym policy serve`'s HTTP server (POST /v1/completions with token ids, the way
 * the `openai` policy backend calls it) against in process, in wall time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { createDefaultModel, DEFAULT_DECODER_CONFIG } from '../src/model/write-model-directory.ts';
import { cpuMs, type DecodePhase, DecodeProfile, type PhaseTotals } from '../src/onnx/decode-profile.ts';
import type { ExecutionProviderPreference } from '../src/onnx/execution-provider.ts';
import { OnnxPolicy } from '../src/onnx/onnx-policy.ts';
import { serveOpenAiCompatible } from '../src/serve/openai-server.ts';

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

/** Generated tokens per second of wall time and per second of CPU time. */
interface Speed {
  wall: number;
  cpu: number;
}

const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-bench-policy-'));
try {
  await createDefaultModel(dir, { seed: 0 });
  const policies = {
    cache: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: 'auto', threads }),
    sharing: await OnnxPolicy.create({
      model: dir,
      executionProvider,
      kvCache: 'auto',
      threads,
      batchInvariant: false,
    }),
    recompute: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: 'off', threads }),
    sharedPrompts: await OnnxPolicy.create({
      model: dir,
      executionProvider,
      kvCache: 'auto',
      threads,
      sharedPrompts: true,
    }),
  };
  /**
   * The chat prompt of one request; with `row`, a variant of the same length that no other row has;
   * with `extra`, that many more characters.
   */
  const template = new ChatTemplate(policies.cache.chatTemplate!);
  const promptOf = (row?: number, extra = 0) =>
    policies.cache.tokenizer.encode(
      template.render(
        [
          {
            role: 'user',
            content: `Find the population of the largest city in France.${row === undefined ? '' : ` (${String(row).padStart(3, '0')})`}${'!'.repeat(extra)}`,
          },
        ],
        [
          {
            name: 'search',
            description: 'Web search.',
            inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        ],
        { addGenerationPrompt: true },
      ),
    );
  const prompt = promptOf();

  /** Row i's prompt: one for all, one of its own (same length), or its group of 8's (lengths differ). */
  type Prompts = 'same' | 'distinct' | 'groups';
  const promptsOf: Record<Prompts, (i: number) => number[]> = {
    same: () => prompt,
    distinct: (i) => promptOf(i),
    groups: (i) => promptOf(Math.floor(i / 8), 3 * Math.floor(i / 8)),
  };

  /** Generates `batch` rows of `prompts` to the end. */
  const generate = (policy: OnnxPolicy, batch: number, prompts: Prompts) =>
    Promise.all(
      Array.from({ length: batch }, (_, i) =>
        policy.enqueue({
          tokens: promptsOf[prompts](i),
          sampling: { maxTokens: newTokens, temperature: 1, seed: i },
          ignoreEos: true,
        }),
      ),
    );

  /**
   * Generation speed of one batch; with `profile`, the phases of that run are added to it. With
   * `settle` (default), the same generation runs once untimed first. V8 collects garbage on helper
   * threads too (concurrent marking and sweeping), which the process's CPU clock counts, and a
   * collection that the previous sample started finishes in the next one: after a batch-32 run, the
   * next batch-1 sample took 18 ms more CPU (median; up to 30 ms on a 45 ms sample). After an untimed
   * run of its own kind a sample pays for its own kind's garbage only. (A forced full collection
   * before each sample instead made batch-1 samples about 10% dearer than back-to-back ones.)
   */
  async function speedOf(
    policy: OnnxPolicy,
    batch: number,
    profile?: DecodeProfile,
    prompts: Prompts = 'same',
    settle = true,
  ): Promise<Speed> {
    if (settle) await generate(policy, batch, prompts);
    policy.profile = profile;
    const wallStart = performance.now();
    const cpuStart = cpuMs();
    const results = await generate(policy, batch, prompts);
    const tokens = results.reduce((n, r) => n + r.tokens!.length, 0);
    policy.profile = undefined;
    return {
      wall: tokens / ((performance.now() - wallStart) / 1000),
      cpu: tokens / ((cpuMs() - cpuStart) / 1000),
    };
  }

  /** Best speeds so far of one configuration, each clock on its own, and the profile of the run best in CPU time. */
  type Best = Speed & { profile: DecodeProfile };
  const keepBest = (top: Best | undefined, speed: Speed, profile: DecodeProfile): Best => ({
    wall: Math.max(top?.wall ?? 0, speed.wall),
    cpu: Math.max(top?.cpu ?? 0, speed.cpu),
    profile: speed.cpu > (top?.cpu ?? 0) ? profile : top!.profile,
  });

  // Warm-up: first runs pay for onnxruntime's kernel setup (with `sharedPrompts`, opening its session
  // for steps of one row and its session for more).
  await speedOf(policies.cache, 2);
  await speedOf(policies.sharing, 2);
  await speedOf(policies.recompute, 2);
  await speedOf(policies.sharedPrompts, 1);
  await speedOf(policies.sharedPrompts, 2);

  const ep = policies.cache.executionProvider;
  const c = DEFAULT_DECODER_CONFIG;
  process.stdout.write(
    `onnx policy, built-in small model (dModel ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, dFF ${c.dFF}, vocab ${c.vocabSize}), ` +
      `prompt ${prompt.length} tokens, ${newTokens} new tokens per sequence, ${threads} intra-op thread(s), best of ${repeats}\n` +
      `execution provider: ${ep.provider} (${ep.reason})\n` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (other work slows the wall-clock figures)\n\n`,
  );
  const rows: string[][] = [];
  /** Per batch size: the profile with one prompt, and with distinct prompts. */
  const profiles: Array<[number, DecodeProfile, DecodeProfile, DecodeProfile]> = [];
  const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');
  // Repeats go round every batch size in turn, so that a burst of other work on a shared machine
  // slows one round of each rather than every run of one.
  const same = new Map<number, Best>();
  const distinct = new Map<number, Best>();
  const shared = new Map<number, Best>();
  /** GRPO-like: groups of 8 rows, each group's prompt of another length; invariant, and with shared slots. */
  const groups = new Map<number, Best>();
  const groupsShared = new Map<number, Best>();
  /** `sharedPrompts: true` (every prompt in the shared slots, batch-invariant), per kind of batch. */
  const sharedPrompts = {
    same: new Map<number, Best>(),
    groups: new Map<number, Best>(),
    distinct: new Map<number, Best>(),
  };
  /**
   * Per round, one prompt: the default's tokens per CPU-second at batch 1 and `sharedPrompts`' at
   * each batch size, for ratios within a round (a best-of-N ratio near 1 rests on two lucky samples).
   */
  const defaultBatchOne: number[] = [];
  const sharedPromptsRounds = new Map<number, number[]>(batches.map((b) => [b, []]));
  /** Per kind of batch and batch size, each round's `sharedPrompts` ÷ default tokens per CPU-second. */
  const overDefault = {
    same: new Map<number, number[]>(batches.map((b) => [b, []])),
    groups: new Map<number, number[]>(batches.map((b) => [b, []])),
    distinct: new Map<number, number[]>(batches.map((b) => [b, []])),
  };
  /** This round's `sharedPrompts` speed per kind, set before the default's of the same kind. */
  const mineThisRound: Partial<Record<Prompts, number>> = {};
  for (let r = 0; r < repeats; r++) {
    for (const batch of batches) {
      let profile = new DecodeProfile();
      const speed = await speedOf(policies.cache, batch, profile);
      same.set(batch, keepBest(same.get(batch), speed, profile));
      if (batch === 1) defaultBatchOne.push(speed.cpu);
      for (const kind of batch === 1 ? (['same'] as const) : (['same', 'groups', 'distinct'] as const)) {
        profile = new DecodeProfile();
        const map = sharedPrompts[kind];
        const mine = await speedOf(policies.sharedPrompts, batch, profile, kind);
        map.set(batch, keepBest(map.get(batch), mine, profile));
        if (kind === 'same') sharedPromptsRounds.get(batch)!.push(mine.cpu);
        mineThisRound[kind] = mine.cpu;
      }
      overDefault.same.get(batch)!.push(mineThisRound.same! / speed.cpu);
      if (batch === 1) continue;
      profile = new DecodeProfile();
      shared.set(
        batch,
        keepBest(shared.get(batch), await speedOf(policies.sharing, batch, profile), profile),
      );
      for (const [map, policy] of [
        [groups, policies.cache],
        [groupsShared, policies.sharing],
      ] as const) {
        profile = new DecodeProfile();
        const speed = await speedOf(policy, batch, profile, 'groups');
        map.set(batch, keepBest(map.get(batch), speed, profile));
        if (policy === policies.cache) overDefault.groups.get(batch)!.push(mineThisRound.groups! / speed.cpu);
      }
      profile = new DecodeProfile();
      const own = await speedOf(policies.cache, batch, profile, 'distinct');
      distinct.set(batch, keepBest(distinct.get(batch), own, profile));
      overDefault.distinct.get(batch)!.push(mineThisRound.distinct! / own.cpu);
    }
  }
  const batchOne = same.get(1) ?? { wall: 0, cpu: 0 };
  for (const batch of batches) {
    const recompute = recomputeBatches.has(batch)
      ? await speedOf(policies.recompute, batch, undefined, 'same', false)
      : undefined;
    const cache = same.get(batch)!;
    const own = distinct.get(batch) ?? cache;
    const sharing = shared.get(batch) ?? cache;
    profiles.push([batch, cache.profile, own.profile, sharedPrompts.same.get(batch)!.profile]);
    rows.push([
      ep.provider,
      String(batch),
      cache.wall.toFixed(0),
      times(cache.wall, batchOne.wall),
      cache.cpu.toFixed(0),
      times(cache.cpu, batchOne.cpu),
      own.cpu.toFixed(0),
      times(own.cpu, batchOne.cpu),
      sharing.cpu.toFixed(0),
      times(cache.cpu, sharing.cpu),
      recompute === undefined ? '—' : recompute.cpu.toFixed(0),
      recompute === undefined ? '—' : times(cache.cpu, recompute.cpu),
    ]);
  }
  if (ep.provider !== 'cuda') {
    for (const batch of batches)
      rows.push(['cuda', String(batch), 'not measurable here', ...new Array(9).fill('—')]);
  }
  printTable(
    [
      'device',
      'batch',
      'tok/s',
      'vs batch 1',
      'tok per CPU-s',
      'vs batch 1',
      'distinct prompts, per CPU-s',
      'vs batch 1',
      'shared slots, per CPU-s',
      'invariant / shared',
      'full recompute (baseline), per CPU-s',
      'cache speed-up',
    ],
    rows,
  );
  process.stdout.write(
    '\nGRPO-like batches: groups of 8 rows, each group with a prompt of its own length (3 characters longer per group), per CPU-s\n',
  );
  printTable(
    ['batch', 'batch-invariant', 'shared slots', 'invariant / shared'],
    batches
      .filter((b) => groups.has(b))
      .map((b) => [
        String(b),
        groups.get(b)!.cpu.toFixed(0),
        groupsShared.get(b)!.cpu.toFixed(0),
        times(groups.get(b)!.cpu, groupsShared.get(b)!.cpu),
      ]),
  );

  process.stdout.write(
    '\nEvery prompt in the shared slots (`sharedPrompts: true`, batch-invariant, not the default), per CPU-s, against the default in the same rounds\n',
  );
  printTable(
    [
      'batch',
      'one prompt',
      'vs its batch 1',
      'vs default',
      'GRPO-like groups',
      'vs default',
      'distinct prompts',
      'vs default',
    ],
    batches.map((b) => {
      const one = sharedPrompts.same.get(b)!;
      const cell = (kind: 'groups' | 'distinct', base: Map<number, Best>) => {
        const mine = sharedPrompts[kind].get(b);
        return mine ? [mine.cpu.toFixed(0), times(mine.cpu, base.get(b)!.cpu)] : ['—', '—'];
      };
      return [
        String(b),
        one.cpu.toFixed(0),
        times(one.cpu, sharedPrompts.same.get(1)?.cpu ?? 0),
        times(one.cpu, same.get(b)!.cpu),
        ...cell('groups', groups),
        ...cell('distinct', distinct),
      ];
    }),
  );

  const quantile = (xs: number[], q: number) =>
    [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
  process.stdout.write(
    `\n\`sharedPrompts\` ÷ the default, tokens per CPU-second, same batch and kind of batch in the same round: median (range) of ${repeats} rounds\n`,
  );
  printTable(
    ['batch', 'one prompt', 'GRPO-like groups', 'distinct prompts'],
    batches.map((b) => [
      String(b),
      ...(['same', 'groups', 'distinct'] as const).map((kind) => {
        const ratios = overDefault[kind].get(b)!;
        if (ratios.length === 0) return '—';
        const sorted = [...ratios].sort((x, y) => x - y);
        const n = sorted.length;
        const mid = (sorted[Math.floor((n - 1) / 2)]! + sorted[Math.ceil((n - 1) / 2)]!) / 2;
        return `${mid.toFixed(2)}× (${sorted[0]!.toFixed(2)}–${sorted[n - 1]!.toFixed(2)}×)`;
      }),
    ]),
  );

  if (defaultBatchOne.length === repeats) {
    process.stdout.write(
      `\n\`sharedPrompts\`, one prompt, against the default's batch 1 in the same round: median of ${repeats} rounds (IQR)\n`,
    );
    printTable(
      ['batch', 'vs default batch 1'],
      batches.map((b) => {
        const ratios = sharedPromptsRounds.get(b)!.map((x, r) => x / defaultBatchOne[r]!);
        const [low, mid, high] = [0.25, 0.5, 0.75].map((q) => quantile(ratios, q).toFixed(2));
        return [String(b), `${mid}× (${low}–${high}×)`];
      }),
    );
  }

  if (values.profile) {
    const phases: DecodePhase[] = ['prepare', 'run', 'cache', 'sample'];
    const perCall = (t: PhaseTotals, phase: DecodePhase) => t.ms[phase] / Math.max(1, t.calls);
    const stepTotal = (t: PhaseTotals) => phases.reduce((sum, p) => sum + perCall(t, p), 0);
    process.stdout.write(
      '\nA decode step (one token for every row), CPU ms per step and share: JS preparation (ids, masks, positions, tensors), ' +
        'session.run, KV-cache handling (select, merge, write), sampling; prefill = the prompts’ first pass, CPU ms per call. ' +
        'One prompt: rows share it (batch-invariant: each row keeps it in its own slots); distinct prompts: each row has its own.\n',
    );
    printTable(
      [
        'batch',
        'steps',
        ...phases.map((p) => `${p} ms`),
        'step ms',
        ...phases.map((p) => `${p} %`),
        'prefill ms',
        'distinct prompts: step ms',
        'prefill ms',
        'sharedPrompts, one prompt: ' + phases.join(' / ') + ' ms',
      ],
      profiles.map(([batch, p, own, sp]) => {
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
          stepTotal(own.decode).toFixed(3),
          stepTotal(own.prefill).toFixed(1),
          phases.map((phase) => perCall(sp.decode, phase).toFixed(3)).join(' / '),
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

  // Over HTTP: the same requests as completions with token ids, each its own POST.
  const server = await serveOpenAiCompatible(policies.cache, { port: 0, modelName: 'bench' });
  async function httpTokensPerSecond(batch: number): Promise<number> {
    const started = performance.now();
    const bodies = await Promise.all(
      Array.from({ length: batch }, async (_, i) => {
        const response = await fetch(`${server.url}/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'bench',
            prompt,
            max_tokens: newTokens,
            temperature: 1,
            seed: i,
            ignore_eos: true,
            return_token_ids: true,
          }),
        });
        return (await response.json()) as { choices: Array<{ token_ids: number[] }> };
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return bodies.reduce((n, b) => n + b.choices[0]!.token_ids.length, 0) / seconds;
  }
  await httpTokensPerSecond(2);
  const httpRows: string[][] = [];
  for (const batch of batches.filter((b) => recomputeBatches.has(b))) {
    const local = (await speedOf(policies.cache, batch)).wall;
    const http = await httpTokensPerSecond(batch);
    httpRows.push([String(batch), local.toFixed(0), http.toFixed(0), times(http, local)]);
  }
  process.stdout.write(
    '\nwith KV cache, through the OpenAI-compatible server (POST /v1/completions, token ids):\n',
  );
  printTable(['batch', 'tok/s in process', 'tok/s over HTTP', 'HTTP / in process'], httpRows);
  await server.close();
  await policies.cache.close();
  await policies.sharing.close();
  await policies.recompute.close();
  await policies.sharedPrompts.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
}

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from './decoder-config.ts';
import { initDecoderWeights } from './init-weights.ts';
import { referenceForward } from './reference-forward.ts';
import { buildDecoderOnnx, checkDecoderWeights } from './decoder-graph.ts';
import { DecoderSession } from '../onnx/decoder-session.ts';
import { decodeOnnxInitializers } from './onnx-proto.ts';
import { readDecoderWeights } from './model-directory.ts';
import { TINY_TEST_CONFIG, TINY_TEST_SHAPE } from '../onnx/tiny-test-model.ts';

/** float32 ONNX vs float64 TypeScript maths over 2 layers: agreement well inside this bound. */
const TOLERANCE = 1e-4;

const config = TINY_TEST_CONFIG;
const weights = initDecoderWeights(config, { seed: 11, std: 0.3 });
const shape = TINY_TEST_SHAPE;

async function openSession(c: DecoderConfig = config, w: DecoderWeights = weights): Promise<DecoderSession> {
  const session = await ort.InferenceSession.create(buildDecoderOnnx(c, w));
  return new DecoderSession(session, shape, { provider: 'cpu', reason: 'test' });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('ONNX decoder builder', () => {
  it('loads in onnxruntime and its forward pass matches the TypeScript reference', async () => {
    const decoder = await openSession();
    const ids = [3, 77, 258, 12, 200, 5, 9];
    const out = await decoder.forward({
      batch: 1,
      inputIds: ids,
      attentionMask: ids.map(() => 1),
      positionIds: ids.map((_, i) => i),
    });
    const ref = referenceForward(config, weights, { inputIds: [ids] })[0]!;
    const refFlat = Float32Array.from(ref.flatMap((row) => [...row]));
    expect(maxAbsDiff(out.logits, refFlat)).toBeLessThan(TOLERANCE);
    expect(out.keyValues.tensors[0]!.dims).toEqual([
      1,
      config.nHeads,
      ids.length,
      config.dModel / config.nHeads,
    ]);
    await decoder.release();
  });

  it('masks left padding: a padded row gives the same logits as the row alone', async () => {
    const decoder = await openSession();
    const short = [40, 41, 42];
    const long = [1, 2, 3, 4, 5, 6];
    const pad = long.length - short.length;
    const out = await decoder.forward({
      batch: 2,
      inputIds: [...new Array(pad).fill(256), ...short, ...long],
      attentionMask: [...new Array(pad).fill(0), ...short.map(() => 1), ...long.map(() => 1)],
      positionIds: [...new Array(pad).fill(0), 0, 1, 2, 0, 1, 2, 3, 4, 5],
    });
    const alone = referenceForward(config, weights, { inputIds: [short] })[0]!;
    const v = config.vocabSize;
    const lastShort = out.logits.subarray((long.length - 1) * v, long.length * v);
    expect(maxAbsDiff(lastShort, alone[short.length - 1]!)).toBeLessThan(TOLERANCE);
    await decoder.release();
  });

  it('logits with the KV cache equal a full recompute, step by step', async () => {
    const decoder = await openSession();
    const ids = [10, 20, 30, 40, 50, 60, 70, 80];
    const prefill = 3;
    let out = await decoder.forward({
      batch: 1,
      inputIds: ids.slice(0, prefill),
      attentionMask: new Array(prefill).fill(1),
      positionIds: [0, 1, 2],
    });
    for (let t = prefill; t < ids.length; t++) {
      out = await decoder.forward({
        batch: 1,
        inputIds: [ids[t]!],
        attentionMask: new Array(t + 1).fill(1),
        positionIds: [t],
        past: out.keyValues,
      });
      const full = await decoder.forward({
        batch: 1,
        inputIds: ids.slice(0, t + 1),
        attentionMask: new Array(t + 1).fill(1),
        positionIds: ids.slice(0, t + 1).map((_, i) => i),
      });
      const v = config.vocabSize;
      expect(maxAbsDiff(out.logits, full.logits.subarray(t * v, (t + 1) * v))).toBeLessThan(TOLERANCE);
    }
    await decoder.release();
  });

  it.each([
    ['batched', 'learned'],
    ['per-row', 'learned'],
    ['batched', 'rope'],
    ['per-row', 'rope'],
  ] as const)(
    'in-place with shared slots (%s products, %s positions): each row attends to its own shared prompt and its own slots only, as the reference',
    async (products, positions) => {
      const c: DecoderConfig = { ...config, positions };
      const w = positions === 'rope' ? initDecoderWeights(c, { seed: 17, std: 0.3 }) : weights;
      const { nHeads: heads, dModel, vocabSize: vocab } = c;
      const headDim = dModel / heads;
      const present = await openSession(c, w);
      const session = await ort.InferenceSession.create(
        buildDecoderOnnx(c, w, 'in-place', { sharedSlots: products }),
      );
      const sharing = new DecoderSession(session, shape, { provider: 'cpu', reason: 'test' });
      expect(sharing.sharesSlots).toBe(true);
      const other = [4, 8, 15]; // a shared prompt none of these rows has
      const prompt = [3, 77, 258, 12, 200];
      // Rows 0 and 1 share `prompt` (in the shared slots) and generated two tokens each (in their own
      // slots); row 2's prompt and token sit in its own slots. Each now feeds one more token.
      const rows = [
        { shared: prompt, own: [9, 41], next: 7 },
        { shared: prompt, own: [60, 2], next: 7 },
        { shared: [] as number[], own: [11, 22, 33, 44, 55], next: 66 },
      ];
      /** Keys and values of every position of `ids`, per layer k/v: [heads, length, headDim]. */
      const keyValuesOf = async (ids: number[]) =>
        (
          await present.forward({
            batch: 1,
            inputIds: ids,
            attentionMask: ids.map(() => 1),
            positionIds: ids.map((_, i) => i),
          })
        ).keyValues.tensors.map((t) => t.data as Float32Array);
      const capacity = 6;
      const sharedLength = other.length + prompt.length;
      const cache = Array.from(
        { length: 2 * c.nLayers },
        () => new Float32Array(rows.length * heads * capacity * headDim),
      );
      const sharedSlots = Array.from(
        { length: 2 * c.nLayers },
        () => new Float32Array(heads * sharedLength * headDim),
      );
      const width = sharedLength + capacity + 1;
      const mask = new Array<number>(rows.length * width).fill(0);
      for (const [start, ids] of [
        [0, other],
        [other.length, prompt],
      ] as const) {
        const kv = await keyValuesOf(ids);
        kv.forEach((data, k) => {
          for (let h = 0; h < heads; h++)
            sharedSlots[k]!.set(
              data.subarray(h * ids.length * headDim, (h + 1) * ids.length * headDim),
              (h * sharedLength + start) * headDim,
            );
        });
      }
      for (const [b, row] of rows.entries()) {
        const ids = [...row.shared, ...row.own];
        const kv = await keyValuesOf(ids);
        kv.forEach((data, k) => {
          for (let h = 0; h < heads; h++) {
            const from = (h * ids.length + row.shared.length) * headDim;
            cache[k]!.set(
              data.subarray(from, from + row.own.length * headDim),
              (b * heads + h) * capacity * headDim,
            );
          }
        });
        if (row.shared.length > 0) mask.fill(1, b * width + other.length, b * width + sharedLength);
        mask.fill(1, b * width + sharedLength, b * width + sharedLength + row.own.length);
        mask[b * width + width - 1] = 1;
      }
      const out = await sharing.forward({
        batch: rows.length,
        inputIds: rows.map((r) => r.next),
        attentionMask: mask,
        positionIds: rows.map((r) => r.shared.length + r.own.length),
        past: {
          tensors: cache.map(
            (data) => new ort.Tensor('float32', data, [rows.length, heads, capacity, headDim]),
          ),
          batch: rows.length,
          length: capacity,
        },
        shared: {
          tensors: sharedSlots.map((data) => new ort.Tensor('float32', data, [heads, sharedLength, headDim])),
          length: sharedLength,
        },
      });
      for (const [b, row] of rows.entries()) {
        const ids = [...row.shared, ...row.own, row.next];
        const ref = referenceForward(c, w, { inputIds: [ids] })[0]!.at(-1)!;
        expect(
          maxAbsDiff(out.logits.subarray(b * vocab, (b + 1) * vocab), Float32Array.from(ref)),
        ).toBeLessThan(TOLERANCE);
      }
      await Promise.all([present.release(), sharing.release()]);
    },
  );

  it('round-trips weights through model.onnx and rejects wrong weights by name', () => {
    const bytes = buildDecoderOnnx(config, weights);
    const back = readDecoderWeights(bytes, config);
    for (const [name, w] of Object.entries(weights)) expect(back[name]).toEqual(w);
    const missing = { ...weights };
    delete missing['layers.1.mlp.up.bias'];
    expect(() => checkDecoderWeights(config, missing)).toThrow(/missing 'layers\.1\.mlp\.up\.bias'/);
    expect(() => checkDecoderWeights(config, { ...weights, 'lm_head.weight': new Float32Array(3) })).toThrow(
      /'lm_head\.weight' has 3 values/,
    );
  });
});

describe('ONNX decoder builder with RoPE positions', () => {
  const rope: DecoderConfig = { ...config, positions: 'rope', ropeTheta: 500 };
  const ropeWeights = initDecoderWeights(rope, { seed: 13, std: 0.3 });
  const v = rope.vocabSize;
  const open = () => openSession(rope, ropeWeights);
  /** Logits of every position of a [batch][seq] forward output, flattened row by row. */
  const flat = (rows: Float32Array[][]) => Float32Array.from(rows.flatMap((r) => r.flatMap((x) => [...x])));
  /** Position ids of a left-padded row: real tokens 0, 1, 2, …; padding at 0 (as the onnx policy feeds them). */
  const positionsOf = (mask: number[]) => {
    let next = 0;
    return mask.map((m) => (m === 1 ? next++ : 0));
  };

  it('has no position table: the weights are the learned ones minus embed.positions', () => {
    const learned = Object.keys(decoderWeightShapes(config));
    expect(Object.keys(decoderWeightShapes(rope))).toEqual(learned.filter((n) => n !== 'embed.positions'));
    expect(() =>
      checkDecoderWeights(rope, { ...ropeWeights, 'embed.positions': new Float32Array(1) }),
    ).toThrow(/unexpected weight 'embed\.positions'.*RoPE models have no position table/);
  });

  it('rejects configs RoPE cannot rotate, naming the field', () => {
    const odd = { ...rope, dModel: 36, nHeads: 4 }; // head width 9
    expect(() => decoderWeightShapes(odd)).toThrow(
      /head width dModel \/ nHeads must be even; got 36 \/ 4 = 9/,
    );
    expect(() => decoderWeightShapes({ ...rope, nHeads: 5 })).toThrow(
      /dModel 32 is not divisible by nHeads 5/,
    );
    expect(() => decoderWeightShapes({ ...rope, ropeTheta: 0 })).toThrow(
      /ropeTheta must be a positive number/,
    );
    expect(() => decoderWeightShapes({ ...rope, positions: 'alibi' as 'rope' })).toThrow(
      /positions must be 'learned' or 'rope', got "alibi"/,
    );
  });

  it('its forward pass matches the TypeScript reference', async () => {
    const decoder = await open();
    const ids = [3, 77, 258, 12, 200, 5, 9, 31, 64];
    const out = await decoder.forward({
      batch: 1,
      inputIds: ids,
      attentionMask: ids.map(() => 1),
      positionIds: ids.map((_, i) => i),
    });
    const ref = referenceForward(rope, ropeWeights, { inputIds: [ids] });
    expect(maxAbsDiff(out.logits, flat(ref))).toBeLessThan(TOLERANCE);
    // RoPE really acts: every position at 0 (no rotation at all) gives other logits.
    const unrotated = referenceForward(rope, ropeWeights, {
      inputIds: [ids],
      positionIds: [ids.map(() => 0)],
    });
    expect(maxAbsDiff(out.logits, flat(unrotated))).toBeGreaterThan(1e-2);
    await decoder.release();
  });

  it('masks left padding: every real position of a padded batch matches the reference, and a padded row its row alone', async () => {
    const decoder = await open();
    const short = [40, 41, 42];
    const long = [1, 2, 3, 4, 5, 6];
    const pad = long.length - short.length;
    const ids = [[...new Array(pad).fill(256), ...short], long];
    const mask = [[...new Array(pad).fill(0), ...short.map(() => 1)], long.map(() => 1)];
    const positionIds = mask.map(positionsOf);
    const out = await decoder.forward({
      batch: 2,
      inputIds: ids.flat(),
      attentionMask: mask.flat(),
      positionIds: positionIds.flat(),
    });
    const ref = referenceForward(rope, ropeWeights, { inputIds: ids, attentionMask: mask, positionIds });
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < long.length; t++) {
        if (mask[b]![t] === 0) continue;
        const at = (b * long.length + t) * v;
        expect(maxAbsDiff(out.logits.subarray(at, at + v), ref[b]![t]!)).toBeLessThan(TOLERANCE);
      }
    const alone = referenceForward(rope, ropeWeights, { inputIds: [short] })[0]!;
    const lastShort = out.logits.subarray((long.length - 1) * v, long.length * v);
    expect(maxAbsDiff(lastShort, alone[short.length - 1]!)).toBeLessThan(TOLERANCE);
    await decoder.release();
  });

  it('incremental decoding over a left-padded batch with the KV cache equals a full recompute, step by step', async () => {
    const decoder = await open();
    const rows = [
      [10, 20, 30, 40, 50, 60, 70, 80, 90],
      [7, 8, 9, 11, 13, 15, 17],
    ];
    const prompt = [5, 2]; // real prompt tokens per row; row 1 is left-padded by 3
    const width = Math.max(...prompt);
    const pads = prompt.map((n) => width - n);
    const mask = prompt.map((n, b) => [...new Array(pads[b]).fill(0), ...new Array(n).fill(1)]);
    const ids = rows.map((r, b) => [...new Array(pads[b]).fill(256), ...r.slice(0, prompt[b])]);
    let out = await decoder.forward({
      batch: 2,
      inputIds: ids.flat(),
      attentionMask: mask.flat(),
      positionIds: mask.flatMap(positionsOf),
    });
    for (let step = 0; step < 4; step++) {
      const next = rows.map((r, b) => r[prompt[b]! + step]!);
      for (const [b, row] of ids.entries()) row.push(next[b]!);
      for (const m of mask) m.push(1);
      const positionIds = mask.map(positionsOf);
      out = await decoder.forward({
        batch: 2,
        inputIds: next,
        attentionMask: mask.flat(),
        positionIds: positionIds.map((p) => p.at(-1)!),
        past: out.keyValues,
      });
      const full = await decoder.forward({
        batch: 2,
        inputIds: ids.flat(),
        attentionMask: mask.flat(),
        positionIds: positionIds.flat(),
      });
      const ref = referenceForward(rope, ropeWeights, { inputIds: ids, attentionMask: mask, positionIds });
      const seq = ids[0]!.length;
      for (let b = 0; b < 2; b++) {
        const cached = out.logits.subarray(b * v, (b + 1) * v);
        const recomputed = full.logits.subarray((b * seq + seq - 1) * v, (b * seq + seq) * v);
        expect(maxAbsDiff(cached, recomputed)).toBeLessThan(TOLERANCE);
        expect(maxAbsDiff(cached, ref[b]!.at(-1)!)).toBeLessThan(TOLERANCE);
      }
    }
    await decoder.release();
  });

  it('depends on relative positions only: shifting every position id by a constant leaves the logits unchanged', async () => {
    const decoder = await open();
    const ids = [3, 77, 258, 12, 200, 5];
    const run = (offset: number) =>
      decoder.forward({
        batch: 1,
        inputIds: ids,
        attentionMask: ids.map(() => 1),
        positionIds: ids.map((_, i) => i + offset),
      });
    const base = await run(0);
    for (const offset of [1, 17, 80])
      expect(maxAbsDiff((await run(offset)).logits, base.logits)).toBeLessThan(TOLERANCE);
    await decoder.release();
  });

  it('stores cos/sin as rope.cos / rope.sin tables that readDecoderWeights does not take for weights', () => {
    const bytes = buildDecoderOnnx(rope, ropeWeights);
    const initializers = decodeOnnxInitializers(bytes);
    expect(initializers.get('rope.cos')?.dims).toEqual([rope.maxPositions, 4]);
    expect(initializers.get('rope.sin')?.dims).toEqual([rope.maxPositions, 4]);
    expect(initializers.has('embed.positions')).toBe(false);
    const back = readDecoderWeights(bytes, rope);
    expect(Object.keys(back).sort()).toEqual(Object.keys(ropeWeights).sort());
    for (const [name, w] of Object.entries(ropeWeights)) expect(back[name]).toEqual(w);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { useBackend } from './backend.ts';
import { causalSoftmax } from './causal-softmax-kernel.ts';
import { gatherRows } from './gather-rows-kernel.ts';
import { gelu } from './gelu-kernel.ts';
import { layerNorm } from './layer-norm-kernel.ts';
import { rope } from './rope-kernel.ts';

/** Values and gradients (against a fixed random upstream gradient) of `f` on one backend. */
async function valueAndGrads(
  backend: 'wasm' | 'cpu',
  inputs: Array<{ values: number[]; shape: number[] }>,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<{ value: Float32Array; grads: Float32Array[] }> {
  await useBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.values, i.shape));
    const value = f(...xs);
    const rng = new Rng(7);
    const upstream = tf.tensor(
      Array.from({ length: value.size }, () => rng.next() * 2 - 1),
      value.shape,
    );
    const grads = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), upstream)))(xs);
    return {
      value: value.dataSync() as Float32Array,
      grads: grads.map((g) => g.dataSync() as Float32Array),
    };
  });
}

const random = (n: number, scale: number, seed: number) => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
};

/** Largest difference relative to the largest magnitude of `expected`. */
const relativeError = (actual: Float32Array, expected: Float32Array) => {
  const scale = Math.max(1e-6, ...Array.from(expected, Math.abs));
  return Math.max(...Array.from(actual, (x, i) => Math.abs(x - expected[i]!))) / scale;
};

async function expectSameOnBothBackends(
  inputs: Array<{ values: number[]; shape: number[] }>,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
) {
  const cpu = await valueAndGrads('cpu', inputs, f);
  const wasm = await valueAndGrads('wasm', inputs, f);
  expect(relativeError(wasm.value, cpu.value)).toBeLessThan(1e-5);
  for (const [i, g] of cpu.grads.entries())
    expect(relativeError(wasm.grads[i]!, g), `gradient ${i}`).toBeLessThan(1e-5);
}

describe('the learner’s kernels on the wasm heap equal tfjs’ ops on the cpu backend, value and gradient', () => {
  it('GELU, over a length that is not a multiple of the SIMD width, far into tanh’s flat tails', async () => {
    const values = [...random(4 * 37 + 3, 4, 1), -30, -8, -7.9, 7.9, 8, 30, 0, 1e-6];
    await expectSameOnBothBackends([{ values, shape: [values.length] }], (x) => gelu(x!));
  });

  it.each([
    [13, 12],
    [5, 10],
  ])(
    'layer norm over %i rows of %i (SIMD when a multiple of 4), weight and bias gradients summed over the rows',
    async (rows, d) => {
      await expectSameOnBothBackends(
        [
          { values: random(rows * d, 3, 2).map((x, i) => x + (i % d)), shape: [rows, d] },
          { values: random(d, 1, 3), shape: [d] },
          { values: random(d, 1, 4), shape: [d] },
        ],
        (x, w, b) => layerNorm(x as tf.Tensor2D, w!, b!, 1e-5),
      );
    },
  );

  it('causal softmax: each query over its keys 0..t, exactly zero after t, and no gradient there', async () => {
    const [heads, t] = [3, 7];
    const values = random(heads * t * t, 6, 5);
    await expectSameOnBothBackends([{ values, shape: [heads, t, t] }], (s) => causalSoftmax(s!));
    await useBackend('wasm');
    const p = tf.tidy(() => causalSoftmax(tf.tensor(values, [heads, t, t])).arraySync() as number[][][]);
    for (const head of p)
      head.forEach((row, query) => {
        expect(row.slice(query + 1).every((x) => x === 0)).toBe(true);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      });
  });
});

describe('rows of a table by index on the wasm heap', () => {
  it('equal tf.gather’s on the cpu backend, repeated indices included; an index past the table is refused', async () => {
    const table = random(7 * 5, 1, 6);
    const ids = [3, 0, 6, 3, 3, 1];
    await useBackend('cpu');
    const expected = tf.tidy(() =>
      tf.gather(tf.tensor(table, [7, 5]), tf.tensor1d(ids, 'int32')).arraySync(),
    );
    await useBackend('wasm');
    expect(
      tf.tidy(() => gatherRows(tf.tensor(table, [7, 5]), tf.tensor1d(ids, 'int32')).arraySync()),
    ).toEqual(expected);
    expect(() => tf.tidy(() => gatherRows(tf.tensor(table, [7, 5]), tf.tensor1d([2, 7], 'int32')))).toThrow(
      /index 7 outside the table's 7 rows/,
    );
  });
});

describe('RoPE on the wasm heap', () => {
  it('rotates and takes its gradient as the tfjs ops do, bit for bit, reading the tables up to T', async () => {
    await useBackend('wasm');
    const [b, h, t, headDim, positions] = [2, 3, 5, 8, 7];
    const bits = (x: tf.Tensor) => Array.from(new Uint32Array((x.dataSync() as Float32Array).slice().buffer));
    const run = (composed: boolean) =>
      tf.tidy(() => {
        const x = tf.tensor4d(random(b * h * t * headDim, 4, 8), [b, h, t, headDim]);
        const cos = tf.tensor2d(random(positions * headDim, 1, 9), [positions, headDim]);
        const sin = tf.tensor2d(random(positions * headDim, 1, 10), [positions, headDim]);
        const upstream = tf.tensor4d(random(x.size, 2, 11), x.shape);
        const f = (y: tf.Tensor) => rope(y as tf.Tensor4D, cos, sin, composed);
        const grad = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(f(y), upstream)))(x);
        return { value: bits(f(x)), grad: bits(grad) };
      });
    const kernel = run(false);
    expect(kernel).toEqual(run(true));
    // rotate_half moves values between the halves: a rotation by the table's first row alone is not the identity.
    expect(kernel.value).not.toEqual(
      tf.tidy(() => bits(tf.tensor4d(random(b * h * t * headDim, 4, 8), [b, h, t, headDim]))),
    );
  });
});

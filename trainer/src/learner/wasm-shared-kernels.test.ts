import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from './backend.ts';

/** d/dx of (x³ · w) summed, and its own derivative: both go through tensors the tape saved. */
function firstAndSecond(values: number[]): { first: number[]; second: number[] } {
  return tf.tidy(() => {
    const x = tf.tensor1d(values);
    const f = (y: tf.Tensor) => tf.sum(tf.mul(tf.mul(y, tf.mul(y, y)), tf.tensor1d([1, 2, 3])));
    const first = tf.grad(f)(x);
    const second = tf.grad((y: tf.Tensor) => tf.sum(tf.grad(f)(y)))(x);
    return { first: Array.from(first.dataSync()), second: Array.from(second.dataSync()) };
  });
}

describe("the tape's saved tensors on wasm", () => {
  it('share their data without an Identity kernel, and a gradient of a gradient still flows through them', async () => {
    await useBackend('cpu');
    const expected = firstAndSecond([0.5, -1.5, 2]);
    await useBackend('wasm');
    const kernels: string[] = [];
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((y: tf.Tensor) => tf.sum(tf.mul(y, y)))(tf.tensor1d([1, 2]));
      });
    });
    for (const k of profile.kernels) kernels.push(k.name);
    expect(kernels).toContain('Multiply');
    expect(kernels).not.toContain('Identity');
    expect(firstAndSecond([0.5, -1.5, 2])).toEqual(expected);
    expect(expected.second).toEqual([3, -18, 36]); // 6x · w
  });
});

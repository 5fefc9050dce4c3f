import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from './backend.ts';
import { matMul } from './tf-decoder.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('matMul with explicitly transposed gradients', () => {
  it.each([
    ['2-D', [37, 16], [16, 9]],
    ['batched 4-D (attention)', [2, 3, 7, 5], [2, 3, 5, 7]],
  ])('%s: value and both gradients equal tf.matMul’s', (_, aShape, bShape) => {
    const a = tf.randomNormal(aShape, 0, 1, 'float32', 1);
    const b = tf.randomNormal(bShape, 0, 1, 'float32', 2);
    const w = tf.randomNormal([...aShape.slice(0, -1), bShape.at(-1)!], 0, 1, 'float32', 3);
    const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(f(x, y), w));
    const ours = tf.grads(loss(matMul))([a, b]);
    const theirs = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    expect(tf.max(tf.abs(tf.sub(matMul(a, b), tf.matMul(a, b)))).dataSync()[0]).toBeLessThan(1e-5);
    for (const i of [0, 1]) {
      expect(ours[i]!.shape).toEqual(theirs[i]!.shape);
      expect(tf.max(tf.abs(tf.sub(ours[i]!, theirs[i]!))).dataSync()[0]).toBeLessThan(1e-4);
    }
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from './backend.ts';
import { type ProductMode, simdBatchMatMul } from './simd-batch-matmul.ts';

const [batch, t, hd] = [3, 7, 5]; // neither a multiple of the kernel's four lanes
const lower = (i: number, j: number) => j <= i;
const upper = (i: number, j: number) => j >= i;
/** A [batch, rows, cols] tensor of values, 0 wherever `keep(row, col)` is false. */
const filled = (
  rows: number,
  cols: number,
  seed: number,
  keep: (i: number, j: number) => boolean = () => true,
) =>
  tf.tidy(() => {
    const mask = Array.from({ length: batch * rows * cols }, (_, x) => {
      const [i, j] = [Math.floor(x / cols) % rows, x % cols];
      return keep(i, j) ? 1 : 0;
    });
    return tf.mul(
      tf.randomNormal([batch, rows, cols], 0, 1, 'float32', seed),
      tf.tensor(mask, [batch, rows, cols]),
    );
  });

describe('the SIMD batched product skips what a causal mode says is zero, and gives the full product', () => {
  it.each<[ProductMode, () => [tf.Tensor, tf.Tensor]]>([
    ['full', () => [filled(t, hd, 1), filled(hd, t, 2)]],
    ['aLower', () => [filled(t, t, 3, lower), filled(t, hd, 4)]], // p · v, ds · k
    ['aUpper', () => [filled(t, t, 5, upper), filled(t, hd, 6)]], // pᵀ · dy
    ['bLower', () => [filled(hd, t, 7), filled(t, t, 8, lower)]], // qᵀ · ds
    ['outLower', () => [filled(t, hd, 9), filled(hd, t, 10)]], // q · kᵀ, dy · vᵀ
  ])('%s', async (mode, operands) => {
    await useBackend('wasm');
    const [a, b] = operands();
    const ours = simdBatchMatMul(a, b, mode).arraySync() as number[][][];
    const full = tf.matMul(a, b).arraySync() as number[][][];
    for (const [k, rows] of ours.entries())
      for (const [i, row] of rows.entries())
        for (const [j, x] of row.entries()) {
          if (mode === 'outLower' && j > i) expect(x).toBe(0);
          else expect(x).toBeCloseTo(full[k]![i]![j]!, 5);
        }
  });
});

import { describe, expect, it } from 'vitest';
import { WarmPool } from './warm-pool.ts';

function counterPool(size: number, options: { failFirst?: number } = {}) {
  let made = 0;
  let failures = options.failFirst ?? 0;
  const destroyed: number[] = [];
  const dead = new Set<number>();
  const errors: unknown[] = [];
  const pool = new WarmPool<number>({
    size,
    create: async () => {
      if (failures > 0) {
        failures--;
        throw new Error('create failed');
      }
      return ++made;
    },
    destroy: async (item) => {
      destroyed.push(item);
    },
    isAlive: (item) => !dead.has(item),
    concurrency: 2,
    onError: (error) => errors.push(error),
  });
  return { pool, destroyed, dead, errors, made: () => made };
}

describe('WarmPool', () => {
  it('fills to its size, hands each item out once, and refills behind', async () => {
    const { pool, made } = counterPool(3);
    await pool.fill();
    expect(pool.idleCount).toBe(3);
    const taken = [pool.take(), pool.take()];
    expect(new Set(taken).size).toBe(2);
    await pool.fill();
    expect(pool.idleCount).toBe(3);
    expect(made()).toBe(5);
    await pool.close();
  });

  it('returns undefined when empty (the caller starts one cold) and skips dead items', async () => {
    const { pool, dead, destroyed } = counterPool(2);
    expect(pool.take()).toBeUndefined();
    await pool.fill();
    dead.add(1);
    expect(pool.take()).toBe(2);
    expect(destroyed).toContain(1);
    await pool.close();
  });

  it('reports creation failures and recovers', async () => {
    const { pool, errors } = counterPool(1, { failFirst: 1 });
    await pool.fill();
    expect(errors).toHaveLength(1);
    await pool.fill();
    expect(pool.idleCount).toBe(1);
    await pool.close();
  });

  it('destroys idle items on close and makes no more', async () => {
    const { pool, destroyed, made } = counterPool(2);
    await pool.fill();
    await pool.close();
    expect(destroyed.sort()).toEqual([1, 2]);
    expect(pool.take()).toBeUndefined();
    await pool.fill();
    expect(made()).toBe(2);
  });
});

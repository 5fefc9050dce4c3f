import { describe, expect, it } from 'vitest';
import { AcquireAborted, WarmPool, type WarmPoolOptions } from './warm-pool.ts';

/** A pool of numbered items whose creation takes `createMs` and can be made to fail. */
function counterPool(
  options: Partial<WarmPoolOptions<number>> & { createMs?: number; failFirst?: number } = {},
) {
  let made = 0;
  let failures = options.failFirst ?? 0;
  const destroyed: number[] = [];
  const dead = new Set<number>();
  const errors: unknown[] = [];
  const pool = new WarmPool<number>({
    create: async () => {
      await new Promise((resolve) => setTimeout(resolve, options.createMs ?? 1));
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
    minIdle: 2,
    maxIdle: 100,
    maxItems: 100,
    concurrency: 4,
    queueTimeoutMs: 5_000,
    shrinkAfterMs: 60_000,
    onError: (error) => errors.push(error),
    ...options,
  });
  return { pool, destroyed, dead, errors, made: () => made };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Takes `n` items at once and gives them back (as a backend does after its runs). */
async function burst(pool: WarmPool<number>, n: number): Promise<number[]> {
  const acquired = await Promise.all(Array.from({ length: n }, () => pool.acquire()));
  for (const _ of acquired) pool.release();
  return acquired.map((a) => a.item);
}

describe('WarmPool', () => {
  it('fills to its idle target, hands each item out once and warm, and refills behind', async () => {
    const { pool, made } = counterPool({ minIdle: 3 });
    await pool.fill();
    expect(pool.idleCount).toBe(3);
    const first = await pool.acquire();
    const second = await pool.acquire();
    expect(first.warm && second.warm).toBe(true);
    expect(first.item).not.toBe(second.item);
    pool.release();
    pool.release();
    await pool.fill();
    expect(pool.idleCount).toBe(3);
    expect(made()).toBe(5);
    await pool.close();
  });

  it('grows its idle target to the largest queue seen, so the next burst finds its items ready', async () => {
    const { pool } = counterPool({ minIdle: 2 });
    await pool.fill();
    expect(pool.target).toBe(2);
    const items = await burst(pool, 20);
    expect(new Set(items).size).toBe(20);
    // 18 callers had to queue: the pool now keeps that many ready.
    expect(pool.target).toBe(18);
    await pool.fill();
    expect(pool.idleCount).toBe(18);
    const warm = await Promise.all(Array.from({ length: 18 }, () => pool.acquire()));
    expect(warm.every((a) => a.warm)).toBe(true);
    await pool.close();
  });

  it('halves its idle target after each quiet period, down to its minimum, destroying the surplus', async () => {
    const { pool, destroyed } = counterPool({ minIdle: 2, shrinkAfterMs: 150 });
    await burst(pool, 12);
    expect(pool.target).toBe(12);
    await pool.fill();
    expect(pool.idleCount).toBe(12);
    const before = destroyed.length;
    await until(() => pool.target < 12);
    expect(pool.target).toBe(6);
    expect(pool.idleCount).toBe(6);
    expect(destroyed.length - before).toBe(6);
    await until(() => pool.target === 2);
    expect(pool.idleCount).toBe(2);
    await pool.close();
  });

  it('keeps no idle items at maxIdle 0: every caller waits for a fresh one', async () => {
    const { pool, made } = counterPool({ minIdle: 0, maxIdle: 0 });
    await burst(pool, 5);
    expect(pool.target).toBe(0);
    await pool.fill();
    expect(pool.idleCount).toBe(0);
    const { warm } = await pool.acquire();
    expect(warm).toBe(false);
    expect(made()).toBe(6);
    await pool.close();
  });

  it('never has more than maxItems alive: callers beyond wait for a release', async () => {
    const { pool, made } = counterPool({ minIdle: 0, maxItems: 3 });
    const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    let fourth = false;
    const waiting = pool.acquire().then((a) => {
      fourth = true;
      return a;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fourth).toBe(false);
    expect(made()).toBe(3);
    pool.release();
    const got = await waiting;
    expect(got.warm).toBe(false);
    expect(held.map((a) => a.item)).not.toContain(got.item);
    expect(pool.peakItems).toBe(3);
    await pool.close();
  });

  it('gives a caller that waits past queueTimeoutMs a sandbox_busy error saying what to change', async () => {
    const { pool } = counterPool({ minIdle: 0, maxItems: 1, queueTimeoutMs: 50 });
    await pool.acquire();
    const started = performance.now();
    await expect(pool.acquire()).rejects.toMatchObject({
      code: 'sandbox_busy',
      message: expect.stringContaining('1 running'),
      hint: expect.stringContaining('maxSandboxes'),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
    // The timed-out caller left the queue: a release now leaves the item for the next caller.
    pool.release();
    expect((await pool.acquire()).item).toBeGreaterThan(0);
    await pool.close();
  });

  it('stops waiting when the caller aborts, and close() rejects every waiter', async () => {
    const { pool } = counterPool({ minIdle: 0, maxItems: 1 });
    await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    const closing = pool.acquire();
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AcquireAborted);
    await pool.close();
    await expect(closing).rejects.toMatchObject({ code: 'closed' });
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'closed' });
  });

  it('hands a creation failure to the caller waiting for it, and recovers', async () => {
    const { pool } = counterPool({ minIdle: 0, failFirst: 1 });
    await expect(pool.acquire()).rejects.toThrow('create failed');
    expect((await pool.acquire()).item).toBe(1);
    await pool.close();
  });

  it('backs off refilling while creation fails, reporting the failures', async () => {
    const { pool, errors, made } = counterPool({ minIdle: 1, failFirst: 3 });
    const started = performance.now();
    await pool.fill();
    await until(() => pool.idleCount === 1); // retries after 100, 200, 400 ms
    expect(errors).toHaveLength(3);
    expect(made()).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
    await pool.close();
  });

  it('skips dead idle items and destroys them', async () => {
    const { pool, dead, destroyed } = counterPool({ minIdle: 2 });
    await pool.fill();
    dead.add(1);
    expect((await pool.acquire()).item).toBe(2);
    expect(destroyed).toContain(1);
    await pool.close();
  });

  it('takes a recycled item back as ready once it is readied again, or counts it out', async () => {
    const { pool, made } = counterPool({ minIdle: 0, maxItems: 1 });
    const { item } = await pool.acquire();
    pool.recycle(item, Promise.resolve(true));
    const again = await pool.acquire();
    expect(again.item).toBe(item);
    pool.recycle(item, Promise.resolve(false));
    expect((await pool.acquire()).item).toBe(2);
    expect(made()).toBe(2);
    await pool.close();
  });

  it('destroys idle items on close and makes no more', async () => {
    const { pool, destroyed, made } = counterPool({ minIdle: 2 });
    await pool.fill();
    await pool.close();
    expect(destroyed.sort()).toEqual([1, 2]);
    await pool.fill();
    expect(made()).toBe(2);
  });
});

import { SandboxError } from './errors.ts';

export interface WarmPoolOptions<T> {
  /** Resolves once the item is ready for a job. */
  create: () => Promise<T>;
  destroy: (item: T) => Promise<void>;
  isAlive: (item: T) => boolean;
  /** Idle items kept ready with no load; the pool never shrinks below this. */
  minIdle: number;
  /** The most idle items the pool grows to keep (0: none, every caller waits for a fresh item). */
  maxIdle: number;
  /** Items alive at once (idle, starting and in use): the bound memory and pids set. */
  maxItems: number;
  /** Creations in flight at once. */
  concurrency: number;
  /** How long a caller waits for an item before `sandbox_busy`. */
  queueTimeoutMs: number;
  /** After this long with no caller waiting, the idle target halves (down to `minIdle`). */
  shrinkAfterMs: number;
  /** Called with creation failures that no waiting caller received. */
  onError: (error: unknown) => void;
}

/** Why `acquire` gave up: the caller's signal aborted while it waited. */
export class AcquireAborted extends Error {}

/** An item handed to a caller; `warm` when it was ready before the caller asked. */
export interface Acquired<T> {
  item: T;
  warm: boolean;
}

interface Waiter<T> {
  resolve: (acquired: Acquired<T>) => void;
  reject: (error: unknown) => void;
  cleanup: () => void;
}

/**
 * Pre-started items sized to the offered load. A caller takes one ready item (`acquire`); when
 * none is ready it queues, the pool starts items for the queue, and the idle target grows to the
 * largest queue seen, so the next burst of that size finds its items ready. With no caller
 * waiting for `shrinkAfterMs`, the idle target halves and surplus idle items go. Items alive at
 * once never exceed `maxItems`; a caller that waits longer than `queueTimeoutMs` gets
 * `sandbox_busy`. Each item serves one caller, then is either destroyed by that caller or
 * handed back (`recycle`) to be readied again.
 */
export class WarmPool<T> {
  private readonly idle: T[] = [];
  private readonly waiters: Array<Waiter<T>> = [];
  private starting = 0;
  private inUse = 0;
  private idleTarget: number;
  /** When a caller last waited (or stopped waiting): the pool shrinks only after a quiet period. */
  private lastWaitAt = 0;
  /** Consecutive creation failures: refilling the idle target backs off while they last. */
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly shrinkTimer: NodeJS.Timeout;
  /** The most items alive at once since the pool was made (for the bench and capabilities). */
  peakItems = 0;

  constructor(private readonly options: WarmPoolOptions<T>) {
    this.idleTarget = Math.min(options.minIdle, options.maxIdle);
    this.shrinkTimer = setInterval(() => this.shrink(), options.shrinkAfterMs);
    this.shrinkTimer.unref();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** How many idle items the pool currently aims to keep ready. */
  get target(): number {
    return this.idleTarget;
  }

  get maxItems(): number {
    return this.options.maxItems;
  }

  private get alive(): number {
    return this.idle.length + this.starting + this.inUse;
  }

  /** A ready item; waits (bounded by `queueTimeoutMs` and `signal`) when none is. */
  acquire(signal?: AbortSignal): Promise<Acquired<T>> {
    if (this.closed) return Promise.reject(new SandboxError('closed', 'the sandbox pool is closed'));
    if (signal?.aborted) return Promise.reject(new AcquireAborted());
    const ready = this.takeIdle();
    if (ready !== undefined) {
      this.inUse++;
      this.pump();
      return Promise.resolve({ item: ready, warm: true });
    }
    return new Promise<Acquired<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(
          new SandboxError(
            'sandbox_busy',
            `no sandbox became free within ${this.options.queueTimeoutMs} ms (${this.inUse} running, ${this.waiters.length} more waiting, at most ${this.options.maxItems} at once)`,
            'run fewer sandboxes at once, raise maxSandboxes/queueTimeoutMs, or add memory (the bound is memory and pids)',
          ),
        );
      }, this.options.queueTimeoutMs);
      const onAbort = () => {
        remove();
        reject(new AcquireAborted());
      };
      const waiter: Waiter<T> = {
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const remove = () => {
        waiter.cleanup();
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.lastWaitAt = performance.now();
      this.idleTarget = Math.max(this.idleTarget, Math.min(this.waiters.length, this.options.maxIdle));
      this.pump();
    });
  }

  /** The caller is done with an item it will destroy itself: it no longer counts. */
  release(): void {
    this.inUse--;
    this.pump();
  }

  /**
   * The caller hands its item back to be readied again; `readied` resolves true when the item is
   * ready for another caller, false when it was destroyed instead.
   */
  recycle(item: T, readied: Promise<boolean>): void {
    this.inUse--;
    this.starting++;
    readied.then(
      (ok) => this.settleStart(ok ? item : undefined),
      (error: unknown) => {
        this.settleStart(undefined);
        this.options.onError(error);
      },
    );
  }

  /** Resolves when `count` items (default: the idle target) are idle, or creation fails. */
  async fill(count = this.idleTarget): Promise<void> {
    const want = Math.min(count, this.options.maxIdle);
    this.idleTarget = Math.max(this.idleTarget, want);
    while (!this.closed && this.idle.length < want) {
      this.pump();
      if (this.starting === 0) return; // at the bound, or creation failed: do not spin
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.shrinkTimer);
    clearTimeout(this.retryTimer);
    for (const waiter of this.waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(new SandboxError('closed', 'the sandbox pool closed while this run waited for it'));
    }
    await Promise.all(this.idle.splice(0).map((item) => this.destroy(item)));
  }

  private takeIdle(): T | undefined {
    while (this.idle.length > 0) {
      const item = this.idle.shift() as T;
      if (this.options.isAlive(item)) return item;
      void this.destroy(item);
    }
    return undefined;
  }

  /**
   * Starts items for the waiting callers first; only with none waiting, for the idle target
   * (and, after creation failures, only once the back-off has passed).
   */
  private pump(): void {
    while (!this.closed && this.starting < this.options.concurrency && this.alive < this.options.maxItems) {
      const forWaiters = this.waiters.length > 0;
      if (!forWaiters && this.retryTimer) return;
      const wanted = forWaiters ? this.waiters.length : this.idleTarget - this.idle.length;
      if (this.starting >= wanted) return;
      this.starting++;
      this.peakItems = Math.max(this.peakItems, this.alive);
      this.options.create().then(
        (item) => {
          this.failures = 0;
          this.settleStart(item);
        },
        (error: unknown) => {
          this.starting--;
          const waiter = this.waiters.shift();
          if (waiter) {
            waiter.cleanup();
            waiter.reject(error);
          } else if (!this.closed) this.options.onError(error);
          if (this.closed || this.retryTimer) return;
          const delay = Math.min(30_000, 100 * 2 ** this.failures++);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, delay);
          this.retryTimer.unref();
        },
      );
    }
  }

  private settleStart(item: T | undefined): void {
    this.starting--;
    if (item !== undefined) {
      if (this.closed) void this.destroy(item);
      else {
        const waiter = this.waiters.shift();
        if (waiter) {
          waiter.cleanup();
          this.lastWaitAt = performance.now();
          this.inUse++;
          waiter.resolve({ item, warm: false });
        } else if (this.idle.length < this.idleTarget) this.idle.push(item);
        else void this.destroy(item); // beyond the idle target (a recycled item, a waiter gone)
      }
    }
    this.pump();
  }

  private shrink(): void {
    if (this.waiters.length > 0) this.lastWaitAt = performance.now();
    if (performance.now() - this.lastWaitAt < this.options.shrinkAfterMs) return;
    this.idleTarget = Math.max(this.options.minIdle, Math.floor(this.idleTarget / 2));
    while (this.idle.length > this.idleTarget) void this.destroy(this.idle.pop() as T);
  }

  private destroy(item: T): Promise<void> {
    return this.options.destroy(item).catch(this.options.onError);
  }
}

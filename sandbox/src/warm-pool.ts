/**
 * Keeps `size` pre-started sandboxes ready so a run does not pay their creation. Each item is
 * used once: `take` hands it out and the pool starts a replacement in the background, so the
 * isolation of a run never depends on cleaning up after the previous one.
 */
export class WarmPool<T> {
  private readonly idle: T[] = [];
  private starting = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly options: {
      size: number;
      /** Resolves once the item is ready for a job. */
      create: () => Promise<T>;
      destroy: (item: T) => Promise<void>;
      isAlive: (item: T) => boolean;
      /** Creations in flight at once: refilling must not starve the runs it serves. */
      concurrency: number;
      /** Called with creation failures (the pool retries on the next take). */
      onError: (error: unknown) => void;
    },
  ) {}

  get size(): number {
    return this.options.size;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** A ready item, or `undefined` (the caller then starts one itself). Triggers a refill. */
  take(): T | undefined {
    let item: T | undefined;
    while (this.idle.length > 0) {
      const candidate = this.idle.shift() as T;
      if (this.options.isAlive(candidate)) {
        item = candidate;
        break;
      }
      void this.options.destroy(candidate).catch(this.options.onError);
    }
    this.refill();
    return item;
  }

  /** Resolves when the pool is full (or closed). */
  async fill(): Promise<void> {
    this.refill();
    while (!this.closed && this.idle.length < this.options.size) {
      if (this.starting === 0) this.refill();
      if (this.starting === 0) return; // creation keeps failing: do not spin
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private refill(): void {
    while (
      !this.closed &&
      this.idle.length + this.starting < this.options.size &&
      this.starting < this.options.concurrency
    ) {
      this.starting++;
      this.options
        .create()
        .then(
          (item) => {
            if (this.closed) void this.options.destroy(item).catch(this.options.onError);
            else this.idle.push(item);
          },
          (error: unknown) => {
            // A start cut short by close() is expected, not worth a warning.
            if (!this.closed) this.options.onError(error);
          },
        )
        .finally(() => {
          this.starting--;
          for (const wake of this.waiters.splice(0)) wake();
          if (this.idle.length + this.starting < this.options.size && this.starting === 0) {
            // keep filling, but not in a tight loop when creation fails
            setTimeout(() => this.refill(), 50).unref();
          }
        });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(
      this.idle.splice(0).map((item) => this.options.destroy(item).catch(this.options.onError)),
    );
  }
}

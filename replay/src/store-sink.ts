import type { TrajectoryGroup } from '@toolgym/protocol';
import type { TrajectoryStore } from './store.ts';

export interface StoreSinkOptions {
  /** Run id for groups that carry none. */
  runId: string;
  /** Recorded with the run (config, model, environment …); shown by the viewer. */
  runInfo?: Record<string, unknown>;
  /** Close the store when the sink closes (true when the sink opened it). */
  closeStore?: boolean;
}

/**
 * The rollout engine's sink (agents' `RolloutSink`, matched structurally: replay depends on the
 * protocol only). Each group is committed before `onGroup` returns, so the engine's "delivered"
 * means "durable". Closing marks the run finished.
 */
export class StoreSink {
  private closed = false;

  constructor(
    readonly store: TrajectoryStore,
    private readonly options: StoreSinkOptions,
  ) {
    store.startRun(options.runId, options.runInfo ?? {});
  }

  onGroup(group: TrajectoryGroup): void {
    this.store.appendGroup(group, { runId: this.options.runId });
  }

  onStepMetrics(metrics: { runId: string; step: number; metrics: Record<string, number> }): void {
    this.store.appendStepMetrics(metrics.runId, metrics.step, metrics.metrics);
  }

  /** Mark the run failed (the engine or trainer stopped on an error); the sink stays open. */
  fail(reason: string): void {
    this.store.setRunStatus(this.options.runId, 'failed', { failure: reason });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.store.runStatus(this.options.runId) === 'running')
      this.store.setRunStatus(this.options.runId, 'finished');
    if (this.options.closeStore) this.store.close();
  }
}

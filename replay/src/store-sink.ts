import type { EpisodeTurn, TrajectoryGroup } from '@toolgym/protocol';
import type { OpenStoreOptions } from './store.ts';
import { StoreWriter } from './store-writer.ts';

export interface StoreSinkOptions {
  /** Run id for groups and turns that carry none. */
  runId: string;
  /** Recorded with the run (config, model, environment …); shown by the viewer. */
  runInfo?: Record<string, unknown>;
}

/**
 * The rollout engine's sink (agents' `RolloutSink`, matched structurally: replay depends on the
 * protocol only). Writes go to a `StoreWriter` thread, so the trainer's thread never waits for
 * SQLite. `onGroup` resolves once the group is committed, so the engine's "delivered" means
 * "durable"; turns of running episodes are committed as they come. Closing marks the run finished
 * and any episode of it still running unfinished.
 */
export class StoreSink {
  private closed = false;
  private readonly started: Promise<void>;
  /** Every run this sink streamed turns of (the trainer's evaluation runs among them). */
  private readonly turnRuns = new Set<string>();

  constructor(
    readonly writer: StoreWriter,
    private readonly options: StoreSinkOptions & {
      /** Stop the writer when the sink closes (true when the sink started it). */
      closeWriter?: boolean;
    },
  ) {
    this.started = writer.startRun(options.runId, options.runInfo ?? {});
  }

  /** A sink with a writer of its own on the store at `file`. */
  static async open(
    file: string,
    options: StoreSinkOptions & Pick<OpenStoreOptions, 'durability'>,
  ): Promise<StoreSink> {
    const writer = await StoreWriter.open(file, options.durability ? { durability: options.durability } : {});
    return StoreSink.through(writer, { ...options, closeWriter: true });
  }

  /**
   * A sink writing through `writer`, once its run is recorded. A writer shared with a replay
   * server (`serveReplay({ writer })`) has the server push each commit to its clients at once.
   */
  static async through(
    writer: StoreWriter,
    options: StoreSinkOptions & { closeWriter?: boolean },
  ): Promise<StoreSink> {
    const sink = new StoreSink(writer, options);
    await sink.started;
    return sink;
  }

  async onGroup(group: TrajectoryGroup): Promise<void> {
    await this.writer.appendGroup(group, { runId: this.options.runId });
  }

  async onTurn(turn: EpisodeTurn): Promise<void> {
    this.turnRuns.add(turn.runId ?? this.options.runId);
    await this.writer.appendTurn(turn, { runId: this.options.runId });
  }

  async onStepMetrics(metrics: {
    runId: string;
    step: number;
    metrics: Record<string, number>;
  }): Promise<void> {
    await this.writer.appendStepMetrics(metrics.runId, metrics.step, metrics.metrics);
  }

  /** Mark the run failed (the engine or trainer stopped on an error); the sink stays open. */
  async fail(reason: string): Promise<void> {
    await this.writer.setRunStatus(this.options.runId, 'failed', { failure: reason });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.started;
    for (const runId of this.turnRuns)
      await this.writer.markUnfinished({ runId, reason: 'the run ended before the episode finished' });
    await this.writer.setRunStatus(this.options.runId, 'finished', {}, { onlyIfRunning: true });
    if (this.options.closeWriter) await this.writer.close();
  }
}

import type { EpisodeTurn, TrajectoryGroup } from '@toolgym/protocol';

/**
 * Receives each finished TrajectoryGroup as soon as it is complete. The trainer, the replay store
 * and the JSONL writer plug in here. A sink that throws fails the rollout (it is the caller's data).
 */
export interface RolloutSink {
  onGroup(group: TrajectoryGroup): void | Promise<void>;
  /**
   * Each turn of a running episode as it happens, before its group is complete. Not awaited by the
   * episode; a rejection fails the rollout as `onGroup`'s does. A turn is always handed over before
   * the group holding its episode.
   */
  onTurn?(turn: EpisodeTurn): void | Promise<void>;
  /** Step-level metrics (the trainer's), forwarded to the replay feed. */
  onStepMetrics?(metrics: {
    runId: string;
    step: number;
    metrics: Record<string, number>;
  }): void | Promise<void>;
  close?(): Promise<void>;
}

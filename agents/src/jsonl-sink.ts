import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { type TrajectoryGroup, trajectoryJson } from '@toolgym/protocol';
import type { RolloutSink } from './rollout-sink.ts';

/** Writes every trajectory of every group as one JSON line (the `toolgym eval --out` format). */
export class JsonlTrajectorySink implements RolloutSink {
  private readonly stream: WriteStream;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.stream = createWriteStream(file, { flags: 'w' });
  }

  async onGroup(group: TrajectoryGroup): Promise<void> {
    const text = group.trajectories.map((t) => `${JSON.stringify(trajectoryJson(t))}\n`).join('');
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}

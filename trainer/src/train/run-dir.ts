/**
 * A run's directory, `<run.outDir>/<run.name>-seed<seed>`: `config.json`, `metrics.jsonl`,
 * `checkpoints/`, and the model directories the phases keep. A resumed run finds its checkpoint
 * here and cuts the metrics back to it.
 */
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type LoadedCheckpoint, readLatestCheckpoint } from '../checkpoint/checkpoint.ts';
import { type TrainConfig, TrainConfigError } from './config.ts';
import type { TrainCheckpointState } from './train-checkpoint.ts';

export interface RunDir {
  /** `<name>-seed<seed>`. */
  name: string;
  path: string;
  metricsFile: string;
  checkpoints: string;
  /** The checkpoint a resumed run continues from (none: a fresh start). */
  resumed?: LoadedCheckpoint<TrainCheckpointState>;
}

/**
 * Makes the run's directory and starts its metrics afresh, or, with `resume`, reads the newest
 * intact checkpoint (trained with this same config) and cuts the metrics back to it.
 */
export async function openRunDir(
  config: TrainConfig,
  resume: boolean,
  log: (line: string) => void,
): Promise<RunDir> {
  const name = `${config.run.name}-seed${config.run.seed}`;
  const dir = path.resolve(config.run.outDir, name);
  await mkdir(dir, { recursive: true });
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const checkpoints = path.join(dir, 'checkpoints');
  const resumed = resume ? await readLatestCheckpoint<TrainCheckpointState>(checkpoints) : undefined;
  for (const bad of resumed?.skipped ?? []) log(`resume: skipped a damaged checkpoint: ${bad.reason}`);
  if (resume && !resumed) log(`resume: no checkpoint in ${checkpoints}, starting from the beginning`);
  if (resumed && JSON.stringify(resumed.state.config) !== JSON.stringify(config)) {
    throw new TrainConfigError(
      `--resume: the config differs from the one the checkpoint ${resumed.dir} was trained with; resume with the same config (saved in ${path.join(dir, 'config.json')})`,
    );
  }
  if (resumed) {
    await truncate(metricsFile, resumed.state.metricsBytes);
    log(`resume: continuing after RL step ${resumed.state.rlStep} from ${resumed.dir}`);
  } else await writeFile(metricsFile, '');
  await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return { name, path: dir, metricsFile, checkpoints, ...(resumed ? { resumed } : {}) };
}

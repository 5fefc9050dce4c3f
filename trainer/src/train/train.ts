/**
 * `toolgym train`: optional pretraining and a supervised warm-up on oracle demonstrations, then RL
 * on groups of episodes the onnx policy plays through the rollout engine (exact tokens), the new
 * weights published to the policy after every optimiser step, evaluations on held-out tasks, and
 * checkpoints a killed run resumes from. Each phase is a file: `supervised.ts`, `rl.ts` (its step:
 * `rl-step.ts`), `evaluation.ts`; the run's plumbing is `run.ts`, `run-dir.ts`, `metrics.ts` and
 * `train-checkpoint.ts`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEvaluator, describeEval } from './evaluation.ts';
import { metricsDigest } from './metrics.ts';
import { rlDraws, trainRl } from './rl.ts';
import { openRun, type TrainOptions } from './run.ts';
import { supervisedPhases } from './supervised.ts';
import { restoreRun, writeTrainCheckpoint } from './train-checkpoint.ts';
import type { TrainResult } from './train-result.ts';

export async function train(options: TrainOptions): Promise<TrainResult> {
  await rlDraws(options); // RL's tasks are checked before anything is written or trained
  const run = await openRun(options);
  const { result } = run;
  const { resumed } = run.dir;
  try {
    const evaluate = await createEvaluator(run);
    const demos = await supervisedPhases(run, resumed !== undefined);
    if (resumed) await restoreRun(run, resumed);
    else {
      const before = await evaluate(0);
      result.evals.push(before);
      result.before = before.accuracy;
      run.log(`eval before RL: ${describeEval(before)}`);
      await writeTrainCheckpoint(run, 0, { outOfTime: false, inFlight: undefined, rlTrainingMs: 0 });
    }
    await trainRl(run, evaluate, demos, resumed);
    // The last evaluation, unless RL's last step had one.
    if (result.evals.at(-1)?.step !== result.rlSteps) result.evals.push(await evaluate(result.rlSteps));
    result.after = result.evals.at(-1)!.accuracy;
    result.policyVersion = run.policy.version;
    result.metricsDigest = await metricsDigest(run.metrics.file);
    await run.saveModel('final-model');
    await writeFile(path.join(run.dir.path, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await run.close();
  }
}

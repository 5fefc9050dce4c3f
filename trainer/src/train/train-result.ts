/** What a training run reports (`<run>/result.json`, and what `train` returns). */
import type { Split } from '@toolgym/protocol';
import type { TrainConfig } from './config.ts';

/** One split's evaluation: greedy episodes on its tasks. */
export interface SplitEval {
  /** The share of episodes that passed. */
  accuracy: number;
  episodes: number;
  /** Mean of each reward component over the episodes (e.g. compose's `composed`: right by composing, not by luck). */
  components: Record<string, number>;
  /**
   * For the `test` split of an environment that declares `heldOut`: each held-out unit (one no train
   * task has), with the accuracy over the episodes whose task has it.
   */
  units?: Record<string, { accuracy: number; episodes: number }>;
  /**
   * With `eval.by`: each combination of the task meta values it names (`kuhn-poker/random`), with
   * the accuracy, mean reward and reward components over the episodes of its tasks.
   */
  by?: Record<string, GroupEval>;
}

/** An evaluation's episodes of one group of tasks. */
export interface GroupEval {
  accuracy: number;
  episodes: number;
  /** Mean total reward. */
  reward: number;
  components: Record<string, number>;
}

export interface EvalPoint {
  /** RL steps done when evaluated. */
  step: number;
  /** The accuracy on `eval.tasks`, whose split is the first of `splits`. */
  accuracy: number;
  /** `eval.tasks`' split, then each split of `eval.alsoOn` the environment has tasks in. */
  splits: Partial<Record<Split, SplitEval>>;
  /** With `eval.validationTasks`: the training tasks held out to choose the best checkpoint. */
  validation?: SplitEval;
  seconds: number;
}

/** The evaluation the validation tasks chose (`eval.validationTasks`), kept as `<run>/best-model`. */
export interface BestEval {
  step: number;
  /** Accuracy on the validation tasks, which chose it (the first evaluation with the highest). */
  validation: number;
  /** Accuracy on `eval.tasks` at that step, which had no say in choosing it. */
  accuracy: number;
}

export interface PhaseResult {
  steps: number;
  finalLoss: number;
  seconds: number;
  /** With `until`: the share of the check's tasks the policy solved at the last check. */
  passRate?: number;
}

export interface TrainResult {
  runId: string;
  outDir: string;
  seed: number;
  /** How to run it again: the command that started it (when known) and the commit of the code. */
  provenance?: Provenance;
  pretrain?: PhaseResult;
  warmup?: PhaseResult;
  /**
   * Each supervised phase's demonstrations (the oracle's passing episodes; the warm-up's also feed
   * `rl.demos`): how many were kept, how many were left out as longer than the context, and (the
   * warm-up's) how many of those kept write a turn longer than `rl.sampling.maxTokens` and
   * `eval.sampling.maxTokens`.
   */
  demonstrations?: Partial<
    Record<
      'pretrain' | 'warmup',
      { kept: number; overContext: number; longTurns?: { rl: number; eval: number } }
    >
  >;
  evals: EvalPoint[];
  /** Accuracy on `eval.tasks` before RL, and after it. */
  before: number;
  after: number;
  rlSteps: number;
  /**
   * Why RL ended: `steps` (all of `rl.steps`), `time-budget` (the safety stop `rl.timeBudgetMinutes`:
   * the run is a prefix of the one its config describes) or `signal` (interrupted).
   */
  stoppedBy: 'steps' | 'time-budget' | 'signal';
  /** With `eval.validationTasks`: the checkpoint the validation tasks chose. */
  best?: BestEval;
  /** With `rl.tasks.select`: the tasks RL trained on, by their accuracy's variance over the warm-up. */
  selection?: TaskSelection;
  rlSeconds: number;
  policyVersion: number;
  /**
   * SHA-256 of metrics.jsonl without what varies run to run by nature (`deterministicMetricLines`):
   * two runs of one config and seed on one machine type have the same digest.
   */
  metricsDigest: string;
  /** The config as run, defaults filled in. */
  config: TrainConfig;
}

/** What `rl.tasks.select` chose, and from what. */
export interface TaskSelection {
  /** RL steps the selection warm-up took (its metrics are phase `selection`). */
  steps: number;
  /** The chosen tasks, highest variance first. */
  tasks: Array<{ taskId: string; variance: number; visits: number }>;
}

/** Where a run came from. */
export interface Provenance {
  /** E.g. `toolgym train configs/compose-main.yaml --seed 0`. */
  command: string;
  /** `git rev-parse HEAD` of the code that ran, with ` (modified)` when the work tree had changes. */
  commit?: string;
}

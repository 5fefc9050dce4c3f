/** What a training run reports (`<run>/result.json`, and what `train` returns). */
import type { Split } from '@toolgym/protocol';

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
  seconds: number;
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
  pretrain?: PhaseResult;
  warmup?: PhaseResult;
  evals: EvalPoint[];
  /** Accuracy on `eval.tasks` before RL, and after it. */
  before: number;
  after: number;
  rlSteps: number;
  rlSeconds: number;
  policyVersion: number;
}

/** What the grader and the oracle read of a task (`task.answer`); the agent never sees it. */
export type CodeTaskAnswer =
  | {
      kind: 'function';
      entryPoint: string;
      /** A correct solution.py. */
      reference: string;
      /**
       * The tests run at grading (asserts, or blocks such as HumanEval's `check`). Tests also shown in
       * the prompt count towards `all_pass` only, so memorising the prompt earns no `pass_fraction`.
       */
      hiddenTests: string[];
      /** Run in the solution's process after solution.py (MBPP `test_setup_code`). */
      setup?: string;
      /** Imports the tests use, run in the grader (MBPP `test_imports`). */
      preamble?: string;
      /** The task's own helper code that tests call, run in the grader (HumanEval's prompt). */
      helpers?: string;
      /** Declared float tolerance (relative and absolute); without it floats compare exactly and `1 != 1.0`. */
      floatTolerance?: number;
      /** The share of the unseen tests that the best constant answer passes; `pass_fraction` counts only what is beyond it. */
      chance: number;
    }
  | {
      kind: 'interpreter';
      /** The integer answer, as text. */
      answer: string;
      /** A program printing the answer (the oracle runs it with run_python). */
      program: string;
    };

/** `task.meta` of code tasks (visible to agents through the task listing). */
export interface CodeTaskMeta {
  kind: 'programming' | 'interpreter';
  /** The problem family (a template; a dataset problem is a family of one): the unit the `test` split holds out. */
  family: string;
  source: 'generated' | 'mbpp' | 'humaneval';
  difficulty?: 'easy' | 'medium' | 'hard';
  entryPoint?: string;
  /** Tests `run_tests` runs (also shown in the prompt). */
  publicTests?: string[];
  [key: string]: unknown;
}

export const SOLUTION_FILE = 'solution.py';

/** What the grader and the oracle read of a task (`task.answer`); the agent never sees it. */
export type CodeTaskAnswer =
  | {
      kind: 'function';
      entryPoint: string;
      /** A correct solution.py. */
      reference: string;
      /** Python statements (asserts) run against solution.py at grading. */
      hiddenTests: string[];
      /** Code run after solution.py and before the tests (MBPP `test_setup_code`). */
      setup?: string;
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
  family: 'programming' | 'interpreter';
  source: 'generated' | 'mbpp' | 'humaneval';
  template?: string;
  difficulty?: 'easy' | 'medium' | 'hard';
  entryPoint?: string;
  /** Tests `run_tests` runs (also shown in the prompt). */
  publicTests?: string[];
  [key: string]: unknown;
}

export const SOLUTION_FILE = 'solution.py';

import { cachedPythonJson } from '../cached-python.ts';
import { GRADER_SCRIPT, GRADER_SOURCE } from './python.ts';
import type { TestSuite } from './run-tests.ts';

/** Why one test cannot be graded with the solution kept out of the grader. */
export interface Refusal {
  reason: string;
  /** The line within the test's own code, when the reason is at one. */
  line: number | null;
}

/** What the check says of one test. */
export interface TestCheck {
  refused: Refusal | null;
  /** The literal the test expects, as a key that tells `1`, `1.0` and `True` apart (null when it is not a literal). */
  expects: string | null;
}

/**
 * Rewrites every test the way grading will, without running anything, and says which cannot be
 * split between the solution's process and the grader (`eval`, changing the solution's objects,
 * a test that never calls the solution …) and which literal each expects. One host Python
 * process checks them all.
 */
export function checkSuites(
  suites: Array<Pick<TestSuite, 'entryPoint' | 'tests' | 'preamble' | 'helpers'>>,
): TestCheck[][] {
  if (suites.length === 0) return [];
  return cachedPythonJson<TestCheck[][]>(
    'test-checks',
    GRADER_SOURCE,
    ['-I', '-S', '-B', GRADER_SCRIPT, 'check'],
    JSON.stringify(suites),
  );
}

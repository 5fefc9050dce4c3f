import type { RunResult } from '@toolgym/sandbox';
import type { TestRun } from './grading/run-tests.ts';

/** A sandbox run as the model reads it: exit status, why it was stopped, then its output. No timings (episodes must replay identically). */
export function formatRun(result: RunResult): string {
  const lines = [`exit code: ${result.exitCode ?? 'none'}`];
  if (result.timedOut) lines.push('stopped: the wall-time limit was reached');
  if (result.oomKilled) lines.push('stopped: the memory limit was exceeded');
  if (result.cpuLimitExceeded) lines.push('stopped: the CPU-time limit was exceeded');
  if (result.outputLimitExceeded) lines.push('stopped: the program wrote more output than allowed');
  lines.push(`--- stdout${result.stdoutTruncated ? ' (cut)' : ''} ---`, result.stdout.trimEnd());
  if (result.stderr.trim() !== '')
    lines.push(`--- stderr${result.stderrTruncated ? ' (cut)' : ''} ---`, result.stderr.trimEnd());
  return lines.join('\n');
}

/** Public test results for the model. */
export function formatTestRun(run: TestRun, tests: string[]): string {
  if (run.load === 'missing') return 'No solution.py yet: write it with write_file first.';
  if (run.load === 'error') return `solution.py did not load: ${run.loadError}`;
  const lines = tests.map((test, i) => {
    const r = run.results[i];
    return r?.ok ? `PASS ${test}` : `FAIL ${test}\n     ${r?.error ?? 'failed'}`;
  });
  if (!run.definesEntryPoint)
    lines.unshift('warning: solution.py does not define the function the task asks for');
  if (run.cutShort) lines.push(`(the run hit the ${run.cutShort})`);
  lines.push(
    tests.length === 0
      ? 'solution.py loads; this task has no public tests.'
      : `${run.passed}/${run.total} public tests passed.`,
  );
  return lines.join('\n');
}

import { randomBytes } from 'node:crypto';
import type { RunResult, Sandbox, SandboxLimits } from '@toolgym/sandbox';
import { SOLUTION_FILE, type TestRun } from '../src/index.ts';

/**
 * The baseline of `pnpm bench grading`: the test harness the code environment used before its
 * grader moved out of the solution's process. It is kept only here, to measure against; it is
 * not safe to grade with (the solution shares its interpreter: see the red-team suite).
 *
 * Runs tests against solution.py inside the sandbox: loads the solution once, then runs each test
 * statement in a fresh copy of its namespace with a per-test alarm, and reports every result on
 * its own line as it finishes (so a run killed half-way still counts the tests that completed).
 * Result lines carry a per-run nonce read from stdin, so ordinary prints cannot be mistaken for them.
 * Known limit: the solution runs in the harness's interpreter, so code that digs through the
 * interpreter's objects (gc, frames) could find the nonce and forge results.
 */
const HARNESS = String.raw`
import json, os, signal, sys, traceback
class TestTimeout(Exception):
    pass

def main():
    nonce = sys.stdin.readline().strip()
    spec = json.loads(sys.stdin.readline())
    out_fd = os.dup(1)
    def emit(obj, _fd=out_fd, _nonce=nonce):
        os.write(_fd, (_nonce + json.dumps(obj) + '\n').encode())
    def on_alarm(signum, frame):
        raise TestTimeout('the test took longer than %s s' % spec['perTestSeconds'])
    signal.signal(signal.SIGALRM, on_alarm)
    def describe(error):
        return ''.join(traceback.format_exception_only(type(error), error)).strip()[-500:]
    ns = {'__name__': 'solution'}
    try:
        code = compile(open(spec['solution']).read(), spec['solution'], 'exec')
        signal.setitimer(signal.ITIMER_REAL, spec['perTestSeconds'])
        exec(code, ns)
        if spec.get('setup'):
            exec(spec['setup'], ns)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as error:
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit({'load': 'error', 'error': describe(error)})
        os._exit(0)
    emit({'load': 'ok', 'defines': callable(ns.get(spec['entryPoint']))})
    for index, test in enumerate(spec['tests']):
        try:
            signal.setitimer(signal.ITIMER_REAL, spec['perTestSeconds'])
            exec(test, dict(ns))
            signal.setitimer(signal.ITIMER_REAL, 0)
            emit({'test': index, 'ok': True})
        except BaseException as error:
            signal.setitimer(signal.ITIMER_REAL, 0)
            emit({'test': index, 'ok': False, 'error': 'AssertionError: wrong result' if type(error) is AssertionError and not str(error) else describe(error)})
    os._exit(0)
main()
`;

export async function runBaselineTests(
  sandbox: Sandbox,
  files: Record<string, string>,
  spec: {
    entryPoint: string;
    tests: string[];
    setup?: string;
    perTestSeconds: number;
    limits: Partial<SandboxLimits>;
    signal?: AbortSignal;
  },
): Promise<TestRun> {
  const total = spec.tests.length;
  if (files[SOLUTION_FILE] === undefined) {
    return {
      load: 'missing',
      definesEntryPoint: false,
      results: spec.tests.map(() => ({ ok: false, error: `no ${SOLUTION_FILE}` })),
      passed: 0,
      total,
    };
  }
  const nonce = `@@toolgym-${randomBytes(12).toString('hex')}@@`;
  const payload = {
    solution: SOLUTION_FILE,
    entryPoint: spec.entryPoint,
    tests: spec.tests,
    setup: spec.setup ?? '',
    perTestSeconds: spec.perTestSeconds,
  };
  const wallMs = Math.min(120_000, Math.ceil(spec.perTestSeconds * 1000 * (total + 1)) + 3_000);
  const result = await sandbox.run({
    cmd: ['python3', '-c', HARNESS],
    files,
    stdin: `${nonce}\n${JSON.stringify(payload)}\n`,
    limits: { ...spec.limits, wallMs, cpuMs: wallMs },
    ...(spec.signal ? { signal: spec.signal } : {}),
  });
  return parseHarnessOutput(result, nonce, total);
}

function parseHarnessOutput(result: RunResult, nonce: string, total: number): TestRun {
  const run: TestRun = {
    load: 'error',
    definesEntryPoint: false,
    results: Array.from({ length: total }, () => ({ ok: false, error: 'not run' })),
    passed: 0,
    total,
  };
  let loaded = false;
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith(nonce)) continue;
    const record = JSON.parse(line.slice(nonce.length)) as {
      load?: string;
      defines?: boolean;
      error?: string;
      test?: number;
      ok?: boolean;
    };
    if (record.load === 'ok') {
      loaded = true;
      run.load = 'ok';
      run.definesEntryPoint = record.defines === true;
    } else if (record.load === 'error') {
      run.loadError = record.error ?? 'unknown error';
    } else if (typeof record.test === 'number' && record.test >= 0 && record.test < total) {
      run.results[record.test] = record.ok ? { ok: true } : { ok: false, error: record.error ?? 'failed' };
    }
  }
  run.passed = run.results.filter((r) => r.ok).length;
  const cutShort = result.timedOut
    ? 'time limit'
    : result.oomKilled
      ? 'memory limit'
      : result.outputLimitExceeded
        ? 'output limit'
        : result.cpuLimitExceeded
          ? 'CPU-time limit'
          : undefined;
  if (cutShort) {
    run.cutShort = cutShort;
    for (const r of run.results)
      if (r.error === 'not run') r.error = `not run: the test run hit the ${cutShort}`;
  }
  if (!loaded && !run.loadError)
    run.loadError = cutShort
      ? `the run hit the ${cutShort} while loading ${SOLUTION_FILE}`
      : result.stderr.trim().slice(-500) || 'the test run ended without a result';
  return run;
}

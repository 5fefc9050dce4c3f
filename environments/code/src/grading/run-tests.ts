import type { RunResult, Sandbox, SandboxLimits } from '@toolgym/sandbox';
import { SOLUTION_FILE } from '../task-types.ts';
import { CandidateProcess, endedBecause, limitHit } from './candidate-process.ts';
import { GraderFailureError } from './errors.ts';
import type { GraderPool, GraderProcess } from './grader-process.ts';

/** The tests of a task, as the grader needs them. */
export interface TestSuite {
  entryPoint: string;
  /** Python statements or blocks (asserts, HumanEval's `check`), each one test. */
  tests: string[];
  /** Run in the candidate process after solution.py (MBPP's `test_setup_code`: objects the tests pass in). */
  setup?: string;
  /** Imports the tests use, run in the grader (MBPP's `test_imports`). */
  preamble?: string;
  /** The task's own code that tests call (HumanEval's prompt), run in the grader without the solution's function. */
  helpers?: string;
  /** Relative and absolute tolerance of float comparisons; without it floats compare exactly and `1 != 1.0`. */
  floatTolerance?: number;
}

/** Where grading runs: the candidate in the sandbox, the comparisons in a grader process on the host. */
export interface GradingInfra {
  sandbox: Sandbox;
  graders: GraderPool;
}

export interface TestRunOptions {
  /** Seconds one test may take (its calls into the solution and its comparisons). */
  perTestSeconds: number;
  /** Memory and other limits of the candidate's sandbox (wall and CPU time follow from the tests). */
  limits: Partial<SandboxLimits>;
  signal?: AbortSignal;
}

export interface TestRun {
  /** `missing`: no solution.py; `error`: it did not load (syntax error, exception at import, timeout). */
  load: 'ok' | 'error' | 'missing';
  loadError?: string;
  definesEntryPoint: boolean;
  results: Array<{ ok: boolean; error?: string }>;
  passed: number;
  total: number;
  /** A limit the solution's process hit (time, memory, output), if it did. */
  cutShort?: string;
}

/** After a test's own limit (which the candidate enforces with an alarm), how long until its process is killed. */
const KILL_GRACE_MS = 1_000;
/** How long the grader may take to report a test after its limit before it is stopped. */
const GRADER_GRACE_MS = 3_000;
/** A solution whose process is killed (timeout, crash, protocol breach) is restarted for later tests this many times. */
const MAX_CANDIDATE_STARTS = 4;
const CANDIDATE_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * Grades solution.py against tests. The solution runs in the sandbox and only evaluates the
 * calls the tests make; the tests themselves, every comparison and the verdicts run in a
 * grader process that never runs candidate code. Results arrive test by test, so a run cut
 * short keeps the tests that finished.
 */
export async function runTests(
  infra: GradingInfra,
  files: Record<string, string>,
  suite: TestSuite,
  options: TestRunOptions,
): Promise<TestRun> {
  const total = suite.tests.length;
  if (files[SOLUTION_FILE] === undefined) {
    return {
      load: 'missing',
      definesEntryPoint: false,
      results: suite.tests.map(() => ({ ok: false, error: `no ${SOLUTION_FILE}` })),
      passed: 0,
      total,
    };
  }
  return new Grading(infra, files, suite, options).execute();
}

class Grading {
  private readonly run: TestRun;
  private readonly deadline: number;
  private readonly candidateRuns: Array<Promise<RunResult>> = [];
  private candidate?: CandidateProcess;
  private grader?: GraderProcess;
  private starts = 0;
  private test = -1;
  /** Calls forwarded to the current candidate process whose replies have not come. */
  private inFlight = 0;
  private graderStoppedBecause?: string;
  /** The solution loaded and the grader was told to start its tests. */
  private started = false;
  /** The grading is over, or was stopped (cancelled, out of time); a grader taken after this is not used. */
  private finished = false;
  private timers: { test?: NodeJS.Timeout; grader?: NodeJS.Timeout; overall?: NodeJS.Timeout } = {};
  private settle: (error?: Error) => void = () => {};

  constructor(
    private readonly infra: GradingInfra,
    private readonly files: Record<string, string>,
    private readonly suite: TestSuite,
    private readonly options: TestRunOptions,
  ) {
    const total = suite.tests.length;
    this.run = {
      load: 'error',
      definesEntryPoint: false,
      results: Array.from({ length: total }, () => ({ ok: false, error: 'not run' })),
      passed: 0,
      total,
    };
    const budgetMs = Math.min(120_000, Math.ceil(options.perTestSeconds * 1000 * (total + 1)) + 3_000);
    this.deadline = performance.now() + budgetMs;
  }

  async execute(): Promise<TestRun> {
    const onAbort = () => this.stopAll('the grading was cancelled');
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.options.signal?.aborted) onAbort();
    this.timers.overall = setTimeout(() => {
      this.run.cutShort = 'time limit';
      this.stopAll('the tests ran out of time');
    }, this.deadline - performance.now());
    let failure: unknown;
    try {
      const loaded = this.startCandidate().loaded;
      // The grader prepares the tests (and sends their calls ahead) while the solution loads.
      const graded = this.run.total > 0 ? this.grade() : undefined;
      graded?.catch(() => {});
      const report = await loaded;
      if (report.load === 'ok') {
        this.run.load = 'ok';
        this.run.definesEntryPoint = report.defines;
        this.startTests();
        await graded;
      } else {
        this.run.loadError = report.error;
        for (const result of this.run.results) result.error = `${SOLUTION_FILE} did not load`;
      }
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(this.timers.overall);
      this.clearTestTimers();
      this.options.signal?.removeEventListener('abort', onAbort);
      this.finished = true;
      this.candidate?.close();
      this.grader?.kill();
    }
    // A sandbox that failed (not the solution) fails the grading; otherwise the candidate's exit is not waited for.
    if (failure === undefined && this.run.load !== 'ok') {
      for (const outcome of await Promise.allSettled(this.candidateRuns))
        if (outcome.status === 'rejected') failure = outcome.reason;
    }
    if (failure !== undefined) throw failure;
    const notRun = this.run.cutShort
      ? `not run: the run hit the ${this.run.cutShort}`
      : 'not run: the grading stopped';
    for (const result of this.run.results) if (result.error === 'not run') result.error = notRun;
    this.run.passed = this.run.results.filter((r) => r.ok).length;
    return this.run;
  }

  /** Tests start once the solution has loaded and the grader has its job, so loading does not count against them. */
  private startTests(): void {
    if (this.started || this.run.load !== 'ok' || !this.grader) return;
    this.started = true;
    this.grader.send({ t: 'go' });
  }

  private async grade(): Promise<void> {
    const grader = await this.infra.graders.take();
    // The grading can end (a solution that failed to load) or be stopped (cancelled, out of time)
    // while the grader is still starting: it must not run the tests of a grading that is over.
    if (this.finished) {
      grader.kill();
      return;
    }
    this.grader = grader;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      this.settle = (error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      grader.onMessage = (message) => {
        switch (message.t) {
          case 'start':
            return this.beginTest(message.test);
          case 'call':
            return this.forward(message.line);
          case 'kill':
            return this.candidate?.stop("it wrote to the grader's channel");
          case 'result':
            this.clearTestTimers();
            this.run.results[message.test] = message.ok
              ? { ok: true }
              : { ok: false, error: message.error ?? 'failed' };
            return;
          case 'done':
            return this.settle();
        }
      };
      void grader.exited.then(() =>
        this.settle(
          this.graderStoppedBecause === undefined
            ? new GraderFailureError(
                `the grader exited in the middle of a grading: ${grader.diagnostics || 'no message'}`,
              )
            : undefined,
        ),
      );
      const { entryPoint, tests, preamble, helpers, floatTolerance } = this.suite;
      grader.send({
        entryPoint,
        tests,
        preamble,
        helpers,
        floatTolerance,
        perTestSeconds: this.options.perTestSeconds,
      });
      this.startTests();
    });
  }

  private beginTest(test: number): void {
    this.test = test;
    this.clearTestTimers();
    const seconds = this.options.perTestSeconds;
    this.timers.test = setTimeout(
      () => {
        // The candidate's own alarm did not end the test (the solution blocks or ignores it), or
        // the test's own work ran long: either way the test is over.
        if (this.inFlight > 0 && this.candidate?.alive)
          this.candidate.stop(`the test took longer than ${seconds} s`, true);
        else this.grader?.send({ t: 'timeout', test });
        this.timers.grader = setTimeout(() => {
          this.graderStoppedBecause = `test ${test} did not finish`;
          this.grader?.kill();
        }, GRADER_GRACE_MS);
      },
      seconds * 1000 + KILL_GRACE_MS,
    );
  }

  private clearTestTimers(): void {
    clearTimeout(this.timers.test);
    clearTimeout(this.timers.grader);
  }

  /** Hands a call to the candidate process, (re)starting one if the last was stopped. */
  private forward(line: string): void {
    let candidate = this.candidate;
    if (!candidate?.alive && this.run.load === 'ok') {
      if (this.starts >= MAX_CANDIDATE_STARTS) {
        const why = `it was stopped ${this.starts} times and is not restarted again`;
        this.grader?.send({ t: 'exited', test: this.test, why, timeout: false });
        return;
      }
      candidate = this.startCandidate();
    }
    if (!candidate) return;
    this.inFlight++;
    const current = candidate;
    void current.loaded.then((report) => {
      if (report.load === 'ok' && current === this.candidate) current.send(line);
    });
  }

  private startCandidate(): CandidateProcess {
    const remainingMs = Math.max(1, Math.floor(this.deadline - performance.now()));
    const candidate = new CandidateProcess(
      this.infra.sandbox,
      this.files,
      {
        entryPoint: this.suite.entryPoint,
        ...(this.suite.setup ? { setup: this.suite.setup } : {}),
        loadSeconds: this.options.perTestSeconds,
      },
      {
        ...this.options.limits,
        wallMs: remainingMs,
        cpuMs: Math.max(1_000, remainingMs),
        outputBytes: CANDIDATE_OUTPUT_BYTES,
      },
    );
    this.starts++;
    this.candidate = candidate;
    this.inFlight = 0;
    // One reply per call in flight; anything more the solution writes is dropped here.
    candidate.onReply = (line) => {
      if (this.candidate !== candidate || this.inFlight === 0) return;
      this.inFlight--;
      this.grader?.send({ t: 'reply', line });
    };
    // The load line must come within the load time, whatever the solution does to its alarm.
    const loadTimer = setTimeout(
      () => candidate.stop(`it took longer than ${this.options.perTestSeconds} s to load`),
      this.options.perTestSeconds * 1000 + KILL_GRACE_MS,
    );
    void candidate.loaded.then(() => clearTimeout(loadTimer));
    this.candidateRuns.push(candidate.finished);
    candidate.finished.then(
      (result) => {
        clearTimeout(loadTimer);
        const hit = limitHit(result);
        if (hit && !candidate.stoppedBecause) this.run.cutShort ??= hit;
        if (this.candidate !== candidate) return;
        this.inFlight = 0;
        // Every call in flight died with the process; the grader calls again (a new process) if it goes on.
        this.grader?.send({
          t: 'exited',
          test: this.test,
          why: candidate.stoppedBecause ?? endedBecause(result),
          timeout: candidate.stoppedForTime,
        });
      },
      (error: unknown) => this.settle(error instanceof Error ? error : new Error(String(error))),
    );
    return candidate;
  }

  private stopAll(why: string): void {
    this.finished = true;
    this.candidate?.stop(why);
    this.graderStoppedBecause = why;
    this.grader?.kill();
    this.settle();
  }
}

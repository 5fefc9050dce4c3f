import { PassThrough } from 'node:stream';
import type { RunResult, Sandbox, SandboxLimits } from '@toolgym/sandbox';
import { z } from 'zod';
import { LineSplitter } from './line-splitter.ts';
import { CANDIDATE_SOURCE } from './python.ts';

/** The largest reply of one call, in bytes of JSON (a bigger value fails its test). */
export const MAX_REPLY_BYTES = 1024 * 1024;

const LoadReportSchema = z.discriminatedUnion('load', [
  z.object({ load: z.literal('ok'), defines: z.boolean() }).strict(),
  z.object({ load: z.literal('error'), error: z.string().max(4000) }).strict(),
]);
export type LoadReport = z.infer<typeof LoadReportSchema>;

/** How the job of a candidate process is given (its first line of stdin). */
export interface CandidateJob {
  entryPoint: string;
  setup?: string;
  loadSeconds: number;
}

/**
 * One run of `candidate.py` in the sandbox: it loads solution.py, reports whether that worked,
 * then answers the grader's calls. Everything it writes is untrusted: the load report is checked
 * here, and each later line is handed to the grader as an opaque string.
 */
export class CandidateProcess {
  /** The first line, or why there was none. */
  readonly loaded: Promise<LoadReport>;
  /** The sandbox run (its limits tell why it ended). */
  readonly finished: Promise<RunResult>;
  /** Every line after the load report. */
  onReply: (line: string) => void = () => {};
  /** Why the process was stopped from this side, if it was. */
  stoppedBecause?: string;
  /** It was stopped because a test ran out of time. */
  stoppedForTime = false;
  private readonly input = new PassThrough();
  private readonly abort = new AbortController();
  private ended = false;

  constructor(
    sandbox: Sandbox,
    files: Record<string, string>,
    job: CandidateJob,
    limits: Partial<SandboxLimits>,
  ) {
    let report: (r: LoadReport) => void = () => {};
    this.loaded = new Promise((resolve) => {
      report = resolve;
    });
    let reported = false;
    const lines = new LineSplitter(
      MAX_REPLY_BYTES + 1024,
      (line) => {
        if (reported) return this.onReply(line);
        reported = true;
        const parsed = (() => {
          try {
            return LoadReportSchema.safeParse(JSON.parse(line));
          } catch {
            return undefined;
          }
        })();
        report(
          parsed?.success
            ? parsed.data
            : { load: 'error', error: `the solution wrote to the grader's channel while loading` },
        );
        if (!parsed?.success) this.stop('it broke the protocol');
      },
      () => this.stop(`a reply was larger than ${MAX_REPLY_BYTES} bytes`),
    );
    this.input.write(`${JSON.stringify({ ...job, maxReplyBytes: MAX_REPLY_BYTES })}\n`);
    this.finished = sandbox.run({
      cmd: ['python3', '-c', CANDIDATE_SOURCE],
      files,
      stdin: this.input,
      onStdout: (chunk) => lines.push(chunk),
      limits,
      signal: this.abort.signal,
    });
    this.finished.then(
      (result) => {
        this.ended = true;
        if (!reported) {
          reported = true;
          report({ load: 'error', error: this.stoppedBecause ?? endedBecause(result) });
        }
      },
      () => {
        this.ended = true;
        report({ load: 'error', error: 'the sandbox failed' });
      },
    );
  }

  get alive(): boolean {
    return !this.ended;
  }

  send(line: string): void {
    if (!this.ended) this.input.write(`${line}\n`);
  }

  /** Kills the run; `why` is what its tests are told. */
  stop(why: string, forTime = false): void {
    if (this.stoppedBecause === undefined) {
      this.stoppedBecause = why;
      this.stoppedForTime = forTime;
    }
    this.abort.abort();
    this.input.end();
  }

  /** Lets the process exit on its own (end of stdin). */
  close(): void {
    this.input.end();
  }
}

/** Why a sandbox run ended, in words for a test's failure. */
export function endedBecause(result: RunResult): string {
  if (result.timedOut) return 'it hit the time limit';
  if (result.oomKilled) return 'it hit the memory limit';
  if (result.outputLimitExceeded) return 'it wrote more output than allowed';
  if (result.cpuLimitExceeded) return 'it hit the CPU-time limit';
  const tail = result.stderr.trim().slice(-300);
  return `its process ended (exit code ${result.exitCode ?? 'none'})${tail ? `: ${tail}` : ''}`;
}

/** The limit a run hit, if any (`time limit`, `memory limit` …). */
export function limitHit(result: RunResult): string | undefined {
  if (result.timedOut) return 'time limit';
  if (result.oomKilled) return 'memory limit';
  if (result.outputLimitExceeded) return 'output limit';
  if (result.cpuLimitExceeded) return 'CPU-time limit';
  return undefined;
}

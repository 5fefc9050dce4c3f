/**
 * Where the seats of one Search Self-play match meet, in one environment instance: the proposer
 * posts its question (verified, or discarded with the reason), each solver waits for it and posts
 * whether it answered right, and the proposer's grade waits for those. Sessions of one server
 * (in-process, or HTTP clients of one `toolgym env serve`) meet here; separate stdio servers cannot.
 */
import { ToolGymError } from '@toolgym/protocol';

/** What the proposer's episode made of its question. */
export type Proposal =
  | { verified: true; question: string; answers: string[]; citations: string[] }
  | { verified: false; reason: string };

/** A solver seat cannot play: the question was discarded, or never came. Ends that episode (episode-fatal). */
export class QuestionDiscardedError extends ToolGymError {
  constructor(match: string, reason: string) {
    super(
      'question_discarded',
      `match '${match}': the proposer's question was discarded (${reason}), so its solvers have nothing to answer`,
      'nothing to fix: a discarded question is counted on the proposer (reward component verified = 0) and its solver episodes are left out of training',
    );
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

interface MatchRecord {
  proposal: Deferred<Proposal>;
  posted: boolean;
  /** Each solver seat's result: 1 right, 0 wrong, undefined when it left without an answer graded. */
  outcomes: Map<number, number | undefined>;
  allReported: Deferred<void>;
  solvers: number;
}

/** Waits for `promise` at most `ms`; `onTimeout` gives the value then. */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class ProposalBoard {
  private readonly matches = new Map<string, MatchRecord>();

  /** `keepMs`: how long a seat waits for the others, and a finished match is kept for a late seat. */
  constructor(private readonly keepMs: number) {}

  private record(match: string, solvers: number): MatchRecord {
    let record = this.matches.get(match);
    if (!record) {
      record = { proposal: deferred(), posted: false, outcomes: new Map(), allReported: deferred(), solvers };
      this.matches.set(match, record);
      // Forgotten once the proposer has its results (`outcomes`), or else well after every wait has ended.
      setTimeout(() => this.matches.get(match) === record && this.matches.delete(match), this.keepMs * 10).unref();
    }
    return record;
  }

  /** The proposer posts its question (once; later posts are ignored). */
  post(match: string, solvers: number, proposal: Proposal): void {
    const record = this.record(match, solvers);
    if (record.posted) return;
    record.posted = true;
    record.proposal.resolve(proposal);
  }

  /** A solver waits for the question; one that never comes counts as discarded. */
  question(match: string, solvers: number): Promise<Proposal> {
    return within(this.record(match, solvers).proposal.promise, this.keepMs, () => ({
      verified: false,
      reason: `no question within ${this.keepMs} ms`,
    }));
  }

  /** A solver seat's result (`undefined`: it left without a graded answer). The first report of a seat counts. */
  report(match: string, solvers: number, seat: number, correct: number | undefined): void {
    const record = this.record(match, solvers);
    if (record.outcomes.has(seat)) return;
    record.outcomes.set(seat, correct);
    if (record.outcomes.size >= record.solvers) record.allReported.resolve();
  }

  /** The proposer waits for its solvers' results; those that have not reported in time are left out. */
  async outcomes(match: string, solvers: number): Promise<number[]> {
    const record = this.record(match, solvers);
    await within(record.allReported.promise, this.keepMs, () => undefined);
    this.matches.delete(match);
    return [...record.outcomes.values()].filter((o): o is number => o !== undefined);
  }
}

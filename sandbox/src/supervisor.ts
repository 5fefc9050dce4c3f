import { readFileSync } from 'node:fs';
import { SandboxError } from './errors.ts';

/**
 * The host side of `supervisor.py`: the process that starts sandboxes and relays their input
 * and output, on the host (bubblewrap) or inside a container (Docker). Frames both ways are
 * type (1 byte), sandbox id (4 bytes, big-endian), payload length (4 bytes), payload.
 */
export const SUPERVISOR_SOURCE = readFileSync(new URL('./supervisor.py', import.meta.url), 'utf8');

export interface SupervisorConfig {
  /** Host uid/gid the sandboxes run as (the supervisor drops to them before starting bwrap); null: its own. */
  uid: number | null;
  gid: number | null;
  /** The seccomp program given to bwrap as `--seccomp 3`, or null for none. */
  seccomp: Buffer | null;
  /**
   * Cgroup files with an `oom_kill N` line, read before and after each job (a container's own
   * cgroup); the first that reads counts. Empty: the host reads the sandbox's cgroup itself.
   */
  oomFiles: readonly string[];
  /** The environment bwrap starts with (and passes on to the launcher). */
  env: Readonly<Record<string, string>>;
}

/** The argv that runs a supervisor with `python`. */
export function supervisorCommand(python: string, config: SupervisorConfig): string[] {
  const wire = { ...config, seccomp: config.seccomp?.toString('hex') ?? null };
  return [python, '-I', '-S', '-c', SUPERVISOR_SOURCE, JSON.stringify(wire)];
}

export interface SandboxExit {
  /** Exit status of the sandbox's command (128 + N for signal N); null if it never ran. */
  exitCode: number | null;
  /** OOM kills in the supervisor's cgroup during the job (`oomFiles`), null when none reads. */
  oomKills: number | null;
}

export interface OutputSinks {
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
}

const HEADER_BYTES = 9;

/** The launcher's stdin: its job, then the program's input, given at once or streamed. */
export interface SandboxInput {
  /** Hands the launcher its job (and any stdin given at once); stdin then closes unless `more` follows. */
  sendJob(bytes: Buffer, more: boolean): void;
  /** More of a streamed stdin; resolves once the sandbox has taken it (or is gone), so a fast writer waits. */
  write(bytes: Buffer): Promise<void>;
  /** Ends a streamed stdin: the program reads end of file after what was written. */
  end(): void;
}

/** One sandbox started by a supervisor. Its launcher waits for a single job. */
export class SupervisedSandbox implements SandboxInput {
  readonly ready: Promise<void>;
  readonly exited: Promise<SandboxExit>;
  isReady = false;
  hasExited = false;
  private sinks?: OutputSinks;
  /** Output before a job is attached: start-up errors of bwrap itself. */
  private early: Buffer[] = [];
  private markReady: () => void = () => {};
  private failStart: (error: Error) => void = () => {};
  private markExited: (exit: SandboxExit) => void = () => {};
  /** Writes of a streamed stdin the supervisor has not yet answered (W), oldest first. */
  private unwritten: Array<() => void> = [];

  constructor(
    readonly id: number,
    private readonly supervisor: Supervisor,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failStart = reject;
    });
    // A sandbox that never became ready is reported through `ready`; nobody need await this too.
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
  }

  attachOutput(sinks: OutputSinks): void {
    this.sinks = sinks;
    for (const chunk of this.early.splice(0)) sinks.stderr(chunk);
  }

  sendJob(bytes: Buffer, more: boolean): void {
    if (!more) this.supervisor.send('J', this.id, bytes);
    else void this.write(bytes);
  }

  write(bytes: Buffer): Promise<void> {
    if (this.hasExited) return Promise.resolve();
    return new Promise((resolve) => {
      this.unwritten.push(resolve);
      this.supervisor.send('I', this.id, bytes);
    });
  }

  end(): void {
    if (!this.hasExited) this.supervisor.send('C', this.id);
  }

  kill(): void {
    if (!this.hasExited) this.supervisor.send('K', this.id);
  }

  /** @internal a frame from the supervisor */
  receive(kind: string, payload: Buffer): void {
    if (kind === 'R') {
      this.isReady = true;
      this.markReady();
    } else if (kind === 'O') this.sinks?.stdout(payload);
    else if (kind === 'W') this.unwritten.shift()?.();
    else if (kind === 'E') {
      if (this.sinks) this.sinks.stderr(payload);
      else this.early.push(payload);
    } else if (kind === 'F') {
      this.failStart(
        new SandboxError('sandbox_failed', `the sandbox did not start: ${payload.toString('utf8')}`),
      );
    } else if (kind === 'X') {
      this.finish(JSON.parse(payload.toString('utf8')) as SandboxExit);
    }
  }

  /** @internal the sandbox is gone (exited, or its supervisor went away) */
  finish(exit: SandboxExit): void {
    if (this.hasExited) return;
    this.hasExited = true;
    for (const written of this.unwritten.splice(0)) written();
    if (!this.isReady) {
      const why = Buffer.concat(this.early).toString('utf8').trim() || `exit ${exit.exitCode ?? 'unknown'}`;
      this.failStart(
        new SandboxError(
          'sandbox_failed',
          `the sandbox did not start: ${why}`,
          'check that bwrap can create user namespaces here',
        ),
      );
    }
    this.markExited(exit);
  }
}

/**
 * Speaks the supervisor protocol over any byte channel: `write` sends bytes to the supervisor,
 * `push` takes what it sent back, `close` reports that the channel is gone (every sandbox of it
 * is then gone too).
 */
export class Supervisor {
  private readonly sandboxes = new Map<number, SupervisedSandbox>();
  private pending: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private closedWith?: string;

  constructor(private readonly write: (bytes: Buffer) => void) {}

  get size(): number {
    return this.sandboxes.size;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  start(spec: { argv: readonly string[]; cgroupProcs?: readonly string[] }): SupervisedSandbox {
    if (this.closedWith !== undefined)
      throw new SandboxError('sandbox_failed', `the sandbox supervisor is gone: ${this.closedWith}`);
    const sandbox = new SupervisedSandbox(this.nextId++, this);
    this.sandboxes.set(sandbox.id, sandbox);
    void sandbox.exited.then(() => this.sandboxes.delete(sandbox.id));
    this.send('S', sandbox.id, Buffer.from(JSON.stringify(spec), 'utf8'));
    return sandbox;
  }

  send(kind: 'S' | 'J' | 'I' | 'C' | 'K', id: number, payload: Buffer = Buffer.alloc(0)): void {
    if (this.closedWith !== undefined) return;
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(kind, 0, 'latin1');
    header.writeUInt32BE(id, 1);
    header.writeUInt32BE(payload.length, 5);
    this.write(payload.length > 0 ? Buffer.concat([header, payload]) : header);
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= HEADER_BYTES) {
      const length = this.pending.readUInt32BE(5);
      if (this.pending.length < HEADER_BYTES + length) return;
      const kind = String.fromCharCode(this.pending[0]!);
      const id = this.pending.readUInt32BE(1);
      const payload = this.pending.subarray(HEADER_BYTES, HEADER_BYTES + length);
      this.pending = this.pending.subarray(HEADER_BYTES + length);
      this.sandboxes.get(id)?.receive(kind, payload);
    }
  }

  close(reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const sandbox of this.sandboxes.values()) sandbox.finish({ exitCode: null, oomKills: null });
  }
}

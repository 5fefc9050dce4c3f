/**
 * Where the onnx policy's time goes, per forward call: JS preparation of the feeds (ids, masks,
 * positions, tensors), `session.run`, the KV cache handling around it (row selection, merging,
 * writing new keys/values), and sampling (logits to tokens, stop checks). Prefill calls (a prompt's
 * first pass) and decode steps (one token per row) are kept apart. Off unless a profile is handed to
 * the policy: `pnpm bench policy --profile` prints it.
 *
 * Times are the process's CPU time (user + system), not wall time: on a shared machine the wall clock
 * also counts the time other processes held the core. With one onnxruntime thread (the default) the
 * engine's work all runs on the calling thread, so CPU time is its time.
 */

export type DecodePhase = 'prepare' | 'run' | 'cache' | 'sample';
export type ForwardKind = 'prefill' | 'decode';

export interface PhaseTotals {
  /** Forward calls. */
  calls: number;
  /** Batch rows summed over the calls. */
  rows: number;
  ms: Record<DecodePhase, number>;
}

/** Times one forward call: each `lap` adds the time since the previous lap (or the start) to a phase. */
export interface DecodeWatch {
  lap(phase: DecodePhase): void;
}

export class DecodeProfile {
  readonly prefill: PhaseTotals = emptyTotals();
  readonly decode: PhaseTotals = emptyTotals();

  /** Starts timing a forward call of `rows` rows. */
  watch(kind: ForwardKind, rows: number): DecodeWatch {
    const totals = this[kind];
    totals.calls++;
    totals.rows += rows;
    let last = cpuMs();
    return {
      lap(phase) {
        const now = cpuMs();
        totals.ms[phase] += now - last;
        last = now;
      },
    };
  }

  reset(): void {
    for (const totals of [this.prefill, this.decode]) Object.assign(totals, emptyTotals());
  }
}

/** CPU time of this process so far, in ms. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function emptyTotals(): PhaseTotals {
  return { calls: 0, rows: 0, ms: { prepare: 0, run: 0, cache: 0, sample: 0 } };
}

import type { Rng } from '@toolgym/protocol';

export type Difficulty = 'easy' | 'medium' | 'hard';

/** One generated function-writing problem before its expected outputs are computed. */
export interface ProgrammingDraft {
  entryPoint: string;
  /** What to write, with this variant's constants in it. */
  description: string;
  /** The reference solution (Python); its outputs on `inputs` become the tests. */
  reference: string;
  /** Argument lists (JSON values); the first `PUBLIC_TESTS` are shown to the agent, the rest are hidden. */
  inputs: unknown[][];
  /** For a function returning floats: the relative and absolute tolerance of its comparisons. */
  floatTolerance?: number;
}

export interface ProgrammingTemplate {
  id: string;
  difficulty: Difficulty;
  make(rng: Rng): ProgrammingDraft;
}

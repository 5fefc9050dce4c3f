import { z } from 'zod';

export const DatasetSchema = z.object({
  /** `mbpp` (text|prompt, code, test_list, test_setup_code) or `humaneval` (prompt, canonical_solution, test, entry_point). */
  format: z.enum(['mbpp', 'humaneval']),
  /** A JSONL file, one problem per line. */
  path: z.string().min(1),
  /** Put every problem of this file in one split; by default each (a family of one) is held out for `test` by id, like whole generated families. */
  split: z.enum(['train', 'test', 'test-iid']).optional(),
  /**
   * Leave out problems whose tests cannot be graded with the solution kept out of the grader (each
   * is reported on stderr with its file and line); by default such a problem fails the load.
   */
  skipUngradable: z.boolean().default(false),
  /** Relative and absolute tolerance of this file's float comparisons; by default floats compare exactly. */
  floatTolerance: z.number().positive().optional(),
});
export type DatasetSpec = z.infer<typeof DatasetSchema>;

export const CodeConfigSchema = z.object({
  /** Which kinds of task: `programming` (write a function, hidden unit tests) and `interpreter` (math with a Python tool). */
  kinds: z
    .array(z.enum(['programming', 'interpreter']))
    .min(1)
    .default(['programming', 'interpreter']),
  /** Variants generated per programming family (variants with equal constants collapse). */
  programmingVariants: z.number().int().min(1).max(50).default(5),
  /** Variants generated per interpreter family. */
  interpreterVariants: z.number().int().min(1).max(50).default(5),
  /** Seed of the generated problems and of the splits. */
  seed: z.number().int().default(0),
  /**
   * Share of problem families held out whole for the `test` split (chosen per kind and
   * difficulty); a dataset's problems are families of one, held out in the same share.
   */
  heldOutFamilies: z.number().min(0).max(1).default(0.2),
  /** Share of the other families' variants put in `test-iid` (families that train also has). */
  iidTestFraction: z.number().min(0).max(1).default(0.2),
  /** Real problem sets to add (MBPP / HumanEval JSONL); their tests become the hidden tests. */
  datasets: z.array(DatasetSchema).default([]),
  /** Where untrusted code runs. */
  sandbox: z
    .object({
      backend: z.enum(['bubblewrap', 'docker']).default('bubblewrap'),
      /** Pre-started sandboxes (and graders) kept ready with no load; the sandbox pool grows past it under load and shrinks back when idle. */
      poolSize: z.number().int().min(0).max(64).default(2),
      /** Wall time of one run_python / run_tests call. */
      wallMs: z.number().int().positive().default(5_000),
      cpuMs: z.number().int().positive().default(5_000),
      memoryBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024 * 1024),
      /** stdout/stderr kept per run (the model sees at most the tool output limit). */
      outputBytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1024),
    })
    .prefault({}),
  /** Seconds one hidden or public test may take before it counts as failed. */
  perTestSeconds: z.number().positive().default(2),
  /** Assistant turns per episode. */
  maxTurns: z.number().int().positive().default(12),
  /** Reward weights: share of hidden tests passed, all of them passed, and the format (submitted, loads, defines the function / answers an integer). */
  weights: z
    .object({
      pass_fraction: z.number().default(0.5),
      all_pass: z.number().default(0.5),
      format: z.number().default(0.1),
    })
    .prefault({}),
});
export type CodeConfig = z.infer<typeof CodeConfigSchema>;
export type SandboxSettings = CodeConfig['sandbox'];

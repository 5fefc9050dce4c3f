import { z } from 'zod';

export const DatasetSchema = z.object({
  /** `mbpp` (text|prompt, code, test_list, test_setup_code) or `humaneval` (prompt, canonical_solution, test, entry_point). */
  format: z.enum(['mbpp', 'humaneval']),
  /** A JSONL file, one problem per line. */
  path: z.string().min(1),
  /** Put every problem of this file in one split; by default each is split by id like the generated ones. */
  split: z.enum(['train', 'test']).optional(),
});
export type DatasetSpec = z.infer<typeof DatasetSchema>;

export const CodeConfigSchema = z.object({
  /** Which task families: `programming` (write a function, hidden unit tests) and `interpreter` (math with a Python tool). */
  families: z
    .array(z.enum(['programming', 'interpreter']))
    .min(1)
    .default(['programming', 'interpreter']),
  /** Variants generated per programming template (26 templates; variants with equal constants collapse). */
  programmingVariants: z.number().int().min(1).max(50).default(8),
  /** Variants generated per interpreter template (8 templates). */
  interpreterVariants: z.number().int().min(1).max(50).default(5),
  /** Seed of the generated problems and of the split. */
  seed: z.number().int().default(0),
  /** Share of problems in the test split. */
  testFraction: z.number().min(0).max(1).default(0.2),
  /** Real problem sets to add (MBPP / HumanEval JSONL); their tests become the hidden tests. */
  datasets: z.array(DatasetSchema).default([]),
  /** Where untrusted code runs. */
  sandbox: z
    .object({
      backend: z.enum(['bubblewrap', 'docker']).default('bubblewrap'),
      /** Pre-started sandboxes kept ready. */
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

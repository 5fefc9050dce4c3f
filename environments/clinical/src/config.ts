import { z } from 'zod';

/** Reward weights; the defaults are DiagGym's, with cost and rubric logged at weight 0. */
export const ClinicalWeightsSchema = z.object({
  /** DiagGym: the episode ended with a diagnosis. */
  completion: z.number().min(0).default(0.1),
  /** DiagGym: the diagnosis matches the case's (see diagnosis-match.ts). */
  diagnosis: z.number().min(0).default(1),
  /** DiagGym: 0.5 × F1 of the ordered examinations against the case's key examinations. */
  exam_f1: z.number().min(0).default(0.5),
  /** For a correct diagnosis, 1 − (spend beyond the key exams' cost) / costBudget, clipped to [0, 1]; else 0. */
  cost_efficiency: z.number().min(0).default(0),
  /** HealthBench/GAPS-style rubric score in [0, 1] (clinical-rubric.ts). */
  rubric: z.number().min(0).default(0),
});

/** The declared reward range is [0, MAX_TOTAL_WEIGHT]: every component is in [0, 1]. */
export const MAX_TOTAL_WEIGHT = 3;

export const ClinicalConfigSchema = z
  .object({
    /** Assistant turns per episode (DiagGym uses 12). */
    maxTurns: z.number().int().min(2).max(64).default(12),
    /**
     * Share of each specialty's cases held out as the test split, as whole case families (so no
     * test diagnosis has a train case); families are picked by a salted hash.
     */
    testFraction: z.number().min(0.05).max(0.95).default(0.3),
    /** Salt of the split: another salt gives another split of the same cases. */
    splitSalt: z.string().default('clinical'),
    /** Only cases of these specialties (all when empty). */
    specialties: z.array(z.string()).default([]),
    /** Use the hand-written case bank. */
    includeBank: z.boolean().default(true),
    /** AgentClinic-format JSONL files whose cases are added. */
    agentClinicFiles: z.array(z.string()).default([]),
    /** Results of slow tests (imaging, cultures) arrive that many tool calls later. */
    resultDelays: z.boolean().default(true),
    /** Dollars of spend beyond the key exams at which cost_efficiency reaches 0. */
    costBudget: z.number().positive().default(2000),
    weights: ClinicalWeightsSchema.prefault({}),
  })
  .refine((c) => Object.values(c.weights).reduce((a, b) => a + b, 0) <= MAX_TOTAL_WEIGHT, {
    message: `the reward weights must sum to at most ${MAX_TOTAL_WEIGHT} (the declared reward range)`,
    path: ['weights'],
  })
  .refine((c) => c.includeBank || c.agentClinicFiles.length > 0, {
    message: 'no cases: set includeBank or give agentClinicFiles',
    path: ['includeBank'],
  });
export type ClinicalConfig = z.infer<typeof ClinicalConfigSchema>;

/**
 * The training config: one YAML file, validated strictly (an unknown key or a bad value is an
 * error that names it). Every field documents its default; defaults follow the papers where one
 * applies (PPO clip 0.2, DAPO clip-higher 0.28, Adam β = (0.9, 0.95)).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FeedbackOptionsSchema } from '@toolgym/env-kit';
import { SplitSchema, ToolGymError } from '@toolgym/protocol';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ADVANTAGE_ESTIMATOR_NAMES } from '../algorithms/advantages.ts';
import { RL_LOSS_NAMES } from '../algorithms/policy-losses.ts';

const TaskFilterSchema = z
  .object({
    split: SplitSchema.describe('Which split the tasks come from.'),
    /** Keep tasks whose `meta[key]` equals the value (or is one of the listed values). */
    meta: z
      .record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]),
      )
      .default({}),
    /** At most this many tasks (after filtering, in the environment's order). 0 = all. */
    limit: z.number().int().nonnegative().default(0),
  })
  .strict();
export type TaskFilter = z.infer<typeof TaskFilterSchema>;

/** RL's tasks: a filter, and optionally which of them to train on by how the policy did on them. */
const RlTasksSchema = TaskFilterSchema.extend({
  /**
   * 1-shot RLVR's data selection (Wang et al. 2025): first a warm-up of RL over all of the filter's
   * tasks, `epochs` passes in a shuffled order, records each task's accuracy per pass; RL then trains
   * on the `top` tasks whose accuracy varied most (`by: variance`, the paper's historical variance
   * score; top 1 is 1-shot RLVR), starting again from the policy and optimiser the warm-up started
   * from. The paper found an entropy loss (`rl.entropyCoef`) necessary with so few tasks.
   */
  select: z
    .object({
      /** The ranking: `variance`, the historical variance score of the paper. */
      by: z.literal('variance'),
      /** How many of the highest-ranked tasks RL trains on: 1 in the paper's 1-shot runs. */
      top: z.number().int().positive(),
      /** Passes over the tasks in the ranking warm-up (the paper ranks over a full run's epochs). */
      epochs: z.number().int().min(2).default(4),
    })
    .strict()
    .optional(),
}).strict();

const SamplingSchema = z
  .object({
    /** Sampling temperature; 0 = greedy. */
    temperature: z.number().min(0).default(1),
    /** Most tokens per assistant turn. */
    maxTokens: z.number().int().positive().default(48),
    /**
     * ε of ε-greedy exploration over tool names: right after `<tool_call>`, with this probability
     * the tool is picked uniformly instead of by the policy (needs `template.toolTokens`; 0 = off).
     */
    exploreToolNames: z.number().min(0).max(1).default(0),
    /**
     * Which tools exploration picks from: `all` of the environment's; those `mentioned` in the
     * episode so far (e.g. the functions a compose prompt names; all when it names none); or the
     * mentioned ones not yet called (`untried`; once all have been, the policy picks).
     */
    exploreAmong: z.enum(['all', 'mentioned', 'untried']).default('all'),
    /** Explore only from an episode's n-th tool call on (1 = every call; 2 = leave the first to the policy). */
    exploreFromCall: z.number().int().min(1).default(1),
    /**
     * ARPO's entropy-based adaptive rollout (Dong et al. 2025): after the group's `groupSize`
     * episodes, extra episodes branch from the turns right after a tool result where the policy's
     * entropy rose; advantages follow ARPO's attribution (`algorithms/arpo.ts`). RL only.
     */
    branching: z
      .object({
        /**
         * τ: a turn right after a tool result is a branch point when ΔH = H_t − H_initial, the
         * entropy of its first `entropyTokens` tokens minus that of the episode's first turn, exceeds
         * it (ARPO's P_t = α + β·ΔH with α = 0, β = 1; the paper tunes τ per task).
         */
        entropyThreshold: z.number().default(0),
        /** Z: episodes that branch from one branch point (the paper's partial samples per point). */
        maxBranches: z.number().int().positive().default(2),
        /** M: episodes per group in all, the first `groupSize` (N) included; branching stops there. */
        budget: z.number().int().positive(),
        /** k: the tokens at the start of a turn whose entropy is measured. */
        entropyTokens: z.number().int().positive().default(10),
      })
      .strict()
      .optional(),
  })
  .strict();

const AdamSchema = z
  .object({
    learningRate: z.number().positive(),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.95),
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().min(0).default(0),
    /** Clip the global gradient norm to this value (0 = off). */
    gradClipNorm: z.number().min(0).default(1),
    /**
     * Learning rate over the phase: `constant`; `cosine` decay to a tenth by its end; `wsd`
     * (warmup-stable-decay) constant, then linear decay to a tenth over its last `decayFraction`.
     * Both run over the phase's steps, so a decay lets the policy settle before its last evaluation.
     */
    schedule: z.enum(['constant', 'cosine', 'wsd']).default('constant'),
    decayFraction: z.number().gt(0).max(1).default(0.2),
    /**
     * Linear learning-rate warm-up over the phase's first k steps (0 = none). Adam's first step from
     * fresh moments moves every weight by about the learning rate (its update is m/√v ≈ ±1), so a
     * phase that starts a new Adam, as RL from `policy.initFrom` does, can take its first steps small.
     */
    warmupSteps: z.number().int().nonnegative().default(0),
  })
  .strict();

/** A supervised phase on the oracle's demonstrations (warm-up, pretraining). */
const supervisedPhase = {
  tasks: TaskFilterSchema,
  steps: z.number().int().nonnegative().default(0),
  batchSize: z.number().int().positive().default(32),
  /**
   * Demonstrations per training sequence, packed one after another as pretraining packs
   * documents (up to policy.model.maxPositions tokens). A later demonstration sees the earlier
   * ones' tool results, so the model learns to use the most recent one, not the only one.
   */
  pack: z.number().int().positive().default(1),
  adam: AdamSchema.prefault({ learningRate: 3e-3 }),
  /**
   * Stop before `steps` (then the most) once the policy, played greedily as in `eval.sampling`,
   * solves `passRate` of `limit` of the phase's own tasks; checked every `every` steps. The
   * learning-rate schedule still runs over `steps`.
   */
  until: z
    .object({
      passRate: z.number().gt(0).max(1),
      every: z.number().int().positive().default(50),
      limit: z.number().int().positive().default(100),
    })
    .strict()
    .optional(),
};

export const TrainConfigSchema = z
  .object({
    run: z
      .object({
        /** Name of the run; outputs go to `<outDir>/<name>-seed<seed>`. */
        name: z.string().min(1).default('run'),
        seed: z.number().int().default(0),
        outDir: z.string().default('runs'),
        /** Checkpoint (atomically, under `<run>/checkpoints`) after every k RL steps and at the end; 0 = never. */
        checkpointEvery: z.number().int().nonnegative().default(1),
      })
      .strict()
      .prefault({}),
    environment: z
      .object({
        /** Registered environment id (`compose`, `sql@1`) or a path to a module. */
        id: z.string().min(1),
        /** The environment's own options (its zod config validates them). */
        options: z.record(z.string(), z.unknown()).default({}),
        /**
         * HTTP servers of this environment with these options (`toolgym env serve <id> --http <port>`,
         * each `http://host:port/mcp`) to play the RL episodes on instead of in process. A session
         * goes to the least-loaded healthy server and stays there; an episode whose server dies is
         * played once more on another. Empty: in process.
         */
        endpoints: z.array(z.url({ protocol: /^https?$/ })).default([]),
        /** Environment variable holding the servers' trainer token (`--trainer-token`). */
        tokenEnv: z.string().default('TOOLGYM_TRAINER_TOKEN'),
        /**
         * The model the environment may call (the simulated search engine of `search`'s
         * `backend: simulated`, Search Self-play's RAG check): `policy`, the policy being trained
         * as it is at each step; `none`, no model.
         */
        model: z.enum(['none', 'policy']).default('none'),
        /**
         * Re-attempts after a wrong answer (`withFeedback` of @toolgym/env-kit): the answer tool's
         * result becomes "try again" (UFO, Liu et al. 2025) or the environment's guidance for the
         * failed attempt (`guidance: true`, Agent-RLVR, Da et al. 2025), up to `tryAgain` times, and
         * the reward decays with the attempts (`decay`, `repetitionPenalty`). Absent = one answer.
         * Every attempt is turns of the one episode: leave room for them in `maxTurns`.
         */
        feedback: FeedbackOptionsSchema.extend({
          /**
           * Evaluate with the same feedback (UFO evaluates multi-turn, with feedback); false plays
           * evaluations with one answer and no guidance, as Agent-RLVR tests its policy.
           */
          inEval: z.boolean().default(true),
          /**
           * The sampled tokens RL trains on: `every-attempt`, or `last-attempt`, only the turns after
           * the last feedback, with the failed attempts and the feedback in context (Agent-RLVR
           * trains on the guided re-attempt, its guidance in the prompt).
           */
          trainOn: z.enum(['every-attempt', 'last-attempt']).default('every-attempt'),
        })
          .strict()
          .optional(),
      })
      .strict(),
    policy: z
      .object({
        /**
         * `onnx`: ToolGym's engine plays, with the learner's weights after every optimiser step.
         * `tinker`: the learner's service samples (`asample`) from the weights it saved for the
         * sampler after every step; needs `learner.kind: tinker`.
         */
        kind: z.enum(['onnx', 'tinker']).default('onnx'),
        /**
         * With `kind: tinker`: the base model's tokenizer.json and tokenizer_config.json (its chat
         * template), read locally. Absent: the run's own model directory (ToolGym's models).
         */
        tokenizerDir: z.string().min(1).optional(),
        /** The decoder's size (ToolGym's small model, byte tokenizer); `maxPositions` also caps a tinker policy's context. */
        model: z
          .object({
            dModel: z.number().int().positive().default(64),
            nLayers: z.number().int().positive().default(2),
            nHeads: z.number().int().positive().default(4),
            dFF: z.number().int().positive().default(256),
            maxPositions: z.number().int().positive().default(256),
            /**
             * Position encoding: `learned` (GPT-2's absolute table, the default) or `rope` (rotary q/k,
             * RoFormer / Llama; needs an even dModel / nHeads). RoPE models cannot be exported as HF GPT-2.
             */
            positions: z.enum(['learned', 'rope']).default('learned'),
            /** RoPE base θ (10000 as in RoFormer / Llama 2); unused with learned positions. */
            ropeTheta: z.number().positive().default(10000),
          })
          .strict()
          .prefault({}),
        /** Std of the random initial weights. */
        initStd: z.number().positive().default(0.02),
        /**
         * Start from the weights of this ToolGym model directory (e.g. `<run>/final-model` of an
         * earlier run) instead of a random init; its decoder and extra tokens must match this config.
         */
        initFrom: z.string().min(1).optional(),
        /** onnxruntime threads for sampling. */
        threads: z.number().int().positive().default(1),
        /**
         * Batch-invariant sampling (default true): an episode's tokens and logprobs do not depend on
         * which episodes share its batched decoding steps, which timing decides, so a seed gives the
         * same run under any load. `false` lets a GRPO group's prompt be stored once for the group
         * (faster), and then runs of one seed may drift apart in the last bits of their logprobs.
         */
        batchInvariant: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** `compact`: one-letter ChatML roles and `<tool_call>name:value</tool_call>`; `hermes`: the model's own template. */
    template: z
      .object({
        kind: z.enum(['compact', 'hermes']).default('compact'),
        /** Strings cut from user prompts by the compact template (instructions learnt from demonstrations). */
        dropFromPrompt: z.array(z.string()).default([]),
        /**
         * Give every tool name of the environment its own token ("toolkens", ToolkenGPT): naming a
         * tool, in the prompt or in a call, is then one token instead of a spelled-out word.
         */
        toolTokens: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /**
     * `embedded` (in process), or `tinker`: any service that speaks the Tinker training API (the
     * Tinker service, skyrl-tx, `toolgym learner serve`) at `url`. The string alone is short for `{kind: …}`.
     */
    learner: z.preprocess(
      (value) => (typeof value === 'string' ? { kind: value } : value),
      z
        .object({
          kind: z.enum(['embedded', 'tinker']).default('embedded'),
          /** The Tinker-protocol service (tinker): its base URL, e.g. http://127.0.0.1:8470. */
          url: z.url({ protocol: /^https?$/ }).optional(),
          /**
           * The model trained (tinker): a name the service serves (`Qwen/Qwen3-8B`). Absent: the
           * run's own model directory, which only `toolgym learner serve` on this machine can read.
           */
          baseModel: z.string().min(1).optional(),
          /** LoRA rank (tinker; Tinker's default is 32). Absent: no LoRA, as `toolgym learner serve` trains every weight. */
          loraRank: z.number().int().positive().optional(),
          /** Environment variable holding the service's API key (sent as X-API-Key). */
          apiKeyEnv: z.string().default('TINKER_API_KEY'),
          /** TF.js backend: `wasm` (SIMD) or the pure-JS `cpu`; `pnpm bench learner` compares them. */
          backend: z.enum(['wasm', 'cpu']).default('wasm'),
          microBatchSize: z.number().int().positive().default(64),
          /**
           * Worker threads of the embedded learner: above 1 it is data-parallel (a replica per
           * worker, gradients summed before each step), for machines with cores to spare.
           */
          workers: z.number().int().positive().default(1),
        })
        .strict()
        .refine((l) => l.kind === 'embedded' || l.workers === 1, {
          message:
            'learner.workers is for the embedded learner; a remote learner decides its own parallelism',
          path: ['workers'],
        })
        .refine((l) => l.kind !== 'tinker' || l.url !== undefined, {
          message: 'learner.kind tinker needs learner.url, the service’s base URL',
          path: ['url'],
        })
        .prefault({}),
    ),
    /**
     * Supervised pretraining before the warm-up, on the oracle's demonstrations in the same
     * environment with `options` merged over `environment.options` (e.g. other functions): what a
     * pretrained model brings to RL, general skills learnt on other tasks. Its tools must be the
     * environment's. The warm-up then starts its own Adam from the pretrained weights, as from
     * `policy.initFrom`; the weights are kept as `<run>/pretrain-model`. With `steps` 0 it only
     * supplies demonstrations to `rl.demos.pretrain`.
     */
    pretrain: z
      .object({
        options: z.record(z.string(), z.unknown()).default({}),
        ...supervisedPhase,
      })
      .strict()
      .optional(),
    /** Supervised warm-up on demonstrations of the environment's oracle (skipped when steps = 0). */
    warmup: z.object(supervisedPhase).strict().optional(),
    rl: z
      .object({
        tasks: RlTasksSchema,
        /** RL's budget: its optimiser steps. The learning-rate schedule runs over them. */
        steps: z.number().int().nonnegative().default(100),
        /**
         * A safety stop: end RL after this many minutes of training time (evaluations excluded), 0 =
         * none. It is never a schedule input, so a run it stops is a prefix of the run its config
         * describes; the run still evaluates at the end, and `result.json` says it stopped early
         * (`stoppedBy: time-budget`).
         */
        timeBudgetMinutes: z.number().min(0).default(0),
        /** Tasks per step; each is played `groupSize` times. */
        tasksPerStep: z.number().int().positive().default(8),
        groupSize: z.number().int().min(2).default(8),
        /**
         * Advantage estimator: a key of `ADVANTAGE_ESTIMATORS` (algorithms/advantages.ts), each with its
         * paper. `nsr`, `psr` and `w-reinforce` read each episode's verdict (passed or not), not its reward.
         */
        algorithm: z.enum(ADVANTAGE_ESTIMATOR_NAMES).default('grpo'),
        /** Weighted REINFORCE (`algorithm: w-reinforce`): λ, the weight of a sample that passed (Zhu et al. 2025: 0.1). */
        wReinforce: z
          .object({ lambda: z.number().min(0).default(0.1) })
          .strict()
          .prefault({}),
        /**
         * `algorithm: rae` (SPIRAL's role-conditioned advantages): the decay α of each role's running
         * baseline, b ← α·b + (1 − α)·R (SPIRAL: 0.95). A role is a seat of a game (the task's
         * `meta.role`); a task without one is its own role.
         */
        rae: z
          .object({ decay: z.number().min(0).lt(1).default(0.95) })
          .strict()
          .prefault({}),
        /**
         * Self-play (SPIRAL): the policy plays every seat of a match. A task that is a seat of a
         * shared match (its meta names `match`, `seat`, `seats`, `role`) is drawn with the match's
         * other seats, and the episodes of one draw join one game, each seat its own episode and
         * trajectory, rewarded zero-sum. Every task of `rl.tasks` must be such a seat, with all of
         * its match's seats among them. Off: each seat plays the environment's scripted opponent.
         * `tasksPerStep` then counts matches.
         */
        selfPlay: z.boolean().default(false),
        /**
         * Policy-gradient loss: a policy-gradient key of `POLICY_LOSSES` (algorithms/policy-losses.ts):
         * `ppo` (clipped) or `importance_sampling` (with optional truncation).
         */
        loss: z.enum(RL_LOSS_NAMES).default('ppo'),
        clipLow: z.number().min(0).default(0.2),
        /** DAPO clip-higher: 0.28 in the paper. */
        clipHigh: z.number().min(0).default(0.28),
        ratioLevel: z.enum(['token', 'sequence']).default('token'),
        aggregation: z
          .enum(['token-mean', 'sequence-mean', 'token-sum', 'token-sum-norm'])
          .default('token-mean'),
        normLength: z.number().positive().default(1),
        entropyCoef: z.number().default(0),
        /**
         * Policy gradient only through this share of each micro-batch's trained tokens, highest
         * entropy first ("Beyond the 80/20 Rule", Wang et al. 2025: 0.2); 1 = every token. It does not
         * suit `sampling.exploreToolNames`: an explored tool name sits where the policy is sure of
         * another one (low entropy), so its gradient is among those dropped.
         */
        entropyTopFraction: z.number().gt(0).max(1).default(1),
        /** Truncated IS cap for `importance_sampling` (0 = off). */
        truncation: z.number().min(0).default(0),
        /**
         * Supervised terms added to every RL step, as InstructGPT's PPO-ptx mixes pretraining data
         * into PPO: the weight of one batch of a phase's demonstrations (its `batchSize`, `pack`),
         * so that what the phase taught (the warm-up's atomic skills, pretraining's reading of a
         * chain) does not erode under RL. 0 = off; needs that phase's section (its steps may be 0).
         */
        demos: z
          .object({
            warmup: z.number().min(0).default(0),
            pretrain: z.number().min(0).default(0),
          })
          .strict()
          .prefault({}),
        /**
         * KL penalty to the reference policy, the one RL starts from (after warm-up), with the
         * k1, k2 or k3 estimator (Schulman 2020; GRPO uses k3): `coef` × KL is added to the loss.
         * 0 = off. Costs one forward pass of the reference per step.
         */
        kl: z
          .object({
            coef: z.number().min(0).default(0),
            estimator: z.enum(['k1', 'k2', 'k3']).default('k3'),
          })
          .strict()
          .prefault({}),
        /**
         * Turn-level credit from the environment's process rewards (`reward.steps`, one per tool
         * call): each sampled token's advantage is its episode's outcome advantage plus `coef` ×
         * its turn's advantage (`turnAdvantages`: the turn's return in `min` or `sum` form,
         * normalised over the group's turns). 0 = outcome only.
         */
        turnCredit: z
          .object({
            coef: z.number().min(0).default(0),
            returns: z.enum(['min', 'sum']).default('min'),
          })
          .strict()
          .prefault({}),
        /**
         * RLPR (Yu et al. 2025): the policy's own mean per-token probability of the task's reference
         * answer (its oracle's final call), given the episode in place of its last turn, as a reward
         * that needs no verifier; RL trains on `environmentWeight` × the environment's reward +
         * `weight` × it (logged as the `rlpr` component). Absent = off.
         */
        rlpr: z
          .object({
            /** The RLPR reward's weight in the reward RL trains on (paper: 1, alone). */
            weight: z.number().min(0).default(1),
            /** The environment's own reward beside it: 0 trains with no verifier, as the paper does. */
            environmentWeight: z.number().min(0).default(0),
            /** Reward debiasing: less the answer's probability right after the prompt, clipped to [0, 1]. */
            debias: z.boolean().default(true),
            /**
             * Standard-deviation filtering: from RL step `from`, groups whose reward std is below `beta`
             * × a moving average (decay `emaRatio`) of the steps' mean group std get no gradient. The
             * paper's code: 0.5, 0.99, from its 11th step. `beta` 0 = off.
             */
            stdFilter: z
              .object({
                beta: z.number().min(0).default(0.5),
                emaRatio: z.number().min(0).max(1).default(0.99),
                from: z.number().int().positive().default(11),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .optional(),
        /**
         * PRIME (Cui et al. 2025): a second learner, the implicit PRM, starts from the policy RL
         * starts from (also its reference) and is trained online, one Adam step per RL step, on the
         * cross-entropy of σ(β Σ_t log π_φ/π_ref) against the verifier's verdicts. Its per-token
         * rewards β·log π_φ/π_ref and the verdicts, each with a leave-one-out baseline in its group,
         * sum into per-token returns, whitened over the batch: the policy's advantages, in place of
         * `rl.algorithm`'s. Absent = off.
         */
        prime: z
          .object({
            /** β of the implicit reward (paper: 0.05). */
            beta: z.number().positive().default(0.05),
            /** The PRM's Adam learning rate (paper: 1e-6, for a 7B model). */
            learningRate: z.number().positive().default(1e-6),
            /** Weight of the process rewards' advantage (paper's code, `reward_dpo_coef`: 5). */
            processCoef: z.number().min(0).default(5),
            /** Weight of the verdicts' advantage (paper's code, `reward_gt_coef`: 5). */
            outcomeCoef: z.number().min(0).default(5),
          })
          .strict()
          .optional(),
        /**
         * 1: play the next step's episodes while the learner trains on this step's (both cores busy),
         * as prime-rl's `async_level`. Those episodes are sampled with the weights from one step
         * earlier; the loss's ratio against their sampling logprobs (PPO clip, truncated IS)
         * corrects for it. 0: play, then train, in turn (on-policy).
         */
        asyncLevel: z.number().int().min(0).max(1).default(0),
        /** Optimiser steps per batch of rollouts (PPO epochs). */
        epochs: z.number().int().positive().default(1),
        /** DAPO dynamic sampling: drop zero-variance groups and resample up to this many rounds (0 = keep all groups). */
        dynamicSamplingRounds: z.number().int().nonnegative().default(0),
        /** DAPO overlong filtering: episodes cut by a length limit get no gradient (running out of turns keeps it). */
        overlongFilter: z.boolean().default(true),
        /**
         * Each tool call the policy wrote but that could not be read costs this much reward (a
         * `parse_errors` component of weight −coef). 0 = off: parse errors are only counted.
         */
        parseErrorPenalty: z.number().min(0).default(0),
        sampling: SamplingSchema.prefault({}),
        adam: AdamSchema.prefault({ learningRate: 1e-3 }),
        /** Episodes in flight at once. */
        concurrency: z.number().int().positive().default(64),
      })
      .strict(),
    eval: z
      .object({
        /** The evaluation's tasks; their split's accuracy is the run's `before` and `after`. */
        tasks: TaskFilterSchema,
        /**
         * Further splits evaluated alongside, with the same `meta` and `limit`, each reported under
         * `eval/<split>/`; a split the environment has no such task in is left out. `test-iid` holds
         * out instances of the units train has, so the gap to `test` is what holding out a unit costs.
         */
        alsoOn: z.array(SplitSchema).default(['test-iid']),
        /** Evaluate every k RL steps (and before and after RL). */
        every: z.number().int().positive().default(10),
        /**
         * Also report each evaluated split per value of these task meta keys, one group per
         * combination (`eval/<split>/by/<value>.<value>/…`): e.g. `[game, opponent]` for the games
         * environment, accuracy and reward per game and per fixed opponent.
         */
        by: z.array(z.string().min(1)).default([]),
        /**
         * Checkpoint selection: hold this many of RL's tasks (`rl.tasks`) out of training, the same
         * ones for every seed (the lowest by a hash of their id), play them at every evaluation
         * (`eval/validation/`), and keep the policy of the evaluation where they did best as
         * `<run>/best-model` (`result.best`). The test split never chooses. 0 = none.
         */
        validationTasks: z.number().int().nonnegative().default(0),
        sampling: SamplingSchema.prefault({ temperature: 0 }),
      })
      .strict(),
    /** Most assistant turns per episode. */
    maxTurns: z.number().int().positive().default(6),
  })
  .strict()
  .refine((c) => c.environment.feedback === undefined || c.environment.endpoints.length === 0, {
    message:
      'environment.feedback wraps the environment the trainer plays in process; servers of environment.endpoints serve it without: remove one',
    path: ['environment', 'feedback'],
  })
  .refine((c) => !c.pretrain?.steps || c.policy.initFrom === undefined, {
    message: 'pretrain (steps > 0) and policy.initFrom both choose the starting weights: keep one',
    path: ['pretrain'],
  })
  .refine((c) => c.rl.demos.warmup === 0 || c.warmup !== undefined, {
    message: 'rl.demos.warmup mixes in the warm-up demonstrations: add a warmup section (its steps may be 0)',
    path: ['rl', 'demos', 'warmup'],
  })
  .refine((c) => c.rl.demos.pretrain === 0 || c.pretrain !== undefined, {
    message:
      'rl.demos.pretrain mixes in the pretraining demonstrations: add a pretrain section (its steps may be 0)',
    path: ['rl', 'demos', 'pretrain'],
  })
  .refine((c) => c.rl.prime === undefined || (c.rl.rlpr === undefined && c.rl.turnCredit.coef === 0), {
    message:
      'rl.prime makes its own per-token advantages from the implicit PRM and the verdicts: remove rl.rlpr and set rl.turnCredit.coef to 0',
    path: ['rl', 'prime'],
  })
  .refine((c) => c.rl.rlpr === undefined || c.rl.dynamicSamplingRounds === 0, {
    message:
      'rl.rlpr filters groups by the std of its own reward; dynamic sampling refills by the environment reward: keep one (set rl.dynamicSamplingRounds to 0)',
    path: ['rl', 'dynamicSamplingRounds'],
  })
  .refine((c) => c.environment.model === 'none' || c.environment.endpoints.length === 0, {
    message:
      'environment.model gives the policy to environments in this process; servers at environment.endpoints cannot call it: leave endpoints empty',
    path: ['environment', 'model'],
  })
  .refine((c) => c.learner.kind !== 'tinker' || c.rl.kl.coef === 0, {
    message:
      'rl.kl needs a reference model from the weights RL starts from, which a Tinker-protocol learner cannot create: set rl.kl.coef to 0',
    path: ['rl', 'kl', 'coef'],
  })
  .refine((c) => c.policy.kind !== 'tinker' || c.learner.kind === 'tinker', {
    message: 'policy.kind tinker samples through the learner’s service: set learner.kind to tinker',
    path: ['policy', 'kind'],
  })
  .refine(
    (c) =>
      c.policy.kind !== 'tinker' ||
      (c.rl.sampling.exploreToolNames === 0 && c.eval.sampling.exploreToolNames === 0),
    {
      message:
        'exploring tool names needs a local engine; a Tinker service samples by itself (policy.kind onnx)',
      path: ['rl', 'sampling', 'exploreToolNames'],
    },
  )
  .refine(
    (c) =>
      c.template.toolTokens ||
      (c.rl.sampling.exploreToolNames === 0 && c.eval.sampling.exploreToolNames === 0),
    {
      message: 'exploring tool names needs template.toolTokens: true (each tool name one token)',
      path: ['rl', 'sampling', 'exploreToolNames'],
    },
  )
  .refine((c) => c.eval.sampling.branching === undefined, {
    message: 'branching is a way to play RL groups: move it to rl.sampling.branching',
    path: ['eval', 'sampling', 'branching'],
  })
  .refine((c) => !c.rl.sampling.branching || c.rl.sampling.branching.budget > c.rl.groupSize, {
    message:
      'rl.sampling.branching.budget counts the group’s first rl.groupSize episodes too: make it larger',
    path: ['rl', 'sampling', 'branching', 'budget'],
  })
  .refine((c) => !c.rl.sampling.branching || (!c.rl.prime && !c.rl.selfPlay), {
    message:
      'rl.sampling.branching replays an episode’s turns on a fresh session: it cannot join a self-play match, and rl.prime scores whole episodes; drop one',
    path: ['rl', 'sampling', 'branching'],
  });

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** A training config that cannot be read or does not validate; the message names each bad key. */
export class TrainConfigError extends ToolGymError {
  constructor(message: string, hint?: string) {
    super('invalid_train_config', message, hint);
  }
}

/** Validates a parsed config; errors name each bad key by its path. */
export function parseTrainConfig(value: unknown, origin = 'config'): TrainConfig {
  const result = TrainConfigSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : '(top level)';
      const keys =
        issue.code === 'unrecognized_keys'
          ? ` (${issue.keys.map((k) => (where === '(top level)' ? k : `${where}.${k}`)).join(', ')})`
          : '';
      return `  ${where}: ${issue.message}${keys}`;
    });
    throw new TrainConfigError(
      `${origin} is not a valid training config:\n${lines.join('\n')}`,
      'fix the keys named above; the configs/ folder has working examples',
    );
  }
  return result.data;
}

/**
 * Reads a YAML training config. A config may start from another (`extends: <path>`, relative to
 * its own file): the other's keys, with this file's merged over them (objects key by key, any other
 * value, lists included, replaced).
 */
export async function loadTrainConfig(file: string): Promise<TrainConfig> {
  return parseTrainConfig(await readConfigYaml(file, []), file);
}

async function readConfigYaml(file: string, chain: readonly string[]): Promise<unknown> {
  const where = path.resolve(file);
  if (chain.includes(where))
    throw new TrainConfigError(
      `${file} extends itself: ${[...chain, where].join(' → ')}`,
      'remove the extends key that closes the circle',
    );
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TrainConfigError(
      `cannot read the training config ${where} (${(error as NodeJS.ErrnoException).code})`,
      chain.length > 0
        ? `fix the extends path in ${chain.at(-1)} (it is relative to that file)`
        : 'give the path of a YAML training config, e.g. configs/compose-main.yaml',
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    // The parser's message ends in a drawing of the line; its first line says where.
    const line = (error as Error).message.split('\n')[0]!.replace(/:$/, '');
    throw new TrainConfigError(`${file} is not valid YAML: ${line}`, 'fix the YAML at that line');
  }
  if (!isPlainObject(value) || value.extends === undefined) return value;
  const { extends: base, ...own } = value;
  if (typeof base !== 'string')
    throw new TrainConfigError(
      `${file}: extends must be a path, got ${JSON.stringify(base)}`,
      'write extends: <file>.yaml',
    );
  return mergeConfig(await readConfigYaml(path.resolve(path.dirname(file), base), [...chain, where]), own);
}

/** `over` merged into `base`: objects key by key, any other value replaced. */
function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = mergeConfig(base[key], value);
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The Tinker training API's wire format (trainer/TINKER.md), the subset ToolGym speaks as a client
 * and as a server: request and response bodies as the Tinker SDK's `types/` and skyrl-tx's
 * `tinker/api.py` declare them. JSON throughout (the SDK may send forward_backward as protobuf;
 * skyrl-tx and ToolGym's server take JSON as well).
 *
 * Conversions to and from the in-process `Learner` types live here too, so the server and the
 * client cannot disagree.
 */
import { ToolGymError } from '@toolgym/protocol';
import { z } from 'zod';
import { LOSS_FN_NAMES, type LossFnName } from '../algorithms/policy-losses.ts';
import type { Datum, ForwardBackwardOutput, LossFnConfig, LossFnInputs } from '../learner/learner.ts';

export const API_PREFIX = '/api/v1';

/** Tinker's TensorData: a flat array with its dtype and (optional) shape. */
export const TensorDataSchema = z
  .object({
    data: z.array(z.number()),
    dtype: z.enum(['int64', 'float32']).optional(),
    shape: z.array(z.number().int().nonnegative()).nullable().optional(),
  })
  .strict();
export type TensorData = z.infer<typeof TensorDataSchema>;

export const ModelInputSchema = z
  .object({
    chunks: z
      .array(
        z
          .object({
            type: z.literal('encoded_text').default('encoded_text'),
            tokens: z.array(z.number().int().nonnegative()),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/** The per-datum inputs the losses read (Tinker's names; `ref_logprobs` is ToolGym's, for a KL term). */
export const LOSS_FN_INPUT_KEYS = [
  'target_tokens',
  'weights',
  'advantages',
  'logprobs',
  'ref_logprobs',
] as const;

export const WireDatumSchema = z
  .object({
    model_input: ModelInputSchema,
    loss_fn_inputs: z.record(z.string(), TensorDataSchema),
  })
  .strict();
export type WireDatum = z.infer<typeof WireDatumSchema>;

/** The losses a Tinker server computes that ToolGym's learners compute too (the registry's). */
export const LossFnSchema = z.enum(LOSS_FN_NAMES);

/** Tinker's `loss_fn_config`: `Dict[str, float]`. */
export const LossFnConfigWireSchema = z.record(z.string(), z.number());
export type LossFnConfigWire = z.infer<typeof LossFnConfigWireSchema>;

/**
 * The losses a Tinker-protocol server that says nothing more computes (the Tinker service and
 * skyrl-tx), with the options each takes: PPO's clip thresholds, ratio bounds 1 − ε_low and
 * 1 + ε_high. ToolGym's `implicit_prm` is not one of them.
 */
export const TINKER_LOSS_FN_CONFIG_KEYS: Partial<Record<LossFnName, readonly string[]>> = {
  cross_entropy: [],
  importance_sampling: [],
  ppo: ['clip_low_threshold', 'clip_high_threshold'],
};

/**
 * ToolGym's extensions of `loss_fn_config`, every value a number as Tinker's `Dict[str, float]`
 * requires: enumerations travel as the index into these lists.
 */
export const RATIO_LEVELS = ['token', 'sequence'] as const;
export const AGGREGATIONS = ['token-mean', 'sequence-mean', 'token-sum', 'token-sum-norm'] as const;
export const KL_ESTIMATORS = ['k1', 'k2', 'k3'] as const;
export const TOOLGYM_LOSS_FN_CONFIG_KEYS = [
  'ratio_level',
  'aggregation',
  'norm_length',
  'entropy_coef',
  'entropy_top_fraction',
  'kl_coef',
  'kl_estimator',
  'truncation',
  'temperature',
  'prm_beta',
] as const;

export const ForwardBackwardInputSchema = z
  .object({
    data: z.array(WireDatumSchema).min(1),
    loss_fn: LossFnSchema,
    loss_fn_config: LossFnConfigWireSchema.nullable().optional(),
  })
  .strict();

/** What every request to a model carries: its id, and its place in the model's sequence (1, 2, 3, …). */
const ModelCall = {
  model_id: z.string().min(1),
  seq_id: z.number().int().positive().nullable().optional(),
};

export const ForwardBackwardRequestSchema = z
  .object({
    ...ModelCall,
    forward_backward_input: ForwardBackwardInputSchema,
  })
  .strict();

export const ForwardRequestSchema = z
  .object({
    ...ModelCall,
    forward_input: ForwardBackwardInputSchema,
  })
  .strict();

/** Tinker's AdamParams, with its defaults (eps 1e-12, no clipping). */
export const AdamParamsSchema = z
  .object({
    learning_rate: z.number().min(0).default(1e-4),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95),
    eps: z.number().positive().default(1e-12),
    weight_decay: z.number().min(0).default(0),
    grad_clip_norm: z.number().min(0).default(0),
  })
  .strict();

export const OptimStepRequestSchema = z
  .object({
    ...ModelCall,
    adam_params: AdamParamsSchema,
    type: z.literal('optim_step').optional(),
  })
  .strict();

export const CreateSessionRequestSchema = z
  .object({
    tags: z.array(z.string()).default([]),
    user_metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    sdk_version: z.string().default('toolgym'),
    project_id: z.string().nullable().optional(),
    type: z.literal('create_session').optional(),
  })
  .strict();

export const LoraConfigSchema = z
  .object({
    rank: z.number().int().positive(),
    seed: z.number().int().nullable().optional(),
    train_unembed: z.boolean().optional(),
    train_mlp: z.boolean().optional(),
    train_attn: z.boolean().optional(),
  })
  .strict();

export const CreateModelRequestSchema = z
  .object({
    session_id: z.string().min(1),
    model_seq_id: z.number().int().nonnegative().default(0),
    base_model: z.string().min(1),
    user_metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    lora_config: LoraConfigSchema.nullable().optional(),
    type: z.literal('create_model').optional(),
  })
  .strict();

const Checkpoint = {
  path: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._-]+$/),
};

export const SaveWeightsRequestSchema = z
  .object({
    ...ModelCall,
    ...Checkpoint,
    ttl_seconds: z.number().int().positive().nullable().optional(),
    overwrite: z.boolean().optional(),
    type: z.literal('save_weights').optional(),
  })
  .strict();

export const SaveWeightsForSamplerRequestSchema = z
  .object({
    ...ModelCall,
    ...Checkpoint,
    sampling_session_seq_id: z.number().int().nullable().optional(),
    ttl_seconds: z.number().int().positive().nullable().optional(),
    type: z.literal('save_weights_for_sampler').optional(),
  })
  .strict();

export const LoadWeightsRequestSchema = z
  .object({
    ...ModelCall,
    path: z.string().min(1),
    optimizer: z.boolean(),
    type: z.literal('load_weights').optional(),
  })
  .strict();

export const ModelRequestSchema = z
  .object({ model_id: z.string().min(1), type: z.string().optional() })
  .strict();

export const SamplingParamsSchema = z
  .object({
    max_tokens: z.number().int().positive(),
    seed: z.number().int().nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string()), z.array(z.number().int())])
      .nullable()
      .optional(),
    temperature: z.number().min(0).default(1),
    top_k: z.number().int().default(-1),
    top_p: z.number().gt(0).max(1).default(1),
  })
  .strict();

export const SampleRequestSchema = z
  .object({
    num_samples: z.number().int().positive().max(256).default(1),
    prompt: ModelInputSchema,
    sampling_params: SamplingParamsSchema,
    base_model: z.string().nullable().optional(),
    model_path: z.string().nullable().optional(),
    sampling_session_id: z.string().nullable().optional(),
    seq_id: z.number().int().nullable().optional(),
    prompt_logprobs: z.boolean().nullable().optional(),
    topk_prompt_logprobs: z.number().int().min(0).optional(),
    type: z.literal('sample').optional(),
  })
  .strict();

export const RetrieveFutureRequestSchema = z
  .object({
    request_id: z.string().min(1),
    allow_metadata_only: z.boolean().optional(),
  })
  .strict();

/** A Tinker path, `tinker://<model_id>/<weights|sampler_weights>/<name>`. */
export interface TinkerPath {
  modelId: string;
  kind: 'weights' | 'sampler_weights';
  name: string;
}

export function parseTinkerPath(path: string): TinkerPath | undefined {
  const m = /^tinker:\/\/([^/]+)\/(weights|sampler_weights)\/([^/]+)$/.exec(path);
  return m ? { modelId: m[1]!, kind: m[2] as TinkerPath['kind'], name: m[3]! } : undefined;
}

export function tinkerPath(p: TinkerPath): string {
  return `tinker://${p.modelId}/${p.kind}/${p.name}`;
}

// ── responses ───────────────────────────────────────────────────────────────────────────────────

/** Every call that does work answers with a future (the SDK's UntypedAPIFuture). */
export interface UntypedApiFuture {
  request_id: string;
  model_id?: string | null;
}

/** `retrieve_future` while the work is still queued or running. */
export interface TryAgainResponse {
  type: 'try_again';
  request_id: string;
  queue_state: 'active' | 'paused_capacity' | 'paused_rate_limit';
}

/** `retrieve_future` for work that failed: `user` means the request was at fault. */
export interface RequestFailedResponse {
  error: string;
  category: 'unknown' | 'server' | 'user';
}

export interface GetServerCapabilitiesResponse {
  supported_models: Array<{ model_name?: string | null; max_context_length?: number | null }>;
  /**
   * ToolGym's addition (other servers leave it out): the `loss_fn_config` keys and
   * `loss_fn_inputs` it takes beyond Tinker's, and that its checkpoints download as safetensors.
   */
  toolgym?: {
    loss_fn_config_keys: readonly string[];
    loss_fn_input_keys: readonly string[];
    checkpoint_archive: 'safetensors';
  };
}

export interface SampledSequenceWire {
  tokens: number[];
  logprobs: number[] | null;
  stop_reason: 'length' | 'stop';
}

export interface SampleResponseWire {
  type: 'sample';
  sequences: SampledSequenceWire[];
  prompt_logprobs?: Array<number | null> | null;
}

// ── conversions ─────────────────────────────────────────────────────────────────────────────────

export function datumToWire(d: Datum): WireDatum {
  const tensor = (data: number[], dtype: 'int64' | 'float32'): TensorData => ({
    data,
    dtype,
    shape: [data.length],
  });
  const inputs = d.lossFnInputs;
  const loss: Record<string, TensorData> = { target_tokens: tensor(inputs.target_tokens, 'int64') };
  if (inputs.weights) loss.weights = tensor(inputs.weights, 'float32');
  if (inputs.advantages) loss.advantages = tensor(inputs.advantages, 'float32');
  if (inputs.logprobs) loss.logprobs = tensor(inputs.logprobs, 'float32');
  if (inputs.ref_logprobs) loss.ref_logprobs = tensor(inputs.ref_logprobs, 'float32');
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: d.modelInput.tokens }] },
    loss_fn_inputs: loss,
  };
}

/** A datum from the wire; an input no loss reads is refused (`field` names it). */
export function datumFromWire(d: WireDatum, index: number): Datum {
  const inputs = d.loss_fn_inputs;
  for (const key of Object.keys(inputs))
    if (!(LOSS_FN_INPUT_KEYS as readonly string[]).includes(key))
      throw new WireFieldError(
        `forward_backward_input.data.${index}.loss_fn_inputs.${key}`,
        `unknown loss input (this server reads ${LOSS_FN_INPUT_KEYS.join(', ')})`,
      );
  if (!inputs.target_tokens)
    throw new WireFieldError(`forward_backward_input.data.${index}.loss_fn_inputs.target_tokens`, 'required');
  const lossFnInputs: LossFnInputs = { target_tokens: inputs.target_tokens.data };
  if (inputs.weights) lossFnInputs.weights = inputs.weights.data;
  if (inputs.advantages) lossFnInputs.advantages = inputs.advantages.data;
  if (inputs.logprobs) lossFnInputs.logprobs = inputs.logprobs.data;
  if (inputs.ref_logprobs) lossFnInputs.ref_logprobs = inputs.ref_logprobs.data;
  return { modelInput: { tokens: d.model_input.chunks.flatMap((c) => c.tokens) }, lossFnInputs };
}

/** ToolGym's loss options as `loss_fn_config`; `clipLow`/`clipHigh` become Tinker's ratio bounds. */
export function lossConfigToWire(c: LossFnConfig): LossFnConfigWire {
  const out: LossFnConfigWire = {};
  if (c.clipLow !== undefined) out.clip_low_threshold = 1 - c.clipLow;
  if (c.clipHigh !== undefined) out.clip_high_threshold = 1 + c.clipHigh;
  if (c.ratioLevel !== undefined) out.ratio_level = RATIO_LEVELS.indexOf(c.ratioLevel);
  if (c.aggregation !== undefined) out.aggregation = AGGREGATIONS.indexOf(c.aggregation);
  if (c.normLength !== undefined) out.norm_length = c.normLength;
  if (c.entropyCoef !== undefined) out.entropy_coef = c.entropyCoef;
  if (c.entropyTopFraction !== undefined) out.entropy_top_fraction = c.entropyTopFraction;
  if (c.klCoef !== undefined) out.kl_coef = c.klCoef;
  if (c.klEstimator !== undefined) out.kl_estimator = KL_ESTIMATORS.indexOf(c.klEstimator);
  if (c.truncation !== undefined) out.truncation = c.truncation;
  if (c.temperature !== undefined) out.temperature = c.temperature;
  if (c.prmBeta !== undefined) out.prm_beta = c.prmBeta;
  if (c.covControl !== undefined)
    throw new WireFieldError('loss_fn_config.cov_control', 'Clip-Cov / KL-Cov has no loss_fn_config key yet');
  return out;
}

/** Without `aggregation` a loss is Tinker's: a sum over tokens (ToolGym's client always sends it). */
export function lossConfigFromWire(w: LossFnConfigWire | null | undefined): LossFnConfig {
  const out: LossFnConfig = { aggregation: 'token-sum' };
  if (!w) return out;
  const known = new Set<string>([...(TINKER_LOSS_FN_CONFIG_KEYS.ppo ?? []), ...TOOLGYM_LOSS_FN_CONFIG_KEYS]);
  for (const key of Object.keys(w))
    if (!known.has(key))
      throw new WireFieldError(
        `loss_fn_config.${key}`,
        `unknown option (this server takes ${[...known].join(', ')})`,
      );
  const pick = <T>(key: string, values: readonly T[]): T => {
    const v = values[w[key]!];
    if (v === undefined)
      throw new WireFieldError(
        `loss_fn_config.${key}`,
        `must be an index 0–${values.length - 1} into ${values.join(', ')}`,
      );
    return v;
  };
  // Rounding: 1 − (1 − ε) is not always ε in binary floating point; 12 digits keep the value exact enough and stable.
  const round = (x: number) => Number(x.toPrecision(12));
  if (w.clip_low_threshold !== undefined) out.clipLow = round(1 - w.clip_low_threshold);
  if (w.clip_high_threshold !== undefined) out.clipHigh = round(w.clip_high_threshold - 1);
  if (w.ratio_level !== undefined) out.ratioLevel = pick('ratio_level', RATIO_LEVELS);
  if (w.aggregation !== undefined) out.aggregation = pick('aggregation', AGGREGATIONS);
  if (w.norm_length !== undefined) out.normLength = w.norm_length;
  if (w.entropy_coef !== undefined) out.entropyCoef = w.entropy_coef;
  if (w.entropy_top_fraction !== undefined) out.entropyTopFraction = w.entropy_top_fraction;
  if (w.kl_coef !== undefined) out.klCoef = w.kl_coef;
  if (w.kl_estimator !== undefined) out.klEstimator = pick('kl_estimator', KL_ESTIMATORS);
  if (w.truncation !== undefined) out.truncation = w.truncation;
  if (w.temperature !== undefined) out.temperature = w.temperature;
  if (w.prm_beta !== undefined) out.prmBeta = w.prm_beta;
  return out;
}

export type WireForwardBackwardOutput = {
  loss_fn_output_type: string;
  loss_fn_outputs: Array<Record<string, TensorData>>;
  metrics: Record<string, number>;
};

export function forwardOutputToWire(o: ForwardBackwardOutput): WireForwardBackwardOutput {
  return {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: o.lossFnOutputs.map((x) => ({
      logprobs: { data: x.logprobs, dtype: 'float32', shape: [x.logprobs.length] },
    })),
    metrics: metricsToWire(o.metrics),
  };
}

export function forwardOutputFromWire(w: WireForwardBackwardOutput): ForwardBackwardOutput {
  return {
    lossFnOutputs: w.loss_fn_outputs.map((x) => ({ logprobs: x.logprobs?.data ?? [] })),
    metrics: metricsFromWire(w.metrics),
  };
}

/**
 * Tinker names a pass's metric `name:reduction`, the reduction saying how the passes of a chunked
 * batch combine (the SDK's `lib/chunked_fwdbwd_helpers.py`; the service reports `loss:sum`). The
 * learner's loss and token counts add across micro-batches; its diagnostics are token means.
 */
const SUMMED_METRICS = new Set(['loss', 'tokens', 'cov_tokens']);
/** The service's names where they differ: `unmasked_tokens` counts every input token, as the learner's `tokens` does. */
const TINKER_NAMES: Record<string, string> = { tokens: 'unmasked_tokens' };

export function metricsToWire(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [`${TINKER_NAMES[k] ?? k}:${SUMMED_METRICS.has(k) ? 'sum' : 'mean'}`, v]),
  );
}

/** Other servers' names for the learner's metrics: skyrl-tx's SkyRL-train backend (`total_loss:sum`) and JAX backend (`skyrl.ai/grad_norm`). */
const METRIC_ALIASES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(TINKER_NAMES).map(([ours, theirs]) => [theirs, ours])),
  total_loss: 'loss',
  'skyrl.ai/grad_norm': 'grad_norm',
  'skyrl.ai/learning_rate': 'learning_rate',
};

/** A server's metrics by the learner's names: the reduction suffix dropped, known aliases renamed. */
export function metricsFromWire(m: Record<string, number> | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(m ?? {})) {
    const name = key.replace(/:[a-z_]+$/, '');
    out[METRIC_ALIASES[name] ?? name] = value;
  }
  return out;
}

/** A request field that parsed but makes no sense (rendered as 400 naming the field). */
export class WireFieldError extends ToolGymError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('invalid_field', `${field}: ${message}`, `fix ${field} as the message says`);
  }
}

/**
 * Wire format of the learner HTTP API (trainer/LEARNER_API.md), following the public shape of the
 * Tinker training API: snake_case fields, a datum is `model_input.chunks[].tokens` plus
 * `loss_fn_inputs` of TensorData, Adam parameters as `adam_params`, and every call that does work
 * returns a future (`request_id`) that the client polls with /api/v1/retrieve_future.
 *
 * Conversions to and from the in-process `Learner` types live here too, so the server and the
 * client cannot disagree.
 */
import type { DecoderConfig, DecoderWeights } from '@toolgym/agents';
import { ToolGymError } from '@toolgym/protocol';
import { z } from 'zod';
import { LOSS_FN_NAMES } from '../algorithms/policy-losses.ts';
import type {
  AdamParams,
  Datum,
  ForwardBackwardOutput,
  LearnerState,
  LossFnConfig,
  LossFnInputs,
  OptimStepOutput,
} from '../learner/learner.ts';

export const API_PREFIX = '/api/v1';

/** Tinker's TensorData: a flat array with its dtype and shape. */
export const TensorDataSchema = z
  .object({
    data: z.array(z.number()),
    dtype: z.enum(['int64', 'float32']),
    shape: z.array(z.number().int().nonnegative()).optional(),
  })
  .strict();
export type TensorData = z.infer<typeof TensorDataSchema>;

const EncodedTextChunkSchema = z
  .object({
    type: z.literal('encoded_text').default('encoded_text'),
    tokens: z.array(z.number().int().nonnegative()),
  })
  .strict();

export const WireDatumSchema = z
  .object({
    model_input: z.object({ chunks: z.array(EncodedTextChunkSchema).min(1) }).strict(),
    loss_fn_inputs: z
      .object({
        target_tokens: TensorDataSchema,
        weights: TensorDataSchema.optional(),
        advantages: TensorDataSchema.optional(),
        logprobs: TensorDataSchema.optional(),
        ref_logprobs: TensorDataSchema.optional(),
      })
      .strict(),
  })
  .strict();
export type WireDatum = z.infer<typeof WireDatumSchema>;

export const LossFnSchema = z.enum(LOSS_FN_NAMES);

/** Loss options. Tinker's `clip_low_threshold`/`clip_high_threshold` are ratio bounds (1 − ε, 1 + ε). */
export const LossFnConfigSchema = z
  .object({
    clip_low_threshold: z.number().min(0).max(1).optional(),
    clip_high_threshold: z.number().min(1).optional(),
    ratio_level: z.enum(['token', 'sequence']).optional(),
    aggregation: z.enum(['token-mean', 'sequence-mean', 'token-sum', 'token-sum-norm']).optional(),
    norm_length: z.number().positive().optional(),
    entropy_coef: z.number().optional(),
    entropy_top_fraction: z.number().gt(0).max(1).optional(),
    kl_coef: z.number().min(0).optional(),
    kl_estimator: z.enum(['k1', 'k2', 'k3']).optional(),
    truncation: z.number().positive().optional(),
    temperature: z.number().positive().optional(),
    prm_beta: z.number().positive().optional(),
  })
  .strict();

/** Every request that changes the learner carries the model id and the client's sequence number. */
const Sequenced = {
  model_id: z.string().min(1),
  /** 1, 2, 3, … per model: the server applies `seq_id` = its next expected number exactly once. */
  seq_id: z.number().int().positive(),
};

export const ForwardBackwardRequestSchema = z
  .object({
    ...Sequenced,
    forward_backward_input: z
      .object({
        data: z.array(WireDatumSchema).min(1),
        loss_fn: LossFnSchema,
        loss_fn_config: LossFnConfigSchema.optional(),
      })
      .strict(),
  })
  .strict();

export const ForwardRequestSchema = z
  .object({
    model_id: z.string().min(1),
    forward_input: z
      .object({
        data: z.array(WireDatumSchema).min(1),
        loss_fn: LossFnSchema.default('cross_entropy'),
        loss_fn_config: LossFnConfigSchema.optional(),
      })
      .strict(),
  })
  .strict();

export const AdamParamsSchema = z
  .object({
    learning_rate: z.number().min(0),
    beta1: z.number().min(0).max(1).optional(),
    beta2: z.number().min(0).max(1).optional(),
    eps: z.number().positive().optional(),
    weight_decay: z.number().min(0).optional(),
    grad_clip_norm: z.number().min(0).optional(),
  })
  .strict();

export const OptimStepRequestSchema = z.object({ ...Sequenced, adam_params: AdamParamsSchema }).strict();

/** A named set of float32 tensors, each base64 of its little-endian bytes (weights are too big for JSON numbers). */
export const WireTensorMapSchema = z.record(
  z.string(),
  z
    .object({
      dtype: z.literal('float32'),
      shape: z.array(z.number().int().nonnegative()),
      data_b64: z.string(),
    })
    .strict(),
);

export const DecoderConfigSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    dFF: z.number().int().positive(),
    maxPositions: z.number().int().positive(),
    layerNormEps: z.number().positive(),
    positions: z.enum(['learned', 'rope']).optional(),
    ropeTheta: z.number().positive().optional(),
  })
  .strict();

export const CreateModelRequestSchema = z
  .object({
    decoder: DecoderConfigSchema,
    weights: WireTensorMapSchema,
    backend: z.enum(['wasm', 'cpu']).optional(),
    micro_batch_size: z.number().int().positive().optional(),
  })
  .strict();

export const LoadWeightsRequestSchema = z.object({ ...Sequenced, weights: WireTensorMapSchema }).strict();

export const LoadStateRequestSchema = z
  .object({
    ...Sequenced,
    state: z
      .object({
        step: z.number().int().nonnegative(),
        weights: WireTensorMapSchema,
        adam_m: WireTensorMapSchema,
        adam_v: WireTensorMapSchema,
      })
      .strict(),
  })
  .strict();

export const ModelRequestSchema = z.object({ model_id: z.string().min(1) }).strict();

export const RetrieveFutureRequestSchema = z
  .object({
    request_id: z.string().min(1),
    /** How long the server may hold the poll open waiting for the result (default 5000 ms). */
    timeout_ms: z.number().int().min(0).max(60_000).optional(),
  })
  .strict();

/** The body of every error response. */
export interface WireError {
  error: { code: string; message: string; field?: string; expected_seq_id?: number };
}

// ── conversions ─────────────────────────────────────────────────────────────────────────────────

export function datumToWire(d: Datum): WireDatum {
  const tensor = (data: number[], dtype: 'int64' | 'float32'): TensorData => ({
    data,
    dtype,
    shape: [data.length],
  });
  const inputs = d.lossFnInputs;
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: d.modelInput.tokens }] },
    loss_fn_inputs: {
      target_tokens: tensor(inputs.target_tokens, 'int64'),
      ...(inputs.weights ? { weights: tensor(inputs.weights, 'float32') } : {}),
      ...(inputs.advantages ? { advantages: tensor(inputs.advantages, 'float32') } : {}),
      ...(inputs.logprobs ? { logprobs: tensor(inputs.logprobs, 'float32') } : {}),
      ...(inputs.ref_logprobs ? { ref_logprobs: tensor(inputs.ref_logprobs, 'float32') } : {}),
    },
  };
}

export function datumFromWire(d: WireDatum): Datum {
  const inputs = d.loss_fn_inputs;
  const lossFnInputs: LossFnInputs = { target_tokens: inputs.target_tokens.data };
  if (inputs.weights) lossFnInputs.weights = inputs.weights.data;
  if (inputs.advantages) lossFnInputs.advantages = inputs.advantages.data;
  if (inputs.logprobs) lossFnInputs.logprobs = inputs.logprobs.data;
  if (inputs.ref_logprobs) lossFnInputs.ref_logprobs = inputs.ref_logprobs.data;
  return { modelInput: { tokens: d.model_input.chunks.flatMap((c) => c.tokens) }, lossFnInputs };
}

export function lossConfigToWire(c: LossFnConfig): z.infer<typeof LossFnConfigSchema> {
  const out: z.infer<typeof LossFnConfigSchema> = {};
  if (c.clipLow !== undefined) out.clip_low_threshold = 1 - c.clipLow;
  if (c.clipHigh !== undefined) out.clip_high_threshold = 1 + c.clipHigh;
  if (c.ratioLevel !== undefined) out.ratio_level = c.ratioLevel;
  if (c.aggregation !== undefined) out.aggregation = c.aggregation;
  if (c.normLength !== undefined) out.norm_length = c.normLength;
  if (c.entropyCoef !== undefined) out.entropy_coef = c.entropyCoef;
  if (c.entropyTopFraction !== undefined) out.entropy_top_fraction = c.entropyTopFraction;
  if (c.klCoef !== undefined) out.kl_coef = c.klCoef;
  if (c.klEstimator !== undefined) out.kl_estimator = c.klEstimator;
  if (c.truncation !== undefined) out.truncation = c.truncation;
  if (c.temperature !== undefined) out.temperature = c.temperature;
  if (c.prmBeta !== undefined) out.prm_beta = c.prmBeta;
  return out;
}

export function lossConfigFromWire(w: z.infer<typeof LossFnConfigSchema> = {}): LossFnConfig {
  const out: LossFnConfig = {};
  // Rounding: 1 − (1 − ε) is not always ε in binary floating point; 12 digits keep the value exact enough and stable.
  const round = (x: number) => Number(x.toPrecision(12));
  if (w.clip_low_threshold !== undefined) out.clipLow = round(1 - w.clip_low_threshold);
  if (w.clip_high_threshold !== undefined) out.clipHigh = round(w.clip_high_threshold - 1);
  if (w.ratio_level !== undefined) out.ratioLevel = w.ratio_level;
  if (w.aggregation !== undefined) out.aggregation = w.aggregation;
  if (w.norm_length !== undefined) out.normLength = w.norm_length;
  if (w.entropy_coef !== undefined) out.entropyCoef = w.entropy_coef;
  if (w.entropy_top_fraction !== undefined) out.entropyTopFraction = w.entropy_top_fraction;
  if (w.kl_coef !== undefined) out.klCoef = w.kl_coef;
  if (w.kl_estimator !== undefined) out.klEstimator = w.kl_estimator;
  if (w.truncation !== undefined) out.truncation = w.truncation;
  if (w.temperature !== undefined) out.temperature = w.temperature;
  if (w.prm_beta !== undefined) out.prmBeta = w.prm_beta;
  return out;
}

export function adamToWire(a: AdamParams): z.infer<typeof AdamParamsSchema> {
  return {
    learning_rate: a.learningRate,
    ...(a.beta1 !== undefined ? { beta1: a.beta1 } : {}),
    ...(a.beta2 !== undefined ? { beta2: a.beta2 } : {}),
    ...(a.eps !== undefined ? { eps: a.eps } : {}),
    ...(a.weightDecay !== undefined ? { weight_decay: a.weightDecay } : {}),
    ...(a.gradClipNorm !== undefined ? { grad_clip_norm: a.gradClipNorm } : {}),
  };
}

export function adamFromWire(w: z.infer<typeof AdamParamsSchema>): AdamParams {
  return {
    learningRate: w.learning_rate,
    ...(w.beta1 !== undefined ? { beta1: w.beta1 } : {}),
    ...(w.beta2 !== undefined ? { beta2: w.beta2 } : {}),
    ...(w.eps !== undefined ? { eps: w.eps } : {}),
    ...(w.weight_decay !== undefined ? { weightDecay: w.weight_decay } : {}),
    ...(w.grad_clip_norm !== undefined ? { gradClipNorm: w.grad_clip_norm } : {}),
  };
}

export function tensorMapToWire(
  weights: DecoderWeights,
  shapes: Record<string, number[]>,
): z.infer<typeof WireTensorMapSchema> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, data]) => [
      name,
      {
        dtype: 'float32' as const,
        shape: shapes[name] ?? [data.length],
        data_b64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      },
    ]),
  );
}

export function tensorMapFromWire(wire: z.infer<typeof WireTensorMapSchema>, field: string): DecoderWeights {
  const out: DecoderWeights = {};
  for (const [name, t] of Object.entries(wire)) {
    const bytes = Buffer.from(t.data_b64, 'base64');
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (bytes.length !== count * 4)
      throw new WireFieldError(
        `${field}.${name}.data_b64`,
        `holds ${bytes.length} bytes, shape [${t.shape}] needs ${count * 4}`,
      );
    // Copy into an aligned buffer: Buffer.from(base64) may share a pool with an odd offset.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes);
    out[name] = data;
  }
  return out;
}

export function stateToWire(s: LearnerState, shapes: Record<string, number[]>) {
  return {
    step: s.step,
    weights: tensorMapToWire(s.weights, shapes),
    adam_m: tensorMapToWire(s.adamM, shapes),
    adam_v: tensorMapToWire(s.adamV, shapes),
  };
}

export function stateFromWire(w: z.infer<typeof LoadStateRequestSchema>['state']): LearnerState {
  return {
    step: w.step,
    weights: tensorMapFromWire(w.weights, 'state.weights'),
    adamM: tensorMapFromWire(w.adam_m, 'state.adam_m'),
    adamV: tensorMapFromWire(w.adam_v, 'state.adam_v'),
  };
}

export type WireForwardBackwardOutput = {
  loss_fn_output_type: string;
  loss_fn_outputs: Array<{ logprobs: TensorData }>;
  metrics: Record<string, number>;
};

export function forwardOutputToWire(o: ForwardBackwardOutput): WireForwardBackwardOutput {
  return {
    loss_fn_output_type: 'logprobs',
    loss_fn_outputs: o.lossFnOutputs.map((x) => ({
      logprobs: { data: x.logprobs, dtype: 'float32', shape: [x.logprobs.length] },
    })),
    metrics: o.metrics,
  };
}

export function forwardOutputFromWire(w: WireForwardBackwardOutput): ForwardBackwardOutput {
  return { lossFnOutputs: w.loss_fn_outputs.map((x) => ({ logprobs: x.logprobs.data })), metrics: w.metrics };
}

export type WireOptimStepOutput = { metrics: OptimStepOutput['metrics'] };

export interface WireInfo {
  model_id: string | null;
  backend: string | null;
  decoder: DecoderConfig | null;
  parameters: number;
  step: number;
  next_seq_id: number;
}

/** A request field that parsed but makes no sense (rendered as 400 naming the field). */
export class WireFieldError extends ToolGymError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('invalid_field', `${field}: ${message}`, 'see trainer/LEARNER_API.md for the field');
  }
}

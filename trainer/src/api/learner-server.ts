/**
 * `toolgym learner serve`: ToolGym's built-in models behind the Tinker training API (the subset in
 * trainer/TINKER.md), so that the one Tinker-protocol client (`TinkerLearner`) trains them here and
 * real models on a Tinker-compatible GPU service.
 *
 * A base model is a ToolGym model directory (an absolute path on this machine) or a named built-in
 * config (`get_server_capabilities` lists them). Every call that does work is queued and answered
 * with a future the client polls with `retrieve_future`; calls apply one at a time in arrival
 * order. A request with `seq_id` applies exactly once per model: a resubmission (the same model and
 * `seq_id`) gets the same future. Checkpoints (`save_weights`, `save_weights_for_sampler`) are kept
 * in memory and, with a state directory, on disk, so a restarted server still loads them; live
 * models are not (as on Tinker, a client that lost its model loads a checkpoint into a new one).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  createOnnxPolicy,
  type DecoderConfig,
  type DecoderWeights,
  decoderWeightShapes,
  initDecoderWeights,
  type OnnxPolicy,
  readDecoderModelDir,
  writeDecoderModelDir,
} from '@toolgym/agents';
import {
  type AppEnv,
  createHttpApp,
  HttpError,
  type ListenOptions,
  mountRoutes,
  type Route,
  readJson,
} from '@toolgym/http';
import { ToolGymError } from '@toolgym/protocol';
import type { z } from 'zod';
import { writeFileAtomic } from '../checkpoint/atomic-file.ts';
import { learnerStateFromTensors, learnerStateToTensors } from '../checkpoint/learner-state-tensors.ts';
import { decodeSafetensors, encodeSafetensors } from '../export/safetensors.ts';
import type { TfBackend } from '../learner/backend.ts';
import { type Learner, LearnerInputError, type LearnerState } from '../learner/learner.ts';
import { createWorkerLearner } from '../learner/worker-learner.ts';
import {
  AdamParamsSchema,
  API_PREFIX,
  CreateModelRequestSchema,
  CreateSessionRequestSchema,
  datumFromWire,
  ForwardBackwardRequestSchema,
  ForwardRequestSchema,
  forwardOutputToWire,
  type GetServerCapabilitiesResponse,
  LOSS_FN_INPUT_KEYS,
  LoadWeightsRequestSchema,
  lossConfigFromWire,
  ModelRequestSchema,
  OptimStepRequestSchema,
  parseTinkerPath,
  type RequestFailedResponse,
  RetrieveFutureRequestSchema,
  SampleRequestSchema,
  type SampleResponseWire,
  SaveWeightsForSamplerRequestSchema,
  SaveWeightsRequestSchema,
  type TinkerPath,
  TOOLGYM_LOSS_FN_CONFIG_KEYS,
  type TryAgainResponse,
  tinkerPath,
  WireFieldError,
} from './tinker-wire.ts';

export interface LearnerServerOptions extends ListenOptions {
  /** Default 8470; 0 picks a free port. */
  port?: number;
  /** API key every request must carry (`X-API-Key`, or `Authorization: Bearer`); required off loopback. */
  token?: string;
  /** Where checkpoints are written; without it a restart loses them. */
  stateDir?: string;
  /** TF.js backend. Default wasm. */
  backend?: TfBackend;
  /** Learner worker threads per model (data-parallel above 1). Default 1. */
  workers?: number;
  /** Sequences per learner micro-batch. Default 64. */
  microBatchSize?: number;
  /** How long `retrieve_future` holds a poll open before answering try_again. Default 5000 ms. */
  futureWaitMs?: number;
}

export interface LearnerServer {
  url: string;
  close(): Promise<void>;
}

/** A learner server that cannot start as configured. */
export class LearnerServerConfigError extends ToolGymError {
  constructor(message: string, hint: string) {
    super('invalid_learner_server_config', message, hint);
  }
}

/**
 * The named built-in base models: ToolGym's decoder over the byte tokenizer, initialised from
 * `lora_config.seed` (0 when absent). A model directory names any other.
 */
export const BUILT_IN_MODELS: Record<string, DecoderConfig> = {
  'toolgym/decoder-tiny': {
    vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
    dModel: 32,
    nLayers: 1,
    nHeads: 2,
    dFF: 64,
    maxPositions: 256,
    layerNormEps: 1e-5,
    positions: 'rope',
  },
  'toolgym/decoder-small': {
    vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
    dModel: 64,
    nLayers: 2,
    nHeads: 4,
    dFF: 256,
    maxPositions: 512,
    layerNormEps: 1e-5,
    positions: 'rope',
  },
};

/** Futures and idempotent answers kept for retries; an older future is gone (410, and `seq_expired` on resubmission). */
const KEPT = 1024;

type Outcome = { status: 200; body: unknown } | { status: 200; body: RequestFailedResponse };

interface Model {
  id: string;
  baseModel: string;
  decoder: DecoderConfig;
  learner: Learner;
  /** Next seq_id this model applies. */
  nextSeq: number;
  /** A directory the sampler reads its tokenizer and layout from (the base model's, or one written for a built-in). */
  modelDir: string;
  sampler?: { policy: OnnxPolicy; loaded: string };
}

interface StoredCheckpoint {
  baseModel: string;
  decoder: DecoderConfig;
  state: LearnerState;
}

export async function serveLearner(options: LearnerServerOptions = {}): Promise<LearnerServer> {
  const { app, listen } = createHttpApp({
    ...options,
    name: 'the learner API',
    auth: {
      tokens: { client: options.token },
      apiKeyHeader: 'x-api-key',
      ...(options.token ? {} : { anonymous: 'client' as const }),
    },
    defaultMaxBodyBytes: 256 * 1024 * 1024,
  });
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new LearnerServerConfigError(
      `--workers must be a whole number ≥ 1, got ${options.workers}`,
      'one worker per core the learner may use',
    );
  const log = options.log ?? (() => {});
  const backend = options.backend ?? 'wasm';
  const futureWaitMs = options.futureWaitMs ?? 5000;
  const scratch = await mkdtemp(path.join(tmpdir(), 'toolgym-learner-serve-'));
  const sessions = new Set<string>();
  const models = new Map<string, Model>();
  const checkpoints = new Map<string, StoredCheckpoint>();
  /** request_id → outcome. A resubmitted sequenced request finds its future here. */
  const futures = new Map<string, Promise<Outcome>>();
  /** Keeps a map to its newest `KEPT` entries: a long run's results do not pile up in memory. */
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.set(key, value);
    for (const oldest of map.keys()) {
      if (map.size <= KEPT) break;
      map.delete(oldest);
    }
  };
  /** X-Idempotency-Key → the answer first given, so a retried submission creates nothing twice. */
  const answered = new Map<string, unknown>();
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };

  const checkpointFile = (p: TinkerPath) =>
    options.stateDir ? path.join(options.stateDir, p.modelId, p.kind, `${p.name}.safetensors`) : undefined;

  const storeCheckpoint = async (p: TinkerPath, c: StoredCheckpoint) => {
    checkpoints.set(tinkerPath(p), c);
    const file = checkpointFile(p);
    if (!file) return;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, checkpointBytes(c));
  };

  const findCheckpoint = async (raw: string, field: string): Promise<StoredCheckpoint> => {
    const p = parseTinkerPath(raw);
    if (!p)
      throw new HttpError(400, 'invalid_path', `${raw} is not a Tinker path`, {
        hint: 'use the path save_weights or save_weights_for_sampler returned: tinker://<model_id>/weights/<name>',
        details: { field },
      });
    const known = checkpoints.get(tinkerPath(p));
    if (known) return known;
    const file = checkpointFile(p);
    const bytes = file ? await readFile(file).catch(() => undefined) : undefined;
    if (!bytes)
      throw new HttpError(404, 'unknown_checkpoint', `no checkpoint ${raw} on this server`, {
        details: { field },
      });
    const decoded = decodeSafetensors(bytes, raw);
    const meta = decoded.metadata;
    const c: StoredCheckpoint = {
      baseModel: meta.base_model!,
      decoder: JSON.parse(meta.decoder!) as DecoderConfig,
      state: learnerStateFromTensors(decoded.tensors, Number(meta.step)),
    };
    checkpoints.set(tinkerPath(p), c);
    return c;
  };

  const requireModel = (id: string): Model => {
    const m = models.get(id);
    if (!m)
      throw new HttpError(404, 'unknown_model', `model ${id} is not on this server`, {
        hint: 'create it with create_model (a restarted server keeps checkpoints, not models: load one into a new model)',
        details: { field: 'model_id' },
      });
    return m;
  };

  /** Runs `work` in the queue; its answer, or its failure as Tinker's RequestFailedResponse. */
  const submit = (requestId: string, work: () => Promise<unknown>): string => {
    const outcome = enqueue(async (): Promise<Outcome> => {
      try {
        return { status: 200, body: await work() };
      } catch (error) {
        const e = asHttpError(error);
        if (e.status >= 500) log(`learner server: ${requestId}: ${(error as Error).stack ?? error}`);
        return { status: 200, body: { error: e.message, category: e.status >= 500 ? 'server' : 'user' } };
      }
    });
    remember(futures, requestId, outcome);
    return requestId;
  };

  /** A model's request: with seq_id, exactly once (a resubmission gets the first future). */
  const forModel = (
    modelId: string,
    seq: number | null | undefined,
    work: (m: Model) => Promise<unknown>,
  ): { request_id: string; model_id: string } => {
    const model = requireModel(modelId);
    if (seq === null || seq === undefined)
      return { request_id: submit(`${modelId}:r-${randomUUID()}`, () => work(model)), model_id: modelId };
    const requestId = `${modelId}:${seq}`;
    if (futures.has(requestId)) return { request_id: requestId, model_id: modelId };
    if (seq < model.nextSeq)
      throw new HttpError(
        409,
        'seq_expired',
        `seq_id ${seq} of ${modelId} was applied and is no longer kept`,
        {
          headers: { 'x-should-retry': 'false' },
          details: { field: 'seq_id' },
        },
      );
    if (seq > model.nextSeq)
      throw new HttpError(
        400,
        'seq_gap',
        `seq_id ${seq} of ${modelId} arrived but ${model.nextSeq} is next`,
        {
          hint: 'send a model’s requests in order, numbered 1, 2, 3, …',
          details: { field: 'seq_id', expected_seq_id: model.nextSeq },
        },
      );
    model.nextSeq = seq + 1;
    return { request_id: submit(requestId, () => work(model)), model_id: modelId };
  };

  const baseOf = async (
    name: string,
    seed: number,
  ): Promise<{ decoder: DecoderConfig; weights: DecoderWeights; modelDir: string }> => {
    const builtIn = BUILT_IN_MODELS[name];
    if (builtIn) {
      const weights = initDecoderWeights(builtIn, { seed });
      const modelDir = path.join(scratch, `${name.replace(/\W/g, '_')}-${seed}`);
      await writeDecoderModelDir(modelDir, { config: builtIn, weights });
      return { decoder: builtIn, weights, modelDir };
    }
    if (path.isAbsolute(name)) {
      const read = await readDecoderModelDir(name).catch((error: Error) => {
        throw new HttpError(400, 'unknown_base_model', `base_model ${name}: ${error.message}`, {
          details: { field: 'base_model' },
        });
      });
      return { decoder: read.config, weights: read.weights, modelDir: name };
    }
    throw new HttpError(400, 'unknown_base_model', `base_model ${name} is not served here`, {
      hint: `use one of ${Object.keys(BUILT_IN_MODELS).join(', ')}, or the absolute path of a ToolGym model directory on the server`,
      details: { field: 'base_model' },
    });
  };

  const newModel = async (baseModel: string, seed: number): Promise<Model> => {
    const base = await baseOf(baseModel, seed);
    const learner = await createWorkerLearner(
      {
        decoder: base.decoder,
        weights: base.weights,
        backend,
        microBatchSize: options.microBatchSize ?? 64,
      },
      workers,
    );
    const model: Model = {
      id: `model_${randomUUID().slice(0, 8)}`,
      baseModel,
      decoder: base.decoder,
      learner,
      nextSeq: 1,
      modelDir: base.modelDir,
    };
    models.set(model.id, model);
    return model;
  };

  const sample = async (body: z.infer<typeof SampleRequestSchema>): Promise<SampleResponseWire> => {
    if (!body.model_path)
      throw new HttpError(400, 'unsupported', 'this server samples from saved sampler weights only', {
        hint: 'pass model_path from save_weights_for_sampler',
        details: { field: 'model_path' },
      });
    const p = parseTinkerPath(body.model_path);
    const model = p && models.get(p.modelId);
    if (!model)
      throw new HttpError(
        404,
        'unknown_model',
        `model_path ${body.model_path}: its model is not on this server`,
        {
          details: { field: 'model_path' },
        },
      );
    const c = await findCheckpoint(body.model_path, 'model_path');
    if (!model.sampler)
      model.sampler = {
        policy: await createOnnxPolicy({ model: model.modelDir, executionProvider: 'cpu', threads: 1 }),
        loaded: '',
      };
    if (model.sampler.loaded !== body.model_path) {
      await model.sampler.policy.loadWeights(c.state.weights);
      model.sampler.loaded = body.model_path;
    }
    const s = body.sampling_params;
    const tokens = body.prompt.chunks.flatMap((ch) => ch.tokens);
    const stop = s.stop ?? [];
    const stopList = typeof stop === 'string' ? [stop] : stop;
    const sequences = [];
    for (let i = 0; i < body.num_samples; i++) {
      const out = await model.sampler.policy.generate({
        tokens,
        sampling: {
          maxTokens: s.max_tokens,
          temperature: s.temperature,
          topP: s.top_p,
          ...(s.top_k > 0 ? { topK: s.top_k } : {}),
          ...(s.seed !== null && s.seed !== undefined ? { seed: s.seed + i } : {}),
          ...(stopList.every((x) => typeof x === 'number')
            ? { stopTokenIds: stopList as number[] }
            : { stop: stopList as string[] }),
        },
      });
      sequences.push({
        tokens: out.tokens ?? [],
        logprobs: out.logprobs ?? null,
        stop_reason: out.finishReason === 'length' ? ('length' as const) : ('stop' as const),
      });
    }
    return { type: 'sample', sequences, prompt_logprobs: null };
  };

  /** POST endpoints under API_PREFIX: each takes the request body and answers JSON. */
  const calls: Record<string, (body: unknown) => Promise<unknown>> = {
    create_session: async (raw) => {
      parse(CreateSessionRequestSchema, raw);
      const id = `session_${randomUUID()}`;
      sessions.add(id);
      return { type: 'create_session', session_id: id };
    },
    session_heartbeat: async () => ({ type: 'session_heartbeat' }),
    create_model: async (raw) => {
      const body = parse(CreateModelRequestSchema, raw);
      if (!sessions.has(body.session_id))
        throw new HttpError(404, 'unknown_session', `session ${body.session_id} is not on this server`, {
          hint: 'call create_session first',
          details: { field: 'session_id' },
        });
      if (body.lora_config)
        throw new HttpError(
          400,
          'unsupported',
          'lora_config: this server trains every weight of its built-in models',
          {
            hint: 'leave learner.loraRank unset for `toolgym learner serve` (LoRA is for GPU services)',
            details: { field: 'lora_config' },
          },
        );
      const requestId = `create-${randomUUID()}`;
      let modelId = '';
      submit(requestId, async () => {
        modelId = (await newModel(body.base_model, 0)).id;
        return { type: 'create_model', model_id: modelId };
      });
      return { request_id: requestId, model_id: null };
    },
    get_info: async (raw) => {
      const body = parse(ModelRequestSchema, raw);
      const m = requireModel(body.model_id);
      return {
        type: 'get_info',
        model_id: m.id,
        model_name: m.baseModel,
        is_lora: false,
        lora_rank: null,
        model_data: { arch: 'toolgym-decoder', model_name: m.baseModel, tokenizer_id: m.modelDir },
      };
    },
    unload_model: async (raw) => {
      const body = parse(ModelRequestSchema, raw);
      const m = requireModel(body.model_id);
      const requestId = submit(`${m.id}:unload`, async () => {
        models.delete(m.id);
        await m.learner.close();
        await m.sampler?.policy.close?.();
        return { type: 'unload_model', model_id: m.id };
      });
      return { request_id: requestId, model_id: m.id };
    },
    forward_backward: async (raw) => {
      const body = parse(ForwardBackwardRequestSchema, raw);
      const input = body.forward_backward_input;
      const data = input.data.map(datumFromWire);
      const config = lossConfigFromWire(input.loss_fn_config);
      return forModel(body.model_id, body.seq_id, async (m) =>
        forwardOutputToWire(await m.learner.forwardBackward(data, input.loss_fn, config)),
      );
    },
    forward: async (raw) => {
      const body = parse(ForwardRequestSchema, raw);
      const input = body.forward_input;
      const data = input.data.map(datumFromWire);
      const config = lossConfigFromWire(input.loss_fn_config);
      return forModel(body.model_id, body.seq_id, async (m) =>
        forwardOutputToWire(await m.learner.forward(data, input.loss_fn, config)),
      );
    },
    optim_step: async (raw) => {
      const body = parse(OptimStepRequestSchema, raw);
      const a = AdamParamsSchema.parse(body.adam_params);
      return forModel(body.model_id, body.seq_id, async (m) => ({
        type: 'optim_step',
        metrics: (
          await m.learner.optimStep({
            learningRate: a.learning_rate,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            weightDecay: a.weight_decay,
            gradClipNorm: a.grad_clip_norm,
          })
        ).metrics,
      }));
    },
    save_weights: async (raw) => {
      const body = parse(SaveWeightsRequestSchema, raw);
      return forModel(body.model_id, body.seq_id, async (m) => {
        const p: TinkerPath = { modelId: m.id, kind: 'weights', name: body.path };
        await storeCheckpoint(p, {
          baseModel: m.baseModel,
          decoder: m.decoder,
          state: await m.learner.saveState(),
        });
        return { type: 'save_weights', path: tinkerPath(p) };
      });
    },
    save_weights_for_sampler: async (raw) => {
      const body = parse(SaveWeightsForSamplerRequestSchema, raw);
      return forModel(body.model_id, body.seq_id, async (m) => {
        const p: TinkerPath = { modelId: m.id, kind: 'sampler_weights', name: body.path };
        const { weights, step } = await m.learner.saveWeights();
        await storeCheckpoint(p, {
          baseModel: m.baseModel,
          decoder: m.decoder,
          state: { step, weights, adamM: {}, adamV: {} },
        });
        return { type: 'save_weights_for_sampler', path: tinkerPath(p) };
      });
    },
    load_weights: async (raw) => {
      const body = parse(LoadWeightsRequestSchema, raw);
      const c = await findCheckpoint(body.path, 'path');
      if (parseTinkerPath(body.path)!.kind !== 'weights')
        throw new HttpError(
          400,
          'invalid_path',
          `${body.path} holds sampler weights, which cannot be trained from`,
          {
            hint: 'load a path save_weights returned (tinker://<model_id>/weights/<name>)',
            details: { field: 'path' },
          },
        );
      return forModel(body.model_id, body.seq_id, async (m) => {
        if (c.baseModel !== m.baseModel)
          throw new LearnerInputError(
            `${body.path} was trained from ${c.baseModel}, this model is ${m.baseModel}`,
          );
        await m.learner.loadState(
          body.optimizer ? c.state : { step: 0, weights: c.state.weights, adamM: {}, adamV: {} },
        );
        return { type: 'load_weights', path: body.path, model_id: m.id };
      });
    },
    asample: async (raw) => {
      const body = parse(SampleRequestSchema, raw);
      return { request_id: submit(`sample-${randomUUID()}`, () => sample(body)), model_id: null };
    },
    retrieve_future: async (raw) => {
      const body = parse(RetrieveFutureRequestSchema, raw);
      const outcome = futures.get(body.request_id);
      if (!outcome)
        throw new HttpError(
          410,
          'unknown_future',
          `request_id ${body.request_id} is unknown to this server`,
          {
            hint: 'the server may have restarted: submit the request again',
            details: { field: 'request_id' },
          },
        );
      let timer: NodeJS.Timeout | undefined;
      const pending = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => {
          const again: TryAgainResponse = {
            type: 'try_again',
            request_id: body.request_id,
            queue_state: 'active',
          };
          resolve({ status: 200, body: again });
        }, futureWaitMs);
      });
      try {
        return (await Promise.race([outcome, pending])).body;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const capabilities: GetServerCapabilitiesResponse = {
    supported_models: Object.entries(BUILT_IN_MODELS).map(([name, c]) => ({
      model_name: name,
      max_context_length: c.maxPositions,
    })),
    toolgym: {
      loss_fn_config_keys: TOOLGYM_LOSS_FN_CONFIG_KEYS,
      loss_fn_input_keys: LOSS_FN_INPUT_KEYS,
      checkpoint_archive: 'safetensors',
    },
  };

  const routes: Array<Route<AppEnv<'client'>>> = [
    { method: 'GET', path: `${API_PREFIX}/healthz`, handle: (c) => c.json({ status: 'ok' }) },
    { method: 'GET', path: `${API_PREFIX}/get_server_capabilities`, handle: (c) => c.json(capabilities) },
    {
      method: 'GET',
      path: `${API_PREFIX}/training_runs/:model/checkpoints/:kind/:name/archive`,
      // Tinker answers with a redirect to a signed download URL; here it is the server's own.
      handle: (c) => c.redirect(`${c.req.path.replace(/\/archive$/, '/download')}`, 302),
    },
    {
      method: 'GET',
      path: `${API_PREFIX}/training_runs/:model/checkpoints/:kind/:name/download`,
      handle: async (c) => {
        const { model, kind, name } = c.req.param();
        const found = await findCheckpoint(`tinker://${model}/${kind}/${name}`, 'path');
        return c.body(Buffer.from(checkpointBytes(found)), 200, {
          'content-type': 'application/octet-stream',
        });
      },
    },
    ...Object.entries(calls).map(
      ([name, call]): Route<AppEnv<'client'>> => ({
        method: 'POST',
        path: `${API_PREFIX}/${name}`,
        handle: async (c) => {
          const key = c.req.header('x-idempotency-key');
          if (key && answered.has(key)) return c.json(answered.get(key) as object);
          // The Tinker SDK from 0.25 sends forward_backward as protobuf; this server reads JSON only.
          if (c.req.header('content-type')?.includes('application/x-protobuf'))
            throw new HttpError(415, 'protobuf_unsupported', `${name}: this server reads JSON bodies, not protobuf`, {
              hint: 'drive it with ToolGym\'s client (learner: { kind: tinker }) or a Tinker SDK before 0.25, which send JSON',
            });
          let answer: unknown;
          try {
            answer = await call(await readJson(c));
          } catch (error) {
            throw asHttpError(error);
          }
          if (key && name !== 'retrieve_future') remember(answered, key, answer);
          return c.json(answer as object);
        },
      }),
    ),
  ];
  mountRoutes(app, routes);

  const server = await listen({ port: options.port ?? 8470 });
  return {
    url: server.origin,
    close: async () => {
      await server.close();
      await queue;
      for (const m of models.values()) {
        await m.learner.close();
        await m.sampler?.policy.close?.();
      }
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** A checkpoint as the safetensors file its archive downloads as: the state's tensors, step and base model in the metadata. */
function checkpointBytes(c: StoredCheckpoint): Uint8Array {
  return encodeSafetensors(learnerStateToTensors(c.state, decoderWeightShapes(c.decoder)), {
    step: String(c.state.step),
    base_model: c.baseModel,
    decoder: JSON.stringify(c.decoder),
  });
}

/** Errors as answers: bad data is the client's (400), the rest is HttpError.from's. */
function asHttpError(error: unknown): HttpError {
  if (error instanceof LearnerInputError) return new HttpError(400, error.code, error.message);
  if (error instanceof WireFieldError)
    return new HttpError(400, error.code, error.message, { details: { field: error.field } });
  if (error instanceof HttpError && error.code === 'invalid_json')
    return new HttpError(400, error.code, error.message, { details: { field: '(body)' } });
  return HttpError.from(error);
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = [...issue.path, ...(keys.length === 1 ? keys : [])].join('.') || '(body)';
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problems)` : '';
  throw new HttpError(400, 'invalid_request', `${field}: ${issue.message}${more}`, { details: { field } });
}

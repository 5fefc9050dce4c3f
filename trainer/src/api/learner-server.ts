/**
 * The learner HTTP API server (`toolgym learner serve`): one model, created by the client with
 * `create_model`, driven with forward_backward / optim_step / save / load, every call answered with
 * a future that the client polls (trainer/LEARNER_API.md).
 *
 * Exactly-once: every state-changing request carries `seq_id`; the server applies only the next
 * expected number, returns the stored result for a number it has already applied (a retry), and
 * answers 409 `seq_gap` naming the number it expects for one from the future (the client replays).
 * Durability: with a state directory the server checkpoints the learner (weights, Adam moments,
 * step), the next expected `seq_id` and the results of recent steps atomically after every
 * optim_step / load / create, before the result becomes visible. A restarted server loads it; the
 * gradients of forward_backward calls after the last checkpoint are lost, and the `seq_gap` answer
 * makes the client replay exactly those.
 */
import { randomUUID } from 'node:crypto';
import { type DecoderConfig, decoderWeightShapes } from '@toolgym/agents';
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
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { readLatestCheckpoint, writeCheckpoint } from '../checkpoint/checkpoint.ts';
import { learnerStateFromTensors, learnerStateToTensors } from '../checkpoint/learner-state-tensors.ts';
import type { TfBackend } from '../learner/backend.ts';
import { type Learner, LearnerInputError, type LearnerState } from '../learner/learner.ts';
import { createWorkerLearner } from '../learner/worker-learner.ts';
import {
  API_PREFIX,
  adamFromWire,
  CreateModelRequestSchema,
  datumFromWire,
  ForwardBackwardRequestSchema,
  ForwardRequestSchema,
  forwardOutputToWire,
  LoadStateRequestSchema,
  LoadWeightsRequestSchema,
  lossConfigFromWire,
  ModelRequestSchema,
  OptimStepRequestSchema,
  RetrieveFutureRequestSchema,
  stateFromWire,
  stateToWire,
  tensorMapFromWire,
  tensorMapToWire,
  WireFieldError,
  type WireInfo,
} from './wire.ts';

export interface LearnerServerOptions extends ListenOptions {
  /** Default 8470; 0 picks a free port. */
  port?: number;
  /** Bearer token every request must carry; required unless the server binds to loopback only. */
  token?: string;
  /** Where the learner's state is checkpointed after every step; without it a restart loses the model. */
  stateDir?: string;
  /** TF.js backend when create_model names none. Default wasm. */
  backend?: TfBackend;
  /**
   * Learner worker threads (data-parallel above 1). The learner never runs on the server's own
   * thread, so the API answers (retrieve_future, health) while a step computes. Default 1.
   */
  workers?: number;
  /** Results of this many recent state-changing requests are kept for retries. Default 64. */
  keepResults?: number;
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

type Outcome = { status: number; body: unknown };
/** A call's answer: a future of a queued call, or the outcome itself. */
type Answer = { requestId: string; outcome: Promise<Outcome> } | Outcome;

interface ServerState {
  modelId: string;
  decoder: DecoderConfig;
  backend: TfBackend;
  microBatchSize: number;
  nextSeq: number;
  /** Outcomes of applied state-changing requests by seq_id (the newest `keepResults`). */
  results: Map<number, Outcome>;
  /** Which of them are checkpointed (optim_step, load_*): only those can be asked for again after a restart. */
  durableSeqs: Set<number>;
}

/** What the state directory's checkpoints carry besides the tensors. */
interface PersistedState {
  modelId: string;
  decoder: DecoderConfig;
  backend: TfBackend;
  microBatchSize: number;
  nextSeq: number;
  learnerStep: number;
  results: Array<[number, Outcome]>;
}

export async function serveLearner(options: LearnerServerOptions = {}): Promise<LearnerServer> {
  const { app, listen } = createHttpApp({
    ...options,
    name: 'the learner API',
    auth: { tokens: { client: options.token }, ...(options.token ? {} : { anonymous: 'client' as const }) },
    // create_model and load_state carry every weight (base64): room for models far past the built-in one.
    defaultMaxBodyBytes: 256 * 1024 * 1024,
  });
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new LearnerServerConfigError(
      `--workers must be a whole number ≥ 1, got ${options.workers}`,
      'one worker per core the learner may use',
    );
  const log = options.log ?? (() => {});
  const keepResults = options.keepResults ?? 64;
  const keepFutures = 4 * keepResults;
  let learner: Learner | undefined;
  let state: ServerState | undefined;
  let checkpointIndex = 0;
  /** Futures of this process: request_id → outcome promise. Lost on restart (the client resubmits). */
  const futures = new Map<string, Promise<Outcome>>();
  /** Keeps the newest futures only: an old state-changing one is still answered from `results` on resubmission. */
  const remember = (requestId: string, outcome: Promise<Outcome>) => {
    futures.delete(requestId);
    futures.set(requestId, outcome);
    for (const key of futures.keys()) {
      if (futures.size <= keepFutures) break;
      futures.delete(key);
      refused.delete(key);
    }
  };
  /** Futures answered `seq_gap`: nothing was applied, so a resubmission must be queued again. */
  const refused = new Set<string>();
  /** One queue: calls apply in arrival order, one at a time. */
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };

  const persist = async () => {
    if (!options.stateDir || !learner || !state) return;
    const learnerState = await learner.saveState();
    const persisted: PersistedState = {
      modelId: state.modelId,
      decoder: state.decoder,
      backend: state.backend,
      microBatchSize: state.microBatchSize,
      nextSeq: state.nextSeq,
      learnerStep: learnerState.step,
      // forward_backward results are not kept: after a restart their seq_ids are applied afresh.
      results: [...state.results].filter(([seq]) => state!.durableSeqs.has(seq)),
    };
    await writeCheckpoint(options.stateDir, ++checkpointIndex, {
      state: persisted,
      tensors: learnerStateToTensors(learnerState, decoderWeightShapes(state.decoder)),
    });
  };

  if (options.stateDir) {
    const saved = await readLatestCheckpoint<PersistedState>(options.stateDir);
    for (const s of saved?.skipped ?? []) log(`learner server: skipped a bad checkpoint: ${s.reason}`);
    if (saved) {
      const p = saved.state;
      const restored: LearnerState = learnerStateFromTensors(saved.tensors, p.learnerStep);
      learner = await createWorkerLearner(
        {
          decoder: p.decoder,
          weights: restored.weights,
          backend: p.backend,
          microBatchSize: p.microBatchSize,
        },
        workers,
      );
      await learner.loadState(restored);
      state = {
        modelId: p.modelId,
        decoder: p.decoder,
        backend: p.backend,
        microBatchSize: p.microBatchSize,
        nextSeq: p.nextSeq,
        results: new Map(p.results),
        durableSeqs: new Set(p.results.map(([seq]) => seq)),
      };
      checkpointIndex = saved.step;
      log(`learner server: resumed model ${p.modelId} at step ${p.learnerStep}, next seq_id ${p.nextSeq}`);
    }
  }

  const requireModel = (modelId: string): { learner: Learner; state: ServerState } => {
    if (!learner || !state)
      throw new HttpError(409, 'no_model', 'no model on this server: call create_model first', {
        details: { field: 'model_id' },
      });
    if (modelId !== state.modelId)
      throw new HttpError(
        409,
        'unknown_model',
        `model_id ${modelId} is not this server's model (${state.modelId})`,
        { details: { field: 'model_id' } },
      );
    return { learner, state };
  };

  const outcomeOf = async (work: () => Promise<unknown>): Promise<Outcome> => {
    try {
      return { status: 200, body: await work() };
    } catch (error) {
      const answer = learnerHttpError(error);
      if (answer.status >= 500) log(`learner server: internal error: ${(error as Error).stack ?? error}`);
      return { status: answer.status, body: answer.body() };
    }
  };

  /**
   * Runs a state-changing request exactly once per seq_id; `durable` requests are checkpointed
   * before their result is released.
   */
  const sequenced = (
    modelId: string,
    seq: number,
    durable: boolean,
    apply: (l: Learner) => Promise<unknown>,
  ): { requestId: string; outcome: Promise<Outcome> } => {
    const requestId = `${modelId}:${seq}`;
    const existing = futures.get(requestId);
    // A resubmission returns the same future, unless that one was turned away (seq_gap): then it is tried anew.
    if (existing && !refused.has(requestId)) return { requestId, outcome: existing };
    refused.delete(requestId);
    const outcome = enqueue(async (): Promise<Outcome> => {
      let current: ReturnType<typeof requireModel>;
      try {
        current = requireModel(modelId);
      } catch (error) {
        return { status: (error as HttpError).status, body: (error as HttpError).body() };
      }
      const s = current.state;
      if (seq < s.nextSeq) {
        const stored = s.results.get(seq);
        if (stored) return stored;
        return {
          status: 409,
          body: new HttpError(
            409,
            'seq_expired',
            `seq_id ${seq} was applied long ago and its result is no longer kept`,
            { details: { field: 'seq_id' } },
          ).body(),
        };
      }
      if (seq > s.nextSeq) {
        refused.add(requestId);
        return {
          status: 409,
          body: new HttpError(
            409,
            'seq_gap',
            `seq_id ${seq} arrived but ${s.nextSeq} is next: resend from ${s.nextSeq}`,
            { details: { field: 'seq_id', expected_seq_id: s.nextSeq } },
          ).body(),
        };
      }
      const result = await outcomeOf(() => apply(current.learner));
      s.nextSeq = seq + 1;
      s.results.set(seq, result);
      if (durable) s.durableSeqs.add(seq);
      for (const key of s.results.keys()) {
        if (s.results.size <= keepResults) break;
        s.results.delete(key);
        s.durableSeqs.delete(key);
      }
      if (durable) await persist();
      return result;
    });
    remember(requestId, outcome);
    return { requestId, outcome };
  };

  const unsequenced = (work: () => Promise<unknown>): { requestId: string; outcome: Promise<Outcome> } => {
    const requestId = `r-${randomUUID()}`;
    const outcome = enqueue(() => outcomeOf(work));
    remember(requestId, outcome);
    return { requestId, outcome };
  };

  const info = async (): Promise<WireInfo> => {
    if (!learner || !state)
      return { model_id: null, backend: null, decoder: null, parameters: 0, step: 0, next_seq_id: 1 };
    const i = await learner.info();
    return {
      model_id: state.modelId,
      backend: i.backend,
      decoder: i.decoder,
      parameters: i.parameters,
      step: i.step,
      next_seq_id: state.nextSeq,
    };
  };

  /** The POST endpoints under API_PREFIX, by name: each takes the request body. */
  const calls: Record<string, (body: unknown) => Promise<Answer>> = {
    create_model: async (raw) => {
      const body = parse(CreateModelRequestSchema, raw);
      const weights = tensorMapFromWire(body.weights, 'weights');
      return unsequenced(async () => {
        const backend = body.backend ?? options.backend ?? 'wasm';
        const microBatchSize = body.micro_batch_size ?? 32;
        const next = await createWorkerLearner(
          { decoder: body.decoder, weights, backend, microBatchSize },
          workers,
        );
        await learner?.close();
        learner = next;
        state = {
          modelId: `m-${randomUUID()}`,
          decoder: body.decoder,
          backend,
          microBatchSize,
          nextSeq: 1,
          results: new Map(),
          durableSeqs: new Set(),
        };
        await persist();
        return { model_id: state.modelId, next_seq_id: 1 };
      });
    },
    forward_backward: async (raw) => {
      const body = parse(ForwardBackwardRequestSchema, raw);
      const input = body.forward_backward_input;
      return sequenced(body.model_id, body.seq_id, false, async (l) =>
        forwardOutputToWire(
          await l.forwardBackward(
            input.data.map(datumFromWire),
            input.loss_fn,
            lossConfigFromWire(input.loss_fn_config),
          ),
        ),
      );
    },
    forward: async (raw) => {
      const body = parse(ForwardRequestSchema, raw);
      const input = body.forward_input;
      return unsequenced(async () => {
        const { learner: l } = requireModel(body.model_id);
        return forwardOutputToWire(
          await l.forward(
            input.data.map(datumFromWire),
            input.loss_fn,
            lossConfigFromWire(input.loss_fn_config),
          ),
        );
      });
    },
    optim_step: async (raw) => {
      const body = parse(OptimStepRequestSchema, raw);
      return sequenced(body.model_id, body.seq_id, true, async (l) => ({
        metrics: (await l.optimStep(adamFromWire(body.adam_params))).metrics,
      }));
    },
    save_weights: async (raw) => {
      const body = parse(ModelRequestSchema, raw);
      return unsequenced(async () => {
        const { learner: l, state: s } = requireModel(body.model_id);
        const saved = await l.saveWeights();
        return { step: saved.step, weights: tensorMapToWire(saved.weights, decoderWeightShapes(s.decoder)) };
      });
    },
    load_weights: async (raw) => {
      const body = parse(LoadWeightsRequestSchema, raw);
      const weights = tensorMapFromWire(body.weights, 'weights');
      return sequenced(body.model_id, body.seq_id, true, async (l) => {
        await l.loadWeights(weights);
        return {};
      });
    },
    save_state: async (raw) => {
      const body = parse(ModelRequestSchema, raw);
      return unsequenced(async () => {
        const { learner: l, state: s } = requireModel(body.model_id);
        return { state: stateToWire(await l.saveState(), decoderWeightShapes(s.decoder)) };
      });
    },
    load_state: async (raw) => {
      const body = parse(LoadStateRequestSchema, raw);
      const learnerState = stateFromWire(body.state);
      return sequenced(body.model_id, body.seq_id, true, async (l) => {
        await l.loadState(learnerState);
        return {};
      });
    },
    retrieve_future: async (raw) => {
      const body = parse(RetrieveFutureRequestSchema, raw);
      const outcome = futures.get(body.request_id);
      if (!outcome)
        throw new HttpError(
          404,
          'unknown_request',
          `request_id ${body.request_id} is unknown to this server (it may have restarted): resubmit the request`,
          { details: { field: 'request_id' } },
        );
      const timeout = body.timeout_ms ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      const pending = new Promise<Outcome>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: 200, body: { type: 'try_again', request_id: body.request_id } }),
          timeout,
        );
      });
      try {
        return await Promise.race([outcome, pending]);
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const routes: Array<Route<AppEnv<'client'>>> = [
    { method: 'GET', path: '/health', handle: (c) => c.json({ ok: true }) },
    { method: 'GET', path: `${API_PREFIX}/get_info`, handle: async (c) => c.json(await enqueue(info)) },
    ...Object.entries(calls).map(
      ([name, call]): Route<AppEnv<'client'>> => ({
        method: 'POST',
        path: `${API_PREFIX}/${name}`,
        handle: async (c) => {
          let answer: Answer;
          try {
            answer = await call(await readJson(c));
          } catch (error) {
            throw learnerHttpError(error);
          }
          if ('requestId' in answer) {
            // Mutations are already queued: hand back the future (Tinker's UntypedAPIFuture).
            answer.outcome.catch(() => {});
            return c.json({ request_id: answer.requestId, model_id: state?.modelId ?? null });
          }
          return c.json(answer.body, answer.status as ContentfulStatusCode);
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
      await learner?.close();
    },
  };
}

/** The learner's own errors as answers: bad data is the client's (400), the rest is HttpError.from's. */
function learnerHttpError(error: unknown): HttpError {
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

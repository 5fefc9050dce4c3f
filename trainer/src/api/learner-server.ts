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
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DecoderConfig, decoderWeightShapes } from '@toolgym/agents';
import { ToolGymError } from '@toolgym/protocol';
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
  type WireError,
  WireFieldError,
  type WireInfo,
} from './wire.ts';

export interface LearnerServerOptions {
  /** Default 127.0.0.1. Any other address requires a token. */
  host?: string;
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
  log?: (line: string) => void;
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

/** An error answer with its HTTP status (rendered as `{error: {code, message, field?}}`). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly extra: Omit<WireError['error'], 'code' | 'message'> = {},
  ) {
    super(message);
  }
  render(): WireError {
    return { error: { code: this.errorCode, message: this.message, ...this.extra } };
  }
}

type Outcome = { status: number; body: unknown };

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

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function serveLearner(options: LearnerServerOptions = {}): Promise<LearnerServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.token) {
    throw new LearnerServerConfigError(
      `refusing to bind the learner API to ${host} without a token`,
      'pass --token (or TOOLGYM_LEARNER_TOKEN), or bind 127.0.0.1',
    );
  }
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
        field: 'model_id',
      });
    if (modelId !== state.modelId)
      throw new HttpError(
        409,
        'unknown_model',
        `model_id ${modelId} is not this server's model (${state.modelId})`,
        { field: 'model_id' },
      );
    return { learner, state };
  };

  const outcomeOf = async (work: () => Promise<unknown>): Promise<Outcome> => {
    try {
      return { status: 200, body: await work() };
    } catch (error) {
      if (error instanceof HttpError) return { status: error.status, body: error.render() };
      if (error instanceof LearnerInputError)
        return { status: 400, body: { error: { code: error.code, message: error.message } } };
      if (error instanceof WireFieldError)
        return {
          status: 400,
          body: { error: { code: error.code, message: error.message, field: error.field } },
        };
      log(`learner server: internal error: ${(error as Error).stack ?? error}`);
      return { status: 500, body: { error: { code: 'internal', message: (error as Error).message } } };
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
        return { status: (error as HttpError).status, body: (error as HttpError).render() };
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
            { field: 'seq_id' },
          ).render(),
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
            { field: 'seq_id', expected_seq_id: s.nextSeq },
          ).render(),
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

  const routes: Record<
    string,
    (body: unknown) => Promise<{ requestId: string; outcome: Promise<Outcome> } | Outcome>
  > = {
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
          { field: 'request_id' },
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

  const authorized = (req: IncomingMessage): boolean => {
    if (!options.token) return true;
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const want = Buffer.from(options.token);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    try {
      if (!authorized(req))
        throw new HttpError(
          401,
          'unauthorized',
          'missing or wrong bearer token: send Authorization: Bearer <token>',
        );
      const url = new URL(req.url ?? '/', 'http://learner');
      if (req.method === 'GET' && url.pathname === '/health') return send(200, { ok: true });
      if (req.method === 'GET' && url.pathname === `${API_PREFIX}/get_info`)
        return send(200, await enqueue(info));
      const name = url.pathname.startsWith(`${API_PREFIX}/`) ? url.pathname.slice(API_PREFIX.length + 1) : '';
      const route = routes[name];
      if (!route) throw new HttpError(404, 'not_found', `no endpoint ${req.method} ${url.pathname}`);
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${url.pathname} takes POST`);
      const body = await readJson(req);
      const answer = await route(body);
      if ('requestId' in answer) {
        // Mutations are already queued: hand back the future (Tinker's UntypedAPIFuture).
        answer.outcome.catch(() => {});
        return send(200, { request_id: answer.requestId, model_id: state?.modelId ?? null });
      }
      return send(answer.status, answer.body);
    } catch (error) {
      if (error instanceof HttpError) return send(error.status, error.render());
      log(`learner server: ${(error as Error).stack ?? error}`);
      return send(500, { error: { code: 'internal', message: (error as Error).message } });
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8470, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await queue;
      await learner?.close();
    },
  };
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = [...issue.path, ...(keys.length === 1 ? keys : [])].join('.') || '(body)';
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problems)` : '';
  throw new HttpError(400, 'invalid_request', `${field}: ${issue.message}${more}`, { field });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text)
    throw new HttpError(400, 'invalid_request', 'empty body: send a JSON object', { field: '(body)' });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not JSON: ${(error as Error).message}`, {
      field: '(body)',
    });
  }
}

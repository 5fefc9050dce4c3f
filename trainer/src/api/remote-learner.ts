/**
 * `RemoteLearner`: the `Learner` interface over the learner HTTP API, so a training config switches
 * `learner: embedded` to `learner: http://host:port` and nothing else changes.
 *
 * Every call is submitted, then its future polled with /api/v1/retrieve_future. Failures of the
 * connection (server down, restarting) are retried with a fixed delay until `retryForMs`; a future
 * the server no longer knows (it restarted) is resubmitted with the same `seq_id`, which the server
 * applies at most once. The client keeps the state-changing requests sent since the last durable
 * one (optim_step, load_*, create) and replays them when the server answers `seq_gap` — after a
 * restart, the gradients of those forward_backward calls were lost with the old process.
 */
import { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from '@toolgym/agents';
import type { LossFnName } from '../algorithms/policy-losses.ts';
import { ToolGymError } from '@toolgym/protocol';
import {
  type AdamParams,
  type Datum,
  type ForwardBackwardOutput,
  type Learner,
  type LearnerInfo,
  LearnerInputError,
  type LearnerState,
  type LossFnConfig,
  type OptimStepOutput,
} from '../learner/learner.ts';
import {
  API_PREFIX,
  adamToWire,
  datumToWire,
  forwardOutputFromWire,
  lossConfigToWire,
  stateFromWire,
  stateToWire,
  tensorMapFromWire,
  tensorMapToWire,
  type WireError,
  type WireForwardBackwardOutput,
  type WireInfo,
  type WireOptimStepOutput,
  type WireTensorMapSchema,
} from './wire.ts';

export interface RemoteLearnerSettings {
  /** Base URL of `toolgym learner serve`, e.g. http://127.0.0.1:8470 */
  url: string;
  token?: string;
  /** The model the server creates (create_model): sizes and initial weights. */
  decoder: DecoderConfig;
  weights: DecoderWeights;
  backend?: 'wasm' | 'cpu';
  microBatchSize?: number;
  /** Keep retrying an unreachable server this long before failing. Default 120 s. */
  retryForMs?: number;
  /** Delay between retries. Default 250 ms. */
  retryDelayMs?: number;
  /** Injectable fetch (tests). */
  fetch?: typeof fetch;
}

/** An error answer of the learner API, or a server that stayed unreachable. */
export class LearnerApiError extends ToolGymError {
  constructor(
    code: string,
    message: string,
    readonly status?: number,
    readonly field?: string,
    /** For `seq_gap`: the seq_id the server expects next. */
    readonly expectedSeq?: number,
    hint?: string,
  ) {
    super(code, message, hint);
  }
}

interface Sent {
  seq: number;
  endpoint: string;
  body: Record<string, unknown>;
}

type JsonTensorMap = import('zod').infer<typeof WireTensorMapSchema>;

export async function createRemoteLearner(settings: RemoteLearnerSettings): Promise<RemoteLearner> {
  const learner = new RemoteLearner(settings);
  await learner.createModel();
  return learner;
}

export class RemoteLearner implements Learner {
  private modelId = '';
  private nextSeq = 1;
  /** State-changing requests since the last durable one, for replay after a server restart. */
  private unpersisted: Sent[] = [];
  private readonly fetchImpl: typeof fetch;
  private readonly shapes: Record<string, number[]>;
  private readonly base: string;

  constructor(private readonly settings: RemoteLearnerSettings) {
    this.fetchImpl = settings.fetch ?? fetch;
    this.shapes = decoderWeightShapes(settings.decoder);
    this.base = settings.url.replace(/\/+$/, '');
  }

  /** create_model on the server: a fresh model with the settings' weights (any previous one is replaced). */
  async createModel(): Promise<void> {
    const { decoder, weights, backend, microBatchSize } = this.settings;
    const body = {
      decoder,
      weights: tensorMapToWire(weights, this.shapes),
      ...(backend ? { backend } : {}),
      ...(microBatchSize ? { micro_batch_size: microBatchSize } : {}),
    };
    const out = (await this.call('create_model', body)) as { model_id: string; next_seq_id: number };
    this.modelId = out.model_id;
    this.nextSeq = out.next_seq_id;
    this.unpersisted = [];
  }

  async info(): Promise<LearnerInfo> {
    const i = (await this.http('GET', 'get_info')) as WireInfo;
    if (i.model_id !== this.modelId)
      throw new LearnerApiError(
        'unknown_model',
        `the server's model is ${i.model_id}, this client's ${this.modelId}: another client replaced it`,
      );
    return {
      backend: `remote:${this.base} (${i.backend})`,
      decoder: i.decoder!,
      parameters: i.parameters,
      step: i.step,
    };
  }

  async forward(
    data: Datum[],
    lossFn: LossFnName = 'cross_entropy',
    config: LossFnConfig = {},
  ): Promise<ForwardBackwardOutput> {
    const out = await this.call('forward', {
      model_id: this.modelId,
      forward_input: {
        data: data.map(datumToWire),
        loss_fn: lossFn,
        loss_fn_config: lossConfigToWire(config),
      },
    });
    return forwardOutputFromWire(out as WireForwardBackwardOutput);
  }

  async forwardBackward(
    data: Datum[],
    lossFn: LossFnName,
    config: LossFnConfig = {},
  ): Promise<ForwardBackwardOutput> {
    const out = await this.sequenced(
      'forward_backward',
      {
        forward_backward_input: {
          data: data.map(datumToWire),
          loss_fn: lossFn,
          loss_fn_config: lossConfigToWire(config),
        },
      },
      false,
    );
    return forwardOutputFromWire(out as WireForwardBackwardOutput);
  }

  async optimStep(adam: AdamParams): Promise<OptimStepOutput> {
    return (await this.sequenced(
      'optim_step',
      { adam_params: adamToWire(adam) },
      true,
    )) as WireOptimStepOutput;
  }

  async saveWeights(): Promise<{ weights: DecoderWeights; step: number }> {
    const out = (await this.call('save_weights', { model_id: this.modelId })) as {
      step: number;
      weights: JsonTensorMap;
    };
    return { step: out.step, weights: tensorMapFromWire(out.weights, 'weights') };
  }

  async loadWeights(weights: DecoderWeights): Promise<void> {
    await this.sequenced('load_weights', { weights: tensorMapToWire(weights, this.shapes) }, true);
  }

  async saveState(): Promise<LearnerState> {
    const out = (await this.call('save_state', { model_id: this.modelId })) as {
      state: Parameters<typeof stateFromWire>[0];
    };
    return stateFromWire(out.state);
  }

  async loadState(state: LearnerState): Promise<void> {
    await this.sequenced('load_state', { state: stateToWire(state, this.shapes) }, true);
  }

  /** The server keeps running (it may serve the next run); nothing to release here. */
  async close(): Promise<void> {}

  private async sequenced(
    endpoint: string,
    body: Record<string, unknown>,
    durable: boolean,
  ): Promise<unknown> {
    const sent: Sent = { seq: this.nextSeq++, endpoint, body: { model_id: this.modelId, ...body } };
    this.unpersisted.push(sent);
    const out = await this.sendSequenced(sent);
    if (durable) this.unpersisted = this.unpersisted.filter((s) => s.seq > sent.seq);
    return out;
  }

  private async sendSequenced(sent: Sent): Promise<unknown> {
    for (;;) {
      try {
        return await this.call(sent.endpoint, { ...sent.body, seq_id: sent.seq });
      } catch (error) {
        if (
          !(error instanceof LearnerApiError) ||
          error.code !== 'seq_gap' ||
          error.expectedSeq === undefined
        )
          throw error;
        const expected = error.expectedSeq;
        const replay = this.unpersisted.filter((s) => s.seq >= expected && s.seq < sent.seq);
        if (replay.length === 0 || replay[0]!.seq !== expected) {
          throw new LearnerApiError(
            'cannot_recover',
            `the learner server expects seq_id ${expected}, which this client can no longer replay (${sent.seq} is next)`,
            undefined,
            undefined,
            undefined,
            'restart the run from its last checkpoint (toolgym train --resume)',
          );
        }
        for (const r of replay) await this.call(r.endpoint, { ...r.body, seq_id: r.seq });
      }
    }
  }

  /** Submits a call and waits for its future; resubmits when the server forgot it (restart). */
  private async call(endpoint: string, body: Record<string, unknown>): Promise<unknown> {
    for (;;) {
      const submitted = (await this.http('POST', endpoint, body)) as { request_id: string };
      for (;;) {
        let result: unknown;
        try {
          result = await this.http('POST', 'retrieve_future', {
            request_id: submitted.request_id,
            timeout_ms: 10_000,
          });
        } catch (error) {
          if (error instanceof LearnerApiError && error.code === 'unknown_request') break; // resubmit
          throw error;
        }
        if ((result as { type?: string }).type === 'try_again') continue;
        return result;
      }
    }
  }

  /** One HTTP exchange, retried while the server cannot be reached or answers 5xx. */
  private async http(method: 'GET' | 'POST', endpoint: string, body?: unknown): Promise<unknown> {
    const deadline = Date.now() + (this.settings.retryForMs ?? 120_000);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    let lastProblem = '';
    for (;;) {
      let response: Response | undefined;
      try {
        response = await this.fetchImpl(`${this.base}${API_PREFIX}/${endpoint}`, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (error) {
        lastProblem = `${(error as Error).message}${(error as { cause?: Error }).cause ? ` (${(error as { cause?: Error }).cause!.message})` : ''}`;
      }
      if (response) {
        const text = await response.text();
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : {};
        } catch {
          parsed = { error: { code: 'bad_response', message: text.slice(0, 200) } };
        }
        if (response.ok) return parsed;
        const e = (parsed as WireError).error ?? { code: 'http', message: text.slice(0, 200) };
        if (response.status < 500) {
          if (e.code === 'learner-input') throw new LearnerInputError(e.message);
          throw new LearnerApiError(
            e.code,
            `learner API ${endpoint}: ${e.message}`,
            response.status,
            e.field,
            e.expected_seq_id,
          );
        }
        // A failed operation is final; only a gateway or an unavailable server is worth retrying.
        if (response.status === 500)
          throw new LearnerApiError(e.code, `learner API ${endpoint}: ${e.message}`, response.status);
        lastProblem = `${response.status} ${e.code}: ${e.message}`;
      }
      if (Date.now() > deadline)
        throw new LearnerApiError(
          'unreachable',
          `learner API at ${this.base} unreachable for ${endpoint}: ${lastProblem}`,
          undefined,
          undefined,
          undefined,
          'start `toolgym learner serve` there, or point `learner:` in the config at a running one',
        );
      await new Promise((r) => setTimeout(r, this.settings.retryDelayMs ?? 250));
    }
  }
}

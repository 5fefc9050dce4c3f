/**
 * TEST DOUBLE of a Tinker-protocol GPU training service (the Tinker service, skyrl-tx), which
 * cannot run on this machine. It is built from the request and response types of the Tinker SDK
 * (`src/tinker/types/`, commit d595dc2b) and skyrl-tx (`skyrl/tinker/api.py`, commit a9564572):
 * it validates every request body against those shapes (unknown fields are refused, as the SDK's
 * StrictBase and skyrl-tx's pydantic models refuse them), records it, and answers with futures.
 * It trains nothing: a forward_backward's logprobs are the datum's own `logprobs` input (or 0).
 *
 * Faults are scripted per endpoint, in order, to drive the client's retry paths: an HTTP status
 * (with headers), a dropped connection, a future that stays pending for n polls, a future the
 * server lost (410), or a failed request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'drop' }
  | { kind: 'pending'; polls: number }
  | { kind: 'lost' }
  | { kind: 'failed'; error: string; category: 'user' | 'server' | 'unknown' };

export interface Recorded {
  endpoint: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface TinkerServiceDouble {
  url: string;
  /** Every request that reached the double, in order. */
  requests: Recorded[];
  /** Queue faults for the next requests to `endpoint` (consumed one per request). */
  fault(endpoint: string, ...faults: Fault[]): void;
  close(): Promise<void>;
}

/** Fields each request type declares (the SDK's types; `type` is each model's literal tag). */
const FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  create_session: { required: ['tags', 'sdk_version'], optional: ['user_metadata', 'project_id', 'type'] },
  create_model: {
    required: ['session_id', 'model_seq_id', 'base_model'],
    optional: ['user_metadata', 'lora_config', 'type'],
  },
  forward_backward: { required: ['forward_backward_input', 'model_id'], optional: ['seq_id'] },
  forward: { required: ['forward_input', 'model_id'], optional: ['seq_id'] },
  optim_step: { required: ['adam_params', 'model_id'], optional: ['seq_id', 'type'] },
  save_weights: { required: ['model_id'], optional: ['path', 'seq_id', 'ttl_seconds', 'overwrite', 'type'] },
  save_weights_for_sampler: {
    required: ['model_id'],
    optional: ['path', 'sampling_session_seq_id', 'seq_id', 'ttl_seconds', 'type'],
  },
  load_weights: { required: ['path', 'optimizer'], optional: ['model_id', 'seq_id', 'type'] },
  unload_model: { required: ['model_id'], optional: ['type'] },
  get_info: { required: ['model_id'], optional: ['type'] },
  asample: {
    required: ['prompt', 'sampling_params'],
    optional: [
      'num_samples',
      'base_model',
      'model_path',
      'sampling_session_id',
      'seq_id',
      'prompt_logprobs',
      'topk_prompt_logprobs',
      'type',
    ],
  },
  retrieve_future: { required: ['request_id'], optional: ['allow_metadata_only'] },
};

export async function startTinkerServiceDouble(
  options: { apiKey?: string; models?: string[] } = {},
): Promise<TinkerServiceDouble> {
  const models = options.models ?? ['Qwen/Qwen3-8B', 'Qwen/Qwen3-30B-A3B'];
  const requests: Recorded[] = [];
  const faults = new Map<string, Fault[]>();
  const futures = new Map<string, { result: unknown; pendingPolls: number; lost: boolean; failed?: Fault }>();
  let nextFuture = 1;
  let nextModel = 1;

  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const future = (result: unknown, fault?: Fault) => {
    const id = String(nextFuture++);
    futures.set(id, {
      result,
      pendingPolls: fault?.kind === 'pending' ? fault.polls : 0,
      lost: fault?.kind === 'lost',
      ...(fault?.kind === 'failed' ? { failed: fault } : {}),
    });
    return { request_id: id, model_id: null };
  };

  const handle = (endpoint: string, body: Record<string, unknown>, res: ServerResponse, fault?: Fault) => {
    switch (endpoint) {
      case 'get_server_capabilities':
        return answer(res, 200, { supported_models: models.map((m) => ({ model_name: m })) });
      case 'create_session':
        return answer(res, 200, { type: 'create_session', session_id: 'session-1' });
      case 'create_model': {
        if (!models.includes(body.base_model as string))
          // skyrl-tx and the Tinker service answer an unservable base model with a failed request.
          return answer(
            res,
            200,
            future(null, {
              kind: 'failed',
              error: `Base model ${body.base_model} is not supported`,
              category: 'user',
            }),
          );
        return answer(res, 200, future({ type: 'create_model', model_id: `model-${nextModel++}` }, fault));
      }
      case 'forward_backward':
      case 'forward': {
        const input = (body.forward_backward_input ?? body.forward_input) as {
          data: Array<{ loss_fn_inputs: Record<string, { data: number[] }> }>;
        };
        const outputs = input.data.map((d) => {
          const n = d.loss_fn_inputs.target_tokens!.data.length;
          const logprobs = d.loss_fn_inputs.logprobs?.data ?? new Array(n).fill(0);
          return { logprobs: { data: logprobs, dtype: 'float32', shape: [n] } };
        });
        return answer(
          res,
          200,
          future(
            { loss_fn_output_type: 'ArrayRecord', loss_fn_outputs: outputs, metrics: { 'loss:sum': 1.5 } },
            fault,
          ),
        );
      }
      case 'optim_step':
        return answer(res, 200, future({ metrics: { grad_norm: 0.5 } }, fault));
      case 'save_weights':
        return answer(
          res,
          200,
          future({ path: `tinker://${body.model_id}/weights/${body.path}`, type: 'save_weights' }, fault),
        );
      case 'save_weights_for_sampler':
        return answer(
          res,
          200,
          future(
            {
              path: `tinker://${body.model_id}/sampler_weights/${body.path}`,
              type: 'save_weights_for_sampler',
            },
            fault,
          ),
        );
      case 'load_weights':
        return answer(res, 200, future({ path: body.path, type: 'load_weights' }, fault));
      case 'unload_model':
        return answer(res, 200, future({ model_id: body.model_id, type: 'unload_model' }, fault));
      case 'get_info':
        return answer(res, 200, {
          model_id: body.model_id,
          model_data: { model_name: models[0] },
          is_lora: true,
          lora_rank: 32,
        });
      case 'asample': {
        const params = body.sampling_params as { max_tokens: number };
        const sequences = Array.from({ length: (body.num_samples as number) ?? 1 }, (_, i) => ({
          tokens: Array.from({ length: params.max_tokens }, (_, t) => 100 + i + t),
          logprobs: Array.from({ length: params.max_tokens }, (_, t) => -0.25 * (t + 1)),
          stop_reason: 'length',
        }));
        return answer(res, 200, future({ type: 'sample', sequences }, fault));
      }
      case 'retrieve_future': {
        const f = futures.get(body.request_id as string);
        if (!f) return answer(res, 404, { detail: 'Future not found' });
        if (f.lost) {
          futures.delete(body.request_id as string);
          return answer(res, 410, { detail: 'Promise expired' });
        }
        if (f.pendingPolls > 0) {
          f.pendingPolls--;
          return answer(res, 200, { type: 'try_again', request_id: body.request_id, queue_state: 'active' });
        }
        if (f.failed?.kind === 'failed')
          return answer(res, 200, { error: f.failed.error, category: f.failed.category });
        return answer(res, 200, f.result);
      }
      default:
        return answer(res, 404, { detail: 'Not Found' });
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const endpoint = (req.url ?? '').replace(/^\/api\/v1\//, '');
      const text = Buffer.concat(chunks).toString();
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      requests.push({ endpoint, headers: req.headers, body });
      if (options.apiKey && req.headers['x-api-key'] !== options.apiKey)
        return answer(res, 401, { detail: 'Invalid API key' });
      const fields = FIELDS[endpoint];
      if (fields) {
        const missing = fields.required.filter((f) => !(f in body));
        const extra = Object.keys(body).filter(
          (f) => !fields.required.includes(f) && !fields.optional.includes(f),
        );
        if (missing.length > 0 || extra.length > 0) return answer(res, 422, { detail: { missing, extra } });
      }
      const queued = faults.get(endpoint);
      const fault = queued?.shift();
      if (fault?.kind === 'status')
        return answer(res, fault.status, fault.body ?? { detail: 'scripted' }, fault.headers);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      handle(endpoint, body, res, fault);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fault: (endpoint, ...more) => faults.set(endpoint, [...(faults.get(endpoint) ?? []), ...more]),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

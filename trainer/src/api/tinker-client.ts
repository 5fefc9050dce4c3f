/**
 * The HTTP side of a Tinker-protocol client, with the Tinker SDK's retry semantics (trainer/TINKER.md
 * names the commit followed):
 * - a request is retried on a dropped connection, 408, 409, 429 and 5xx, up to 10 times, after
 *   `Retry-After-Ms` / `Retry-After` when the server gives one of at most 60 s, else after
 *   min(0.5 s · 2^n, 10 s) shrunk by up to 25 % of jitter (`_base_client.py`); `x-should-retry`
 *   overrides; one `X-Idempotency-Key` is kept across a request's retries;
 * - a future is polled with `retrieve_future` until it holds a result: `try_again`, 408 and 5xx
 *   poll again at once, 429 and a dropped connection after min(2^k s, 30 s), 410 (the server lost
 *   the future) resubmits the original request, and a failed request is an error that says whose
 *   fault it was (`api_future_impl.py`).
 * The API key goes in `X-API-Key`, as the SDK sends it.
 */
import { randomUUID } from 'node:crypto';
import { ToolGymError } from '@toolgym/protocol';
import { API_PREFIX, type RequestFailedResponse, type UntypedApiFuture } from './tinker-wire.ts';

export interface TinkerClientSettings {
  /** The service's base URL (the SDK's `base_url`), e.g. http://127.0.0.1:8470 */
  url: string;
  /** `X-API-Key`; read from an environment variable by the caller. */
  apiKey?: string;
  /** Retries of one HTTP request. Default 10 (the SDK's DEFAULT_MAX_RETRIES). */
  maxRetries?: number;
  /** Injectable fetch and sleep (tests). */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1) (tests). */
  random?: () => number;
}

/** A Tinker-protocol service refused or failed a call; `code` says which, `status` is the HTTP status if any. */
export class TinkerApiError extends ToolGymError {
  constructor(
    code: string,
    message: string,
    hint?: string,
    readonly status?: number,
  ) {
    super(code, message, hint);
  }
}

/** The SDK's INITIAL_RETRY_DELAY and MAX_RETRY_DELAY, in ms. */
const INITIAL_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

type Method = 'GET' | 'POST';

export class TinkerClient {
  readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly settings: TinkerClientSettings) {
    this.base = settings.url.replace(/\/+$/, '');
    this.fetchImpl = settings.fetch ?? fetch;
    this.sleep = settings.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = settings.random ?? Math.random;
  }

  /** Submits a call that answers with a future, and waits for the future's result. */
  async call<T>(endpoint: string, body: unknown): Promise<T> {
    for (;;) {
      const future = (await this.request('POST', endpoint, body)) as UntypedApiFuture;
      const result = await this.retrieve<T>(future.request_id, endpoint);
      if (result !== RESUBMIT) return result;
    }
  }

  /** One call answered directly (GET endpoints, create_session), retried as the SDK retries. */
  async request(method: Method, endpoint: string, body?: unknown): Promise<unknown> {
    const response = await this.send(method, endpoint, body);
    return parseJson(await response.text());
  }

  /** The bytes a checkpoint's archive URL leads to (the redirect is followed). */
  async download(endpoint: string): Promise<Uint8Array> {
    const response = await this.send('GET', endpoint);
    return new Uint8Array(await response.arrayBuffer());
  }

  private headers(idempotencyKey?: string): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.settings.apiKey ? { 'x-api-key': this.settings.apiKey } : {}),
      ...(idempotencyKey ? { 'x-idempotency-key': idempotencyKey } : {}),
    };
  }

  /** One request, retried on what the SDK retries; any other failure is a TinkerApiError. */
  private async send(method: Method, endpoint: string, body?: unknown): Promise<Response> {
    const maxRetries = this.settings.maxRetries ?? 10;
    const idempotencyKey = method === 'POST' ? `toolgym-retry-${randomUUID()}` : undefined;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let retry = 0; ; retry++) {
      let response: Response | undefined;
      let problem: string;
      try {
        response = await this.fetchImpl(this.url(endpoint), {
          method,
          headers: this.headers(idempotencyKey),
          ...(payload !== undefined ? { body: payload } : {}),
        });
      } catch (error) {
        problem = connectionProblem(error);
      }
      if (response) {
        if (response.ok) return response;
        const text = await response.text();
        if (!shouldRetry(response)) throw statusError(response.status, text, endpoint, this.base);
        problem = `${response.status} ${errorMessage(text)}`;
      }
      if (retry >= maxRetries)
        throw new TinkerApiError(
          'tinker_unreachable',
          `${this.base}: ${endpoint} failed ${retry + 1} times, last: ${problem!}`,
          'check that the service is up and the URL is right (learner.url)',
          response?.status,
        );
      await this.sleep(this.retryDelay(retry, response?.headers));
    }
  }

  /** The SDK's `_calculate_retry_timeout`, in ms. */
  retryDelay(retry: number, headers?: Headers): number {
    const after = retryAfterSeconds(headers);
    if (after !== undefined && after > 0 && after <= 60) return after * 1000;
    const delay = Math.min(INITIAL_RETRY_MS * 2 ** retry, MAX_RETRY_MS);
    return delay * (1 - 0.25 * this.random());
  }

  /** Polls a future (the SDK's `_APIFuture._result_async`); RESUBMIT when the server lost it (410). */
  private async retrieve<T>(requestId: string, endpoint: string): Promise<T | typeof RESUBMIT> {
    let connectionRetries = 0;
    let badRequests = 0;
    for (;;) {
      let response: Response | undefined;
      let problem = '';
      try {
        response = await this.fetchImpl(this.url('retrieve_future'), {
          method: 'POST',
          headers: this.headers(),
          body: JSON.stringify({ request_id: requestId }),
        });
      } catch (error) {
        problem = connectionProblem(error);
      }
      if (!response || response.status === 429) {
        if (connectionRetries >= 60)
          throw new TinkerApiError(
            'tinker_unreachable',
            `${this.base}: lost while waiting for ${endpoint} (${requestId}): ${problem || '429 for too long'}`,
            'check that the service is up',
          );
        await this.sleep(Math.min(2 ** connectionRetries, 30) * 1000);
        connectionRetries++;
        continue;
      }
      connectionRetries = 0;
      const text = await response.text();
      const status = response.status;
      if (status === 408 || status >= 500) continue;
      if (status === 410) return RESUBMIT;
      if (status === 400 && badRequests < 3) {
        badRequests++;
        continue;
      }
      if (!response.ok) throw statusError(status, text, endpoint, this.base);
      const result = parseJson(text) as Record<string, unknown>;
      if (result.type === 'try_again') continue;
      if (typeof result.error === 'string') {
        const failed = result as unknown as RequestFailedResponse;
        throw new TinkerApiError(
          failed.category === 'user' ? 'tinker_request_refused' : 'tinker_request_failed',
          `${endpoint} failed on ${this.base}: ${failed.error}`,
          failed.category === 'user' ? 'the request was at fault: fix what the message names' : undefined,
        );
      }
      return result as T;
    }
  }

  private url(endpoint: string): string {
    return `${this.base}${API_PREFIX}/${endpoint}`;
  }
}

const RESUBMIT = Symbol('resubmit');

/** The SDK's `_should_retry`. */
function shouldRetry(response: Response): boolean {
  const header = response.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  const s = response.status;
  return s === 408 || s === 409 || s === 429 || s >= 500;
}

/** `retry-after-ms`, else `retry-after` as seconds or an HTTP date. */
function retryAfterSeconds(headers?: Headers): number | undefined {
  const ms = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms)) return ms / 1000;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : (date - Date.now()) / 1000;
}

function statusError(status: number, text: string, endpoint: string, base: string): TinkerApiError {
  const message = errorMessage(text);
  if (status === 401 || status === 403)
    return new TinkerApiError(
      'tinker_auth',
      `${base} refused the API key (${status}): ${message}`,
      'set the environment variable learner.apiKeyEnv names (TINKER_API_KEY by default) to a key this service accepts',
      status,
    );
  return new TinkerApiError('tinker_http', `${endpoint} on ${base}: ${status} ${message}`, undefined, status);
}

/** The message of an error body: ToolGym's `{error: {message}}`, FastAPI's `{detail}`, or the text. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string; detail?: unknown };
    if (typeof body.error === 'object' && body.error?.message) return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (body.detail !== undefined)
      return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch {}
  return text.slice(0, 300);
}

function connectionProblem(error: unknown): string {
  const cause = (error as { cause?: Error }).cause;
  return `${(error as Error).message}${cause ? ` (${cause.message})` : ''}`;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new TinkerApiError(
      'tinker_bad_response',
      `the service answered something that is not JSON: ${text.slice(0, 200)}`,
    );
  }
}

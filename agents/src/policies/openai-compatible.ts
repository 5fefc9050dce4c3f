import type { FinishReason, ToolCall } from '@toolgym/protocol';
import { openaiToolCalls } from '../chat/openai-tool-calls.ts';
import { ConcurrencyLimit } from '../concurrency-limit.ts';
import { PolicyError, PolicySpecError } from '../errors.ts';
import type {
  GenerateRequest,
  GenerateResult,
  Policy,
  PolicyScheme,
  SamplingParams,
  TokenIds,
} from '../policy.ts';
import type { Tokenizer } from '../tokenizer.ts';

export interface OpenAICompatibleSettings {
  /** The API root, e.g. `http://localhost:8000/v1`. */
  baseURL: string;
  model: string;
  apiKey?: string;
  /**
   * The served model's tokenizer. With it the policy works in token mode: the agent loop renders
   * the prompt, and `/completions` receives token ids and returns sampled token ids (vLLM:
   * `return_token_ids`) — exact trajectories. Without it, `/chat/completions` with messages
   * (the server applies its template); trajectories are text-only.
   */
  tokenizer?: Tokenizer;
  /** The served model's chat template (Jinja), used in token mode. */
  chatTemplate?: string;
  /** Message mode: send the tools as OpenAI `tools` (the server needs a tool parser). Default true. */
  nativeTools?: boolean;
  /**
   * Message mode: ask for vLLM's `return_token_ids` (exact trajectories from the engine's own
   * template). Default true; turn off for hosted APIs that reject fields they do not know.
   */
  requestTokenIds?: boolean;
  /** Per request, including retries' waits. Default 120 s. */
  timeoutMs?: number;
  /** Retries on 429, 5xx and network errors, with exponential backoff. Default 4. */
  maxRetries?: number;
  /** First backoff; doubles each retry (a `Retry-After` header wins). Default 500 ms. */
  retryBaseMs?: number;
  /** Requests in flight at once. Default 64. */
  maxConcurrency?: number;
  /** Injectable for tests and proxies. */
  fetch?: typeof fetch;
}

/** HTTP statuses worth retrying: rate limits and server-side failures. */
const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);

/**
 * A policy served by any OpenAI-compatible engine: vLLM, SGLang, llama.cpp server, a hosted API.
 * It asks for token ids and logprobs (vLLM's `return_token_ids`, `return_tokens_as_token_ids`,
 * `logprobs`) and reads them wherever the server puts them.
 */
export function createOpenAICompatiblePolicy(settings: OpenAICompatibleSettings): Policy {
  const baseURL = settings.baseURL.replace(/\/+$/, '');
  const doFetch = settings.fetch ?? fetch;
  const limit = new ConcurrencyLimit(settings.maxConcurrency ?? 64);
  const timeoutMs = settings.timeoutMs ?? 120_000;
  const maxRetries = settings.maxRetries ?? 4;
  const retryBaseMs = settings.retryBaseMs ?? 500;
  const id = `openai:${baseURL}#${settings.model}`;

  async function post(
    route: string,
    body: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let lastError = '';
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      let response: Response;
      try {
        response = await limit.run(() =>
          doFetch(`${baseURL}${route}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
            },
            body: JSON.stringify(body),
            signal: combined,
          }),
        );
      } catch (error) {
        if (signal?.aborted)
          throw new PolicyError(`request to ${baseURL}${route} was cancelled`, undefined, 'aborted');
        if (deadline.aborted)
          throw new PolicyError(
            `${baseURL}${route} did not answer within ${timeoutMs} ms`,
            undefined,
            'policy_timeout',
          );
        lastError = `cannot reach ${baseURL}${route}: ${(error as Error).message}`;
        await backoff(attempt, undefined, combined);
        continue;
      }
      if (response.ok) {
        try {
          return (await response.json()) as Record<string, unknown>;
        } catch {
          throw new PolicyError(`${baseURL}${route} answered with a body that is not JSON`, response.status);
        }
      }
      const text = await response.text().catch(() => '');
      lastError = `${baseURL}${route} answered ${response.status}: ${text.slice(0, 500)}`;
      if (!RETRYABLE.has(response.status)) throw new PolicyError(lastError, response.status);
      await backoff(attempt, response.headers.get('retry-after'), combined);
    }
    throw new PolicyError(
      `${lastError} (gave up after ${maxRetries + 1} attempts)`,
      undefined,
      'policy_unavailable',
    );
  }

  async function backoff(
    attempt: number,
    retryAfter: string | null | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
    const ms = Number.isFinite(seconds)
      ? seconds * 1000
      : retryBaseMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  async function completeTokens(
    tokens: TokenIds,
    sampling: SamplingParams,
    signal: AbortSignal | undefined,
  ): Promise<GenerateResult> {
    const body = await post(
      '/completions',
      {
        model: settings.model,
        // A view onto the loop's int32 record serialises as an object: the wire wants a list.
        prompt: Array.from(tokens),
        ...samplingBody(sampling),
        ...(sampling.stopTokenIds ? { stop_token_ids: sampling.stopTokenIds } : {}),
        logprobs: 1,
        return_token_ids: true,
        return_tokens_as_token_ids: true,
        skip_special_tokens: false,
        include_stop_str_in_output: true,
      },
      signal,
    );
    const choice = firstChoice(body, baseURL);
    const logprobs = choice.logprobs as { tokens?: unknown; token_logprobs?: unknown } | null | undefined;
    const sampled = tokenIdsOf(choice.token_ids) ?? tokenIdsFromStrings(logprobs?.tokens);
    if (!sampled) {
      throw new PolicyError(
        `${baseURL} returned no token ids for a token-mode request`,
        undefined,
        'policy_no_tokens',
      );
    }
    const promptTokens = tokenIdsOf(choice.prompt_token_ids) ?? tokenIdsOf(body.prompt_token_ids);
    const lp = numbersOf(logprobs?.token_logprobs);
    return {
      text: typeof choice.text === 'string' ? choice.text : '',
      tokens: sampled,
      ...(lp && lp.length === sampled.length ? { logprobs: lp } : {}),
      ...(promptTokens ? { promptTokens } : {}),
      finishReason: finishReasonOf(choice.finish_reason),
      policyVersion: policy.version,
    };
  }

  async function completeChat(
    request: Extract<GenerateRequest, { messages: unknown }>,
  ): Promise<GenerateResult> {
    const native = settings.nativeTools ?? true;
    const body = await post(
      '/chat/completions',
      {
        model: settings.model,
        messages: openaiToolCalls.messages(request.messages),
        ...(native && request.tools.length > 0 ? { tools: openaiToolCalls.tools(request.tools) } : {}),
        ...samplingBody(request.sampling),
        logprobs: true,
        ...(settings.requestTokenIds === false ? {} : { return_token_ids: true }),
      },
      request.signal,
    );
    const choice = firstChoice(body, baseURL);
    const message = (choice.message ?? {}) as { content?: unknown; tool_calls?: unknown };
    const wireCalls =
      Array.isArray(message.tool_calls) && message.tool_calls.length > 0 ? message.tool_calls : undefined;
    const parsed = wireCalls
      ? openaiToolCalls.parse(wireCalls, `call-${Date.now().toString(36)}`)
      : undefined;
    const lp = ((choice.logprobs as { content?: Array<{ logprob?: unknown }> } | null)?.content ?? []).map(
      (c) => Number(c.logprob),
    );
    const tokens = tokenIdsOf(choice.token_ids);
    const promptTokens = tokenIdsOf(body.prompt_token_ids) ?? tokenIdsOf(choice.prompt_token_ids);
    return {
      text: typeof message.content === 'string' ? message.content : '',
      ...(parsed ? { toolCalls: parsed.calls as ToolCall[], toolCallErrors: parsed.errors } : {}),
      ...(tokens ? { tokens } : {}),
      ...(lp.length > 0 && lp.every(Number.isFinite) ? { logprobs: lp } : {}),
      ...(promptTokens ? { promptTokens } : {}),
      finishReason: finishReasonOf(choice.finish_reason),
      policyVersion: policy.version,
    };
  }

  const policy: Policy = {
    id,
    version: 0,
    ...(settings.tokenizer ? { tokenizer: settings.tokenizer } : {}),
    ...(settings.chatTemplate ? { chatTemplate: settings.chatTemplate } : {}),
    generate(request) {
      if ('tokens' in request) {
        if (!settings.tokenizer)
          throw new PolicyError(
            `${id} got a token-mode request but has no tokenizer`,
            undefined,
            'policy_no_tokens',
          );
        return completeTokens(request.tokens, request.sampling, request.signal);
      }
      return completeChat(request);
    },
  };
  return policy;
}

function samplingBody(sampling: SamplingParams): Record<string, unknown> {
  return {
    max_tokens: sampling.maxTokens,
    temperature: sampling.temperature ?? 1,
    ...(sampling.topP !== undefined ? { top_p: sampling.topP } : {}),
    // `top_k` is a vLLM/SGLang extension; -1 means no cut there.
    ...(sampling.topK ? { top_k: sampling.topK } : {}),
    ...(sampling.seed !== undefined ? { seed: sampling.seed } : {}),
    ...(sampling.stop ? { stop: sampling.stop } : {}),
  };
}

function firstChoice(body: Record<string, unknown>, baseURL: string): Record<string, unknown> {
  const choice = (body.choices as unknown[] | undefined)?.[0];
  if (typeof choice !== 'object' || choice === null)
    throw new PolicyError(`${baseURL} answered without choices`);
  return choice as Record<string, unknown>;
}

function tokenIdsOf(value: unknown): number[] | undefined {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0)
    ? (value as number[])
    : undefined;
}

/** vLLM's `return_tokens_as_token_ids` writes each sampled token as `token_id:<id>`. */
function tokenIdsFromStrings(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const ids = value.map((v) =>
    typeof v === 'string' && v.startsWith('token_id:') ? Number(v.slice('token_id:'.length)) : Number.NaN,
  );
  return ids.every(Number.isInteger) ? ids : undefined;
}

function numbersOf(value: unknown): number[] | undefined {
  return Array.isArray(value) ? value.map((v) => (typeof v === 'number' ? v : 0)) : undefined;
}

function finishReasonOf(value: unknown): FinishReason {
  switch (value) {
    case 'length':
      return 'length';
    case 'tool_calls':
      return 'tool_call';
    case 'abort':
      return 'abort';
    default:
      return 'stop';
  }
}

/**
 * `openai:<baseURL>#<model>`. Settings by `--policy-option`: `apiKey` (else `OPENAI_API_KEY`),
 * `timeoutMs`, `maxRetries`, `maxConcurrency`, `requestTokenIds=false` (hosted APIs), and `tokenizer=<modelDir>`: the served model's
 * directory (tokenizer.json, tokenizer_config.json with its chat template), which switches the
 * policy to token mode and exact trajectories.
 */
export const openaiPolicyScheme: PolicyScheme = {
  usage: 'openai:<baseURL>#<model>',
  async create(target, context) {
    const hash = target.lastIndexOf('#');
    const baseURL = hash < 0 ? target : target.slice(0, hash);
    const model = hash < 0 ? '' : target.slice(hash + 1);
    if (!/^https?:\/\//.test(baseURL) || model === '') {
      throw new PolicySpecError(
        `'openai:${target}' is not an OpenAI-compatible policy spec`,
        'write openai:<baseURL>#<model>, e.g. openai:http://localhost:8000/v1#Qwen/Qwen2.5-7B-Instruct',
      );
    }
    const number = (key: string) => {
      const value = context.options[key];
      if (value === undefined) return undefined;
      const n = Number(value);
      if (!Number.isFinite(n)) throw new PolicySpecError(`--policy-option ${key}=${value} is not a number`);
      return n;
    };
    const apiKey = context.options.apiKey ?? process.env.OPENAI_API_KEY;
    const timeoutMs = number('timeoutMs');
    const maxRetries = number('maxRetries');
    const maxConcurrency = number('maxConcurrency');
    const modelDir = context.options.tokenizer;
    // Loaded on demand: the model-directory reader pulls in the tokenizer engine.
    const served = modelDir ? (await import('../model/model-directory.ts')).readModelDir(modelDir) : undefined;
    if (served && !served.chatTemplate) {
      throw new PolicySpecError(
        `${modelDir}/tokenizer_config.json has no chat_template`,
        "token mode renders prompts with the model's own template",
      );
    }
    return createOpenAICompatiblePolicy({
      baseURL,
      model,
      nativeTools: context.toolFormat === 'native',
      ...(context.options.requestTokenIds === 'false' ? { requestTokenIds: false } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxRetries !== undefined ? { maxRetries } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(served
        ? {
            tokenizer: served.tokenizer,
            ...(served.chatTemplate ? { chatTemplate: served.chatTemplate } : {}),
          }
        : {}),
    });
  },
};

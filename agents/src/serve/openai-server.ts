/**
 * An OpenAI-compatible HTTP server over the onnx policy (`toolgym policy serve`): /v1/completions and
 * /v1/chat/completions, streaming (SSE) and not, plus /v1/models and /health, on the shared HTTP
 * layer (`@toolgym/http`: token off loopback, Host/Origin allow-list, body limit, one error shape).
 * Token ids and logprobs come back the way vLLM returns them, so the `openai` policy backend and any
 * OpenAI client can use it:
 *
 * - `return_token_ids: true` → `token_ids` on each choice (per chunk when streaming: the delta) and
 *   `prompt_token_ids` (completions: on the choice; chat: on the response / first chunk).
 * - completions `logprobs: n` → `{tokens, token_logprobs, top_logprobs, text_offset}` with the n
 *   likeliest tokens at each position; chat `logprobs: true, top_logprobs: n` →
 *   `{content: [{token, logprob, bytes, top_logprobs}]}`. A sampled token's logprob is under the
 *   distribution it was drawn from (top-k/top-p renormalised; 0 when greedy), which is what RL's
 *   importance ratio needs; `top_logprobs` list the model's own log-softmax(logits / temperature)
 *   (temperature 1 when greedy), as vLLM's raw logprobs do.
 * - vLLM extras accepted: `top_k`, `stop_token_ids`, `ignore_eos`, `include_stop_str_in_output`,
 *   `return_tokens_as_token_ids`, `seed`; `policy_version` is added to responses.
 * - `max_tokens` is capped at the room the context leaves after the prompt; a prompt that leaves
 *   none is a 400.
 *
 * Chat requests are rendered with the model's own chat template (`chat/`), and `<tool_call>` blocks
 * in the reply become `tool_calls`, streamed as deltas too, read in the model's call format (Hermes
 * JSON, or compact when its model directory records it). A tool message must name the call it
 * answers. `response_format` other than text and a forced `tool_choice` are refused (400): the
 * sampler cannot enforce them.
 */
import { randomUUID } from 'node:crypto';
import {
  type AppEnv,
  createHttpApp,
  HttpError,
  type ListenOptions,
  mountRoutes,
  type Route,
  readJson,
} from '@toolgym/http';
import type { Context } from 'hono';
import { ChatTemplate } from '../chat/chat-template.ts';
import type { OnnxPolicy } from '../onnx/onnx-policy.ts';
import type { GenerateResult, SamplingParams } from '../policy.ts';
import { chatMessages } from './chat-messages.ts';
import { eventStream } from './event-stream.ts';
import { chatLogprobs, completionLogprobs, type SampledPosition } from './openai-logprobs.ts';
import {
  type ChatRequest,
  ChatRequestSchema,
  type CommonRequest,
  type CompletionRequest,
  CompletionRequestSchema,
  invalidRequest,
  maxTokensFor,
  parseRequest,
  refuseUnenforceable,
} from './openai-requests.ts';
import { TextStream, visibleText } from './text-stream.ts';
import { contentAndCalls, type ReplyPiece, ToolCallStream } from './tool-call-stream.ts';
import type { ToolCall } from '@toolgym/protocol';

export interface OpenAiServerOptions extends ListenOptions {
  /** Name clients pass as `model`. */
  modelName: string;
  /** Bearer token (the client's API key); required off loopback. Without one any key is accepted. */
  token?: string;
}

export interface OpenAiServer {
  /** The API base, `http://host:port/v1`. */
  url: string;
  close(): Promise<void>;
}

type ServerEnv = AppEnv<'client'>;

export async function serveOpenAiCompatible(
  policy: OnnxPolicy,
  options: OpenAiServerOptions,
): Promise<OpenAiServer> {
  const { app, listen } = createHttpApp({
    ...options,
    name: 'the policy server',
    auth: { tokens: { client: options.token }, ...(options.token ? {} : { anonymous: 'client' as const }) },
    defaultMaxBodyBytes: 32 * 1024 * 1024,
    errorBody: openAiError,
  });
  const model = options.modelName;
  const routes: Array<Route<ServerEnv>> = [
    {
      method: 'GET',
      path: '/health',
      handle: (c) => c.json({ status: 'ok', policy_version: policy.version }),
    },
    {
      method: 'GET',
      path: '/v1/models',
      handle: (c) =>
        c.json({
          object: 'list',
          data: [
            {
              id: model,
              object: 'model',
              created: 0,
              owned_by: 'toolgym',
              max_model_len: policy.modelDir.shape.maxPositions,
            },
          ],
        }),
    },
    {
      method: 'POST',
      path: '/v1/completions',
      handle: async (c) =>
        completions(c, policy, model, parseRequest(CompletionRequestSchema, await readJson(c))),
    },
    {
      method: 'POST',
      path: '/v1/chat/completions',
      handle: async (c) =>
        chatCompletions(c, policy, model, parseRequest(ChatRequestSchema, await readJson(c))),
    },
  ];
  mountRoutes(app, routes);
  const server = await listen({ port: options.port ?? 8000 });
  return { url: `${server.origin}/v1`, close: () => server.close() };
}

/** One generated sequence as the endpoints report it. */
interface Choice {
  index: number;
  promptTokens: number[];
  result: GenerateResult;
  /** Text as OpenAI reports it: eos not shown, cut before a matched stop string. */
  text: string;
  positions: SampledPosition[];
}

/** What one sampled token adds to a streamed choice. */
type TokenListener = (position: SampledPosition) => void;

interface GenerationPlan {
  index: number;
  promptTokens: number[];
  sampling: SamplingParams;
}

/** OpenAI clients show only `message`: the hint goes into it too. */
function openAiError(error: HttpError): unknown {
  const { error: body } = error.body();
  return {
    error: {
      type: 'invalid_request_error',
      param: null,
      ...body,
      message: error.hint ? `${error.message}; ${error.hint}` : error.message,
    },
  };
}

function checkModel(requested: string, served: string): void {
  if (requested !== served)
    throw new HttpError(404, 'model_not_found', `model '${requested}' does not exist`, {
      hint: `this server serves '${served}'`,
      details: { type: 'not_found_error', param: 'model' },
    });
}

function samplingOf(body: CommonRequest, maxTokens: number, choiceIndex: number): SamplingParams {
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: body.top_k != null && body.top_k > 0 ? body.top_k : 0,
    stop,
    ...(body.stop_token_ids ? { stopTokenIds: body.stop_token_ids } : {}),
    // n > 1 with a seed: each choice its own reproducible stream.
    ...(body.seed != null ? { seed: body.seed + choiceIndex } : {}),
  };
}

/** Stop strings the text is cut at (vLLM `include_stop_str_in_output` keeps them). */
function hiddenStops(body: CommonRequest, sampling: SamplingParams): string[] {
  return body.include_stop_str_in_output ? [] : (sampling.stop ?? []);
}

async function generate(
  policy: OnnxPolicy,
  body: CommonRequest,
  plan: GenerationPlan,
  topLogprobs: number,
  signal: AbortSignal,
  onToken?: TokenListener,
): Promise<Choice> {
  const positions: SampledPosition[] = [];
  const result = await policy.enqueue({
    tokens: plan.promptTokens,
    sampling: plan.sampling,
    signal,
    ignoreEos: body.ignore_eos ?? false,
    ...(topLogprobs > 0 ? { topLogprobs } : {}),
    onToken: (token, logprob, top) => {
      const position = { token, logprob, top: top ?? [] };
      positions.push(position);
      onToken?.(position);
    },
  });
  const stops = result.finishReason === 'stop_string' ? hiddenStops(body, plan.sampling) : [];
  return { ...plan, result, text: visibleText(result.text, stops), positions };
}

function finishReasonOf(result: GenerateResult): 'stop' | 'length' | 'abort' {
  if (result.finishReason === 'length') return 'length';
  if (result.finishReason === 'abort') return 'abort';
  return 'stop';
}

function usageOf(choices: Choice[]) {
  const prompt = [...new Set(choices.map((c) => c.promptTokens))].reduce((a, p) => a + p.length, 0);
  const completion = choices.reduce((a, c) => a + (c.result.tokens?.length ?? 0), 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

async function completions(
  c: Context<ServerEnv>,
  policy: OnnxPolicy,
  model: string,
  body: CompletionRequest,
) {
  checkModel(body.model, model);
  if (body.echo) throw invalidRequest('echo', 'unsupported_echo', 'echo is not supported');
  const prompts: number[][] =
    typeof body.prompt === 'string'
      ? [policy.tokenizer.encode(body.prompt)]
      : typeof body.prompt[0] === 'number'
        ? [body.prompt as number[]]
        : typeof body.prompt[0] === 'string'
          ? (body.prompt as string[]).map((p) => policy.tokenizer.encode(p))
          : (body.prompt as number[][]);
  const n = body.n ?? 1;
  const context = policy.modelDir.shape.maxPositions;
  const plan = prompts.flatMap((promptTokens, p) => {
    // OpenAI's default for completions is 16 tokens.
    const maxTokens = maxTokensFor(promptTokens.length, context, body.max_tokens, 16, 'prompt');
    return Array.from({ length: n }, (_, k) => ({
      index: p * n + k,
      promptTokens,
      sampling: samplingOf(body, maxTokens, k),
    }));
  });
  const head = {
    id: `cmpl-${randomUUID()}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model,
  };
  const top = body.logprobs ?? 0;
  const asIds = body.return_tokens_as_token_ids ?? false;
  const logprobsOf = (positions: SampledPosition[]) =>
    body.logprobs != null ? completionLogprobs(policy.tokenizer, positions, asIds) : null;
  const signal = c.req.raw.signal;

  if (body.stream) {
    return eventStream(async (send) => {
      const finished = await Promise.all(
        plan.map(async (p) => {
          const text = new TextStream(policy.tokenizer, hiddenStops(body, p.sampling));
          let first = true;
          const choice = await generate(policy, body, p, top, signal, (position) => {
            send({
              ...head,
              choices: [
                {
                  index: p.index,
                  text: text.push(position.token),
                  logprobs: logprobsOf([position]),
                  finish_reason: null,
                  ...(body.return_token_ids
                    ? { token_ids: [position.token], ...(first ? { prompt_token_ids: p.promptTokens } : {}) }
                    : {}),
                },
              ],
            });
            first = false;
          });
          send({
            ...head,
            choices: [
              {
                index: p.index,
                text: text.rest(choice.text),
                logprobs: null,
                finish_reason: finishReasonOf(choice.result),
                ...(body.return_token_ids ? { token_ids: [] } : {}),
              },
            ],
          });
          return choice;
        }),
      );
      if (body.stream_options?.include_usage) send({ ...head, choices: [], usage: usageOf(finished) });
    });
  }

  const choices = await Promise.all(plan.map((p) => generate(policy, body, p, top, signal)));
  return c.json({
    ...head,
    policy_version: choices[0]!.result.policyVersion,
    choices: choices.map((choice) => ({
      index: choice.index,
      text: choice.text,
      logprobs: logprobsOf(choice.positions),
      finish_reason: finishReasonOf(choice.result),
      stop_reason: null,
      ...(body.return_token_ids
        ? { prompt_token_ids: choice.promptTokens, token_ids: choice.result.tokens }
        : {}),
    })),
    usage: usageOf(choices),
  });
}

/** The chat template of the policy's current model, compiled once per template. */
const templates = new WeakMap<OnnxPolicy, ChatTemplate>();
function templateOf(policy: OnnxPolicy): ChatTemplate {
  const source = policy.chatTemplate;
  if (!source)
    throw invalidRequest(
      null,
      'no_chat_template',
      `${policy.modelDir.dir}/tokenizer_config.json has no chat_template`,
      'use /v1/completions, or serve a model directory with a chat template',
    );
  let template = templates.get(policy);
  if (template?.source !== source) {
    template = new ChatTemplate(source, {}, `${policy.modelDir.dir}/tokenizer_config.json`);
    templates.set(policy, template);
  }
  return template;
}

/** OpenAI's tool call delta (streaming, with its `index`) or message entry: `arguments` is a JSON string. */
function wireCall(call: ToolCall, index?: number) {
  return {
    ...(index !== undefined ? { index } : {}),
    id: call.id,
    type: 'function' as const,
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  };
}

async function chatCompletions(c: Context<ServerEnv>, policy: OnnxPolicy, model: string, body: ChatRequest) {
  checkModel(body.model, model);
  refuseUnenforceable(body);
  const template = templateOf(policy);
  const prompt = chatMessages(body, policy.modelDir.toolgym?.toolCalls);
  const promptTokens = policy.tokenizer.encode(
    template.render(prompt.messages, prompt.tools, { addGenerationPrompt: true }),
  );
  const context = policy.modelDir.shape.maxPositions;
  const maxTokens = maxTokensFor(
    promptTokens.length,
    context,
    body.max_completion_tokens ?? body.max_tokens,
    context,
    'messages',
  );
  const plan = Array.from({ length: body.n ?? 1 }, (_, k) => ({
    index: k,
    promptTokens,
    sampling: samplingOf(body, maxTokens, k),
  }));
  const head = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model };
  const top = body.logprobs ? (body.top_logprobs ?? 0) : 0;
  const asIds = body.return_tokens_as_token_ids ?? false;
  const logprobsOf = (positions: SampledPosition[]) =>
    body.logprobs ? { content: chatLogprobs(policy.tokenizer, positions, asIds) } : null;
  // Without tools offered the reply is text: nothing in it is read as a call.
  const readsCalls = prompt.tools.length > 0;
  const signal = c.req.raw.signal;

  if (body.stream) {
    return eventStream(async (send) => {
      const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        send({ ...head, object: 'chat.completion.chunk', ...extra, choices: [choice] });
      const finished = await Promise.all(
        plan.map(async (p) => {
          const text = new TextStream(policy.tokenizer, hiddenStops(body, p.sampling));
          const calls = new ToolCallStream(prompt.format);
          let callIndex = 0;
          const delta = (visible: string, ended: boolean) => {
            const pieces: ReplyPiece[] = readsCalls
              ? [...calls.push(visible), ...(ended ? calls.end() : [])]
              : [{ content: visible }];
            const { content, calls: read } = contentAndCalls(pieces);
            const toolCalls = read.map((call) => wireCall(call, callIndex++));
            return {
              ...(content || toolCalls.length === 0 ? { content } : {}),
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
            };
          };
          chunk(
            {
              index: p.index,
              delta: { role: 'assistant', content: '' },
              logprobs: null,
              finish_reason: null,
            },
            body.return_token_ids && p.index === 0 ? { prompt_token_ids: promptTokens } : {},
          );
          const choice = await generate(policy, body, p, top, signal, (position) =>
            chunk({
              index: p.index,
              delta: delta(text.push(position.token), false),
              logprobs: logprobsOf([position]),
              finish_reason: null,
              ...(body.return_token_ids ? { token_ids: [position.token] } : {}),
            }),
          );
          const last = delta(text.rest(choice.text), true);
          chunk({
            index: p.index,
            delta: last.content === '' && !last.tool_calls ? {} : last,
            logprobs: null,
            finish_reason: calls.sawCalls ? 'tool_calls' : finishReasonOf(choice.result),
            ...(body.return_token_ids ? { token_ids: [] } : {}),
          });
          return choice;
        }),
      );
      if (body.stream_options?.include_usage)
        send({ ...head, object: 'chat.completion.chunk', choices: [], usage: usageOf(finished) });
    });
  }

  const choices = await Promise.all(plan.map((p) => generate(policy, body, p, top, signal)));
  return c.json({
    ...head,
    object: 'chat.completion',
    policy_version: choices[0]!.result.policyVersion,
    choices: choices.map((choice) => {
      const calls = new ToolCallStream(prompt.format);
      const pieces: ReplyPiece[] = readsCalls
        ? [...calls.push(choice.text), ...calls.end()]
        : [{ content: choice.text }];
      const { content, calls: read } = contentAndCalls(pieces);
      const toolCalls = read.map((call) => wireCall(call));
      return {
        index: choice.index,
        message: {
          role: 'assistant',
          content: toolCalls.length > 0 && content === '' ? null : content,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: logprobsOf(choice.positions),
        finish_reason: toolCalls.length > 0 ? 'tool_calls' : finishReasonOf(choice.result),
        stop_reason: null,
        ...(body.return_token_ids ? { token_ids: choice.result.tokens } : {}),
      };
    }),
    usage: usageOf(choices),
    ...(body.return_token_ids ? { prompt_token_ids: promptTokens } : {}),
  });
}

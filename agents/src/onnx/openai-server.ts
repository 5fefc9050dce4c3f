/**
 * An OpenAI-compatible HTTP server over the onnx policy (`toolgym policy serve`): /v1/completions and
 * /v1/chat/completions, streaming (SSE) and not, plus /v1/models and /health. Token ids and logprobs
 * come back the way vLLM returns them, so the `openai` policy backend and any OpenAI client can use it:
 *
 * - `return_token_ids: true` → `token_ids` on each choice (per chunk when streaming: the delta) and
 *   `prompt_token_ids` (completions: on the choice; chat: on the response / first chunk).
 * - completions `logprobs: n` → `{tokens, token_logprobs, top_logprobs, text_offset}`;
 *   chat `logprobs: true` → `{content: [{token, logprob, bytes, top_logprobs}]}`. Each logprob is the
 *   sampled id's under the distribution it was drawn from (see sampler.ts; 0 when greedy). Top
 *   alternatives are not computed: `top_logprobs` lists are empty.
 * - vLLM extras accepted: `top_k`, `stop_token_ids`, `ignore_eos`, `include_stop_str_in_output`,
 *   `return_tokens_as_token_ids`, `seed`; `policy_version` is added to responses.
 *
 * Chat requests are rendered with the model's own chat template; `<tool_call>` blocks in the reply
 * become `tool_calls` (non-streaming; streamed replies carry the raw text). They are read as Hermes
 * JSON, or as `name:value` when the model directory records the compact format (`toolgym train`
 * with `template.kind: compact`), whose template shows earlier calls only through the assistant
 * message's text: so for such a model, the request's earlier `tool_calls` are written into it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { CompactFormatError, recordedToolCalls } from '../chat/compact-format.ts';
import type { ToolCallFormat } from '../chat/tool-call-format.ts';
import type { GenerateResult, SamplingParams } from '../policy.ts';
import { renderChatTemplate, type TemplateMessage, type TemplateTool } from './chat-prompt.ts';
import { PolicyRequestError } from './errors.ts';
import type { OnnxPolicy } from './onnx-policy.ts';

export interface OpenAiServerOptions {
  port?: number;
  host?: string;
  /** Name clients pass as `model` (default: the model directory's base name). */
  modelName: string;
}

export interface OpenAiServer {
  url: string;
  close(): Promise<void>;
}

/** A request error rendered as an OpenAI error body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const stopSchema = z.union([z.string(), z.array(z.string())]).nullish();
const commonSchema = {
  model: z.string(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().nullish(),
  seed: z.number().int().nullish(),
  stop: stopSchema,
  stop_token_ids: z.array(z.number().int()).nullish(),
  n: z.number().int().min(1).max(64).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  return_token_ids: z.boolean().nullish(),
  ignore_eos: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
  return_tokens_as_token_ids: z.boolean().nullish(),
};
const CompletionRequestSchema = z.object({
  ...commonSchema,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  logprobs: z.number().int().min(0).nullish(),
  echo: z.boolean().nullish(),
});
const ChatRequestSchema = z.object({
  ...commonSchema,
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: z
          .union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() })), z.null()])
          .optional(),
        tool_calls: z
          .array(
            z.object({
              id: z.string().optional(),
              type: z.literal('function').optional(),
              function: z.object({ name: z.string(), arguments: z.string() }),
            }),
          )
          .optional(),
        tool_call_id: z.string().optional(),
        name: z.string().optional(),
      }),
    )
    .min(1),
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({
          name: z.string(),
          description: z.string().optional(),
          parameters: z.unknown().optional(),
        }),
      }),
    )
    .nullish(),
  tool_choice: z.unknown().optional(),
  max_completion_tokens: z.number().int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

export async function serveOpenAiCompatible(
  policy: OnnxPolicy,
  options: OpenAiServerOptions,
): Promise<OpenAiServer> {
  const server: Server = createServer((req, res) => {
    handle(policy, options.modelName, req, res).catch((error) => sendError(res, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  policy: OnnxPolicy,
  modelName: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
  if (route === 'GET /health') return sendJson(res, 200, { status: 'ok', policy_version: policy.version });
  if (route === 'GET /v1/models') {
    return sendJson(res, 200, {
      object: 'list',
      data: [
        {
          id: modelName,
          object: 'model',
          created: 0,
          owned_by: 'toolgym',
          max_model_len: policy.modelDir.shape.maxPositions,
        },
      ],
    });
  }
  if (route !== 'POST /v1/completions' && route !== 'POST /v1/chat/completions') {
    throw new HttpError(
      404,
      `no route ${req.method} ${url.pathname}; this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions`,
      'not_found_error',
    );
  }
  const body = await readJsonBody(req);
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  if (route === 'POST /v1/completions')
    return completions(policy, modelName, parse(CompletionRequestSchema, body), abort.signal, res);
  return chatCompletions(policy, modelName, parse(ChatRequestSchema, body), abort.signal, res);
}

type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
type ChatRequest = z.infer<typeof ChatRequestSchema>;

/** One generated sequence as the endpoints report it. */
interface Choice {
  index: number;
  promptTokens: number[];
  result: GenerateResult;
  /** Text as OpenAI reports it: eos not shown, cut before a matched stop string. */
  text: string;
}

function samplingOf(
  body: z.infer<z.ZodObject<typeof commonSchema>>,
  maxTokens: number | null | undefined,
  choiceIndex: number,
): SamplingParams {
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    maxTokens: maxTokens ?? 16,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: body.top_k != null && body.top_k > 0 ? body.top_k : 0,
    stop,
    ...(body.stop_token_ids ? { stopTokenIds: body.stop_token_ids } : {}),
    // n > 1 with a seed: each choice its own reproducible stream.
    ...(body.seed != null ? { seed: body.seed + choiceIndex } : {}),
  };
}

function checkModel(requested: string, served: string): void {
  if (requested !== served)
    throw new HttpError(
      404,
      `model '${requested}' does not exist; this server serves '${served}'`,
      'not_found_error',
      'model',
    );
}

async function completions(
  policy: OnnxPolicy,
  modelName: string,
  body: CompletionRequest,
  signal: AbortSignal,
  res: ServerResponse,
): Promise<void> {
  checkModel(body.model, modelName);
  if (body.echo) throw new HttpError(400, 'echo is not supported', 'invalid_request_error', 'echo');
  const prompts: number[][] =
    typeof body.prompt === 'string'
      ? [policy.tokenizer.encode(body.prompt)]
      : typeof body.prompt[0] === 'number'
        ? [body.prompt as number[]]
        : typeof body.prompt[0] === 'string'
          ? (body.prompt as string[]).map((p) => policy.tokenizer.encode(p))
          : (body.prompt as number[][]);
  const n = body.n ?? 1;
  const id = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const wantLogprobs = body.logprobs != null;
  const plan = prompts.flatMap((promptTokens, p) =>
    Array.from({ length: n }, (_, k) => ({
      index: p * n + k,
      promptTokens,
      sampling: samplingOf(body, body.max_tokens, k),
    })),
  );

  if (body.stream) {
    const sse = startSse(res);
    const finished = await Promise.all(
      plan.map(({ index, promptTokens, sampling }) => {
        const stream = new TextStream(policy, hiddenStops(sampling, engineOptionsOf(body)));
        let first = true;
        return generateChoice(
          policy,
          index,
          promptTokens,
          sampling,
          signal,
          engineOptionsOf(body),
          (token, logprob) => {
            const delta = stream.push(token);
            sse.send({
              id,
              object: 'text_completion',
              created,
              model: modelName,
              choices: [
                {
                  index,
                  text: delta,
                  logprobs: wantLogprobs
                    ? completionLogprobs(policy, [token], [logprob], body.return_tokens_as_token_ids ?? false)
                    : null,
                  finish_reason: null,
                  ...(body.return_token_ids
                    ? { token_ids: [token], ...(first ? { prompt_token_ids: promptTokens } : {}) }
                    : {}),
                },
              ],
            });
            first = false;
          },
        ).then((choice) => {
          sse.send({
            id,
            object: 'text_completion',
            created,
            model: modelName,
            choices: [
              {
                index,
                text: stream.rest(choice.text),
                logprobs: null,
                finish_reason: finishReasonOf(choice.result),
                ...(body.return_token_ids ? { token_ids: [] } : {}),
              },
            ],
          });
          return choice;
        });
      }),
    );
    if (body.stream_options?.include_usage)
      sse.send({
        id,
        object: 'text_completion',
        created,
        model: modelName,
        choices: [],
        usage: usageOf(finished),
      });
    return sse.end();
  }

  const choices = await Promise.all(
    plan.map(({ index, promptTokens, sampling }) =>
      generateChoice(policy, index, promptTokens, sampling, signal, engineOptionsOf(body)),
    ),
  );
  sendJson(res, 200, {
    id,
    object: 'text_completion',
    created,
    model: modelName,
    policy_version: choices[0]!.result.policyVersion,
    choices: choices.map((c) => ({
      index: c.index,
      text: c.text,
      logprobs: wantLogprobs
        ? completionLogprobs(
            policy,
            c.result.tokens!,
            c.result.logprobs!,
            body.return_tokens_as_token_ids ?? false,
          )
        : null,
      finish_reason: finishReasonOf(c.result),
      stop_reason: null,
      ...(body.return_token_ids ? { prompt_token_ids: c.promptTokens, token_ids: c.result.tokens } : {}),
    })),
    usage: usageOf(choices),
  });
}

async function chatCompletions(
  policy: OnnxPolicy,
  modelName: string,
  body: ChatRequest,
  signal: AbortSignal,
  res: ServerResponse,
): Promise<void> {
  checkModel(body.model, modelName);
  const template = policy.chatTemplate;
  if (!template)
    throw new HttpError(
      400,
      `${policy.modelDir.dir}/tokenizer_config.json has no chat_template; use /v1/completions`,
    );
  const requested = (body.tools ?? []) as TemplateTool[];
  const tools = body.tool_choice === 'none' ? [] : requested;
  const compact = recordedToolCalls(
    policy.modelDir.toolgym?.toolCalls,
    requested.map((t) => ({
      name: t.function.name,
      description: t.function.description ?? '',
      inputSchema: (t.function.parameters ?? {}) as Record<string, unknown>,
    })),
  );
  const messages: TemplateMessage[] = body.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content:
      m.content == null
        ? null
        : typeof m.content === 'string'
          ? m.content
          : m.content.map((part) => part.text).join(''),
    ...(m.tool_calls
      ? {
          tool_calls: m.tool_calls.map((c) => ({
            ...(c.id ? { id: c.id } : {}),
            type: 'function' as const,
            function: { name: c.function.name, arguments: parseArguments(c.function.arguments) },
          })),
        }
      : {}),
    ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
    ...(m.name ? { name: m.name } : {}),
  }));
  if (compact) for (const [i, m] of messages.entries()) withCompactCalls(m, i, compact);
  const prompt = renderChatTemplate(template, { messages, tools, addGenerationPrompt: true });
  const promptTokens = policy.tokenizer.encode(prompt);
  const n = body.n ?? 1;
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const maxTokens =
    body.max_completion_tokens ?? body.max_tokens ?? policy.modelDir.shape.maxPositions - promptTokens.length;
  const plan = Array.from({ length: n }, (_, k) => ({ index: k, sampling: samplingOf(body, maxTokens, k) }));

  if (body.stream) {
    const sse = startSse(res);
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      sse.send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: modelName,
        ...extra,
        choices: [choice],
      });
    const finished = await Promise.all(
      plan.map(({ index, sampling }) => {
        const stream = new TextStream(policy, hiddenStops(sampling, engineOptionsOf(body)));
        chunk(
          { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
          body.return_token_ids && index === 0 ? { prompt_token_ids: promptTokens } : {},
        );
        return generateChoice(
          policy,
          index,
          promptTokens,
          sampling,
          signal,
          engineOptionsOf(body),
          (token, logprob) => {
            const delta = stream.push(token);
            chunk({
              index,
              delta: { content: delta },
              logprobs: body.logprobs
                ? {
                    content: chatLogprobs(
                      policy,
                      [token],
                      [logprob],
                      body.return_tokens_as_token_ids ?? false,
                    ),
                  }
                : null,
              finish_reason: null,
              ...(body.return_token_ids ? { token_ids: [token] } : {}),
            });
          },
        ).then((choice) => {
          const rest = stream.rest(choice.text);
          chunk({
            index,
            delta: rest ? { content: rest } : {},
            logprobs: null,
            finish_reason: finishReasonOf(choice.result),
            ...(body.return_token_ids ? { token_ids: [] } : {}),
          });
          return choice;
        });
      }),
    );
    if (body.stream_options?.include_usage)
      sse.send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: modelName,
        choices: [],
        usage: usageOf(finished),
      });
    return sse.end();
  }

  const choices = await Promise.all(
    plan.map(({ index, sampling }) =>
      generateChoice(policy, index, promptTokens, sampling, signal, engineOptionsOf(body)),
    ),
  );
  sendJson(res, 200, {
    id,
    object: 'chat.completion',
    created,
    model: modelName,
    policy_version: choices[0]!.result.policyVersion,
    choices: choices.map((c) => {
      const { content, toolCalls } =
        tools.length === 0
          ? { content: c.text, toolCalls: [] }
          : compact
            ? extractCompactToolCalls(c.text, compact)
            : extractHermesToolCalls(c.text);
      return {
        index: c.index,
        message: { role: 'assistant', content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: body.logprobs
          ? {
              content: chatLogprobs(
                policy,
                c.result.tokens!,
                c.result.logprobs!,
                body.return_tokens_as_token_ids ?? false,
              ),
            }
          : null,
        finish_reason: toolCalls.length > 0 ? 'tool_calls' : finishReasonOf(c.result),
        stop_reason: null,
        ...(body.return_token_ids ? { token_ids: c.result.tokens } : {}),
      };
    }),
    usage: usageOf(choices),
    ...(body.return_token_ids ? { prompt_token_ids: promptTokens } : {}),
  });
}

/** vLLM request extras that change generation or its text. */
interface EngineOptions {
  ignoreEos: boolean;
  /** vLLM `include_stop_str_in_output`: keep a matched stop string in the text. */
  keepStopString: boolean;
}

function engineOptionsOf(body: z.infer<z.ZodObject<typeof commonSchema>>): EngineOptions {
  return { ignoreEos: body.ignore_eos ?? false, keepStopString: body.include_stop_str_in_output ?? false };
}

/** Stop strings the text must be cut at. */
function hiddenStops(sampling: SamplingParams, options: EngineOptions): string[] {
  return options.keepStopString ? [] : (sampling.stop ?? []);
}

async function generateChoice(
  policy: OnnxPolicy,
  index: number,
  promptTokens: number[],
  sampling: SamplingParams,
  signal: AbortSignal,
  options: EngineOptions,
  onToken?: (token: number, logprob: number) => void,
): Promise<Choice> {
  const result = await policy.enqueue({
    tokens: promptTokens,
    sampling,
    signal,
    ignoreEos: options.ignoreEos,
    ...(onToken ? { onToken } : {}),
  });
  return {
    index,
    promptTokens,
    result,
    text: visibleText(
      result.text,
      result.finishReason === 'stop_string' ? hiddenStops(sampling, options) : [],
    ),
  };
}

/** OpenAI leaves the matched stop string out of the text. */
function visibleText(text: string, stops: string[]): string {
  let cut = text.length;
  for (const s of stops) {
    const at = s ? text.indexOf(s) : -1;
    if (at >= 0) cut = Math.min(cut, at);
  }
  return text.slice(0, cut);
}

/**
 * Incremental detokenisation for streaming: emits text once its UTF-8 is complete, holds back the
 * eos token and as many characters as a stop string could still need, and hands out the remainder
 * when generation ends.
 */
class TextStream {
  private readonly ids: number[] = [];
  private sent = 0;
  private readonly holdBack: number;

  constructor(
    private readonly policy: OnnxPolicy,
    private readonly stops: string[],
  ) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length));
  }

  push(token: number): string {
    if (this.policy.tokenizer.eosTokenIds.includes(token)) return '';
    this.ids.push(token);
    const text = this.policy.tokenizer.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    const ready =
      visibleText(text, this.stops).length === text.length
        ? text.length - this.holdBack
        : visibleText(text, this.stops).length;
    if (ready <= this.sent) return '';
    const delta = text.slice(this.sent, ready);
    this.sent = ready;
    return delta;
  }

  /** What is left of the final text after the deltas already sent. */
  rest(finalText: string): string {
    return finalText.slice(this.sent);
  }
}

function finishReasonOf(result: GenerateResult): 'stop' | 'length' | 'abort' {
  if (result.finishReason === 'length') return 'length';
  if (result.finishReason === 'abort') return 'abort';
  return 'stop';
}

function usageOf(choices: Choice[]): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
} {
  const prompt = [...new Set(choices.map((c) => c.promptTokens))].reduce((a, p) => a + p.length, 0);
  const completion = choices.reduce((a, c) => a + (c.result.tokens?.length ?? 0), 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** vLLM `return_tokens_as_token_ids`: logprob entries name tokens as `token_id:<id>`. */
function tokenString(policy: OnnxPolicy, token: number, asId: boolean): string {
  return asId ? `token_id:${token}` : policy.tokenizer.decode([token]);
}

function completionLogprobs(policy: OnnxPolicy, tokens: number[], logprobs: number[], asIds: boolean) {
  let offset = 0;
  const texts = tokens.map((t) => policy.tokenizer.decode([t]));
  return {
    tokens: tokens.map((t) => tokenString(policy, t, asIds)),
    token_logprobs: logprobs,
    top_logprobs: tokens.map(() => ({})),
    text_offset: texts.map((s) => {
      const at = offset;
      offset += s.length;
      return at;
    }),
  };
}

function chatLogprobs(policy: OnnxPolicy, tokens: number[], logprobs: number[], asIds: boolean) {
  return tokens.map((t, i) => {
    const text = policy.tokenizer.decode([t]);
    return {
      token: tokenString(policy, t, asIds),
      logprob: logprobs[i]!,
      bytes: [...Buffer.from(text, 'utf8')],
      top_logprobs: [],
    };
  });
}

type ReplyToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

const replyCallId = () => `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;

/** Writes an assistant message's `tool_calls` into its text, the only place the compact template shows them. */
function withCompactCalls(message: TemplateMessage, index: number, format: ToolCallFormat): void {
  if (!message.tool_calls) return;
  const calls = message.tool_calls.map((c, j) => {
    const args = c.function.arguments;
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new HttpError(
        400,
        `messages[${index}].tool_calls[${j}].function.arguments must be a JSON object, got ${JSON.stringify(args).slice(0, 80)}`,
      );
    return { id: c.id ?? `call-${j}`, name: c.function.name, arguments: args as Record<string, unknown> };
  });
  try {
    message.content = `${message.content ?? ''}${format.render(calls)}`;
  } catch (error) {
    if (error instanceof CompactFormatError)
      throw new HttpError(400, `${error.message}; list it in \`tools\` with its one string argument`);
    throw error;
  }
}

/**
 * Compact `<tool_call>name:value</tool_call>` blocks → OpenAI tool_calls. A reply with a block that
 * does not read (an unknown tool, no `:`, no closing tag) stays text, whole.
 */
export function extractCompactToolCalls(
  text: string,
  format: ToolCallFormat,
): { content: string | null; toolCalls: ReplyToolCall[] } {
  const { content, calls, errors } = format.parse(text, 'call');
  if (calls.length === 0 || errors.length > 0) return { content: text, toolCalls: [] };
  return {
    content: content === '' ? null : content,
    toolCalls: calls.map((c) => ({
      id: replyCallId(),
      type: 'function',
      function: { name: c.name, arguments: JSON.stringify(c.arguments) },
    })),
  };
}

/** Hermes `<tool_call>{"name": …, "arguments": …}</tool_call>` blocks → OpenAI tool_calls; unreadable blocks stay in the content. */
export function extractHermesToolCalls(text: string): {
  content: string | null;
  toolCalls: ReplyToolCall[];
} {
  const toolCalls: ReplyToolCall[] = [];
  const content = text.replace(/<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g, (block, json: string) => {
    try {
      const call = JSON.parse(json) as { name?: unknown; arguments?: unknown };
      if (typeof call.name !== 'string') return block;
      toolCalls.push({
        id: replyCallId(),
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(call.arguments ?? {}) },
      });
      return '';
    } catch {
      return block;
    }
  });
  const trimmed = content.trim();
  return {
    content: toolCalls.length > 0 && trimmed === '' ? null : toolCalls.length > 0 ? trimmed : text,
    toolCalls,
  };
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = issue.path.join('.');
    throw new HttpError(
      400,
      `invalid request: ${param ? `'${param}': ` : ''}${issue.message}`,
      'invalid_request_error',
      param || null,
    );
  }
  return result.data;
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 32 * 1024 * 1024) throw new HttpError(413, 'request body over 32 MiB');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function startSse(res: ServerResponse): { send(data: unknown): void; end(): void } {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  return {
    send: (data) => {
      if (!res.writableEnded) res.write(`data: ${JSON.stringify(data)}\n\n`);
    },
    end: () => {
      if (!res.writableEnded) res.end('data: [DONE]\n\n');
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  const known =
    error instanceof HttpError
      ? error
      : error instanceof PolicyRequestError
        ? new HttpError(400, error.message, 'invalid_request_error', error.code)
        : undefined;
  const status = known?.status ?? 500;
  const body = {
    error: {
      message: known?.message ?? `internal error: ${(error as Error).message}`,
      type: known?.type ?? 'internal_error',
      param: known?.param ?? null,
      code: status,
    },
  };
  if (res.headersSent) {
    // Mid-stream: report the error as a final event.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(body)}\n\ndata: [DONE]\n\n`);
    return;
  }
  sendJson(res, status, body);
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import type { Tokenizer } from '../src/tokenizer.ts';

/**
 * TEST DOUBLE of a vLLM OpenAI-compatible server (no GPU engine can run here). It follows vLLM's
 * documented response shapes: `/v1/completions` with token-id prompts, `logprobs`,
 * `return_token_ids` (choice `token_ids` and `prompt_token_ids`) and `return_tokens_as_token_ids`
 * (`token_id:<id>` strings), and `/v1/chat/completions` with `tool_calls` and `logprobs.content`.
 * What it "samples" comes from `script`, given the decoded prompt or the chat messages.
 */
export interface VllmTestDoubleOptions {
  tokenizer: Tokenizer;
  /** The text of the next completion; `turn` counts the assistant turns already in the prompt. */
  completion?: (turn: number, promptText: string) => string;
  /** The native tool calls of the next chat turn. */
  chat?: (turn: number, messages: Array<{ role: string }>) => Array<{ name: string; arguments: string }>;
  /** Leave out `token_ids` (older vLLM): ids only as `token_id:<id>` logprob tokens. */
  omitTokenIdsField?: boolean;
  /** Statuses to answer with before answering normally (429, 503, 400, …). */
  failures?: number[];
  /** Wait this long before answering. */
  delayMs?: number;
  /**
   * Chat requests with `return_token_ids`: the prompt as the server's own template renders it
   * (its ids become `prompt_token_ids`); the sampled ids are the Hermes text of the calls.
   */
  renderChatPrompt?: (body: Record<string, unknown>, turn: number) => string;
}

export interface VllmTestDouble {
  baseURL: string;
  requests: Array<{ route: string; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startVllmTestDouble(options: VllmTestDoubleOptions): Promise<VllmTestDouble> {
  const requests: VllmTestDouble['requests'] = [];
  const failures = [...(options.failures ?? [])];
  const imEnd = options.tokenizer.specialTokens.get('<|im_end|>')!;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    requests.push({ route: req.url ?? '', body });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (res.destroyed) return;
    const failure = failures.shift();
    if (failure !== undefined) {
      return send(
        failure,
        { object: 'error', message: `injected ${failure}`, type: 'BadRequestError', code: failure },
        failure === 429 ? { 'retry-after': '0' } : {},
      );
    }
    if (req.url === '/v1/completions') {
      const prompt = body.prompt as number[];
      const promptText = options.tokenizer.decode(prompt);
      const turn = promptText.split('<|im_start|>assistant').length - 2;
      const text = options.completion!(turn, promptText);
      const ids = [...options.tokenizer.encode(text), imEnd];
      const logprobs = ids.map((_, i) => -0.5 / (i + 1));
      return send(200, {
        id: `cmpl-${requests.length}`,
        object: 'text_completion',
        created: 1,
        model: body.model,
        choices: [
          {
            index: 0,
            text: `${text}<|im_end|>`,
            logprobs: {
              tokens: ids.map((id) => `token_id:${id}`),
              token_logprobs: logprobs,
              top_logprobs: ids.map((id, i) => ({ [`token_id:${id}`]: logprobs[i] })),
              text_offset: ids.map(() => 0),
            },
            finish_reason: 'stop',
            stop_reason: null,
            ...(options.omitTokenIdsField ? {} : { token_ids: ids, prompt_token_ids: prompt }),
          },
        ],
        usage: {
          prompt_tokens: prompt.length,
          completion_tokens: ids.length,
          total_tokens: prompt.length + ids.length,
        },
      });
    }
    if (req.url === '/v1/chat/completions') {
      const messages = body.messages as Array<{ role: string }>;
      const turn = messages.filter((m) => m.role === 'assistant').length;
      const calls = options.chat!(turn, messages);
      const ids =
        body.return_token_ids && options.renderChatPrompt
          ? {
              prompt_token_ids: options.tokenizer.encode(options.renderChatPrompt(body, turn)),
              token_ids: [
                ...options.tokenizer.encode(
                  calls.length === 0
                    ? 'Done.'
                    : hermesToolCalls.render(
                        calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) })),
                      ),
                ),
                imEnd,
              ],
            }
          : undefined;
      return send(200, {
        ...(ids ? { prompt_token_ids: ids.prompt_token_ids } : {}),
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: calls.length === 0 ? 'Done.' : null,
              tool_calls: calls.map((c, i) => ({
                id: `chatcmpl-tool-${turn}-${i}`,
                type: 'function',
                function: c,
              })),
            },
            logprobs: { content: [{ token: 'x', logprob: -0.25, bytes: [120], top_logprobs: [] }] },
            finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
            stop_reason: null,
            ...(ids ? { token_ids: ids.token_ids } : {}),
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 },
      });
    }
    send(404, { object: 'error', message: `no route ${req.url}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The request bodies `toolgym policy serve` reads (OpenAI's, with vLLM's extras), and what it refuses:
 * a field the server cannot honour is a 400 naming it, never silently ignored.
 */
import { HttpError } from '@toolgym/http';
import { z } from 'zod';

const commonFields = {
  model: z.string(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  stop_token_ids: z.array(z.number().int()).nullish(),
  n: z.number().int().min(1).max(64).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  return_token_ids: z.boolean().nullish(),
  ignore_eos: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
  return_tokens_as_token_ids: z.boolean().nullish(),
};
const CommonSchema = z.object(commonFields);
export type CommonRequest = z.infer<typeof CommonSchema>;

export const CompletionRequestSchema = z.object({
  ...commonFields,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  /** How many alternatives to list at each position (`top_logprobs`); present = logprobs wanted. */
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const ToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const ChatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z
    .union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() })), z.null()])
    .optional(),
  tool_calls: z.array(ToolCallSchema).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ChatRequestSchema = z
  .object({
    ...commonFields,
    messages: z.array(ChatMessageSchema).min(1),
    tools: z
      .array(
        z.object({
          type: z.literal('function'),
          function: z.object({
            name: z.string(),
            description: z.string().optional(),
            parameters: z.record(z.string(), z.unknown()).optional(),
          }),
        }),
      )
      .nullish(),
    tool_choice: z
      .union([
        z.enum(['none', 'auto', 'required']),
        z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
      ])
      .nullish(),
    response_format: z.looseObject({ type: z.string() }).nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
  })
  .superRefine((body, ctx) => {
    // A tool result answers a call the conversation made: without the id it cannot say which.
    const callIds = new Set<string>();
    body.messages.forEach((m, i) => {
      for (const call of m.tool_calls ?? []) callIds.add(call.id);
      if (m.role !== 'tool') return;
      if (m.tool_call_id === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['messages', i, 'tool_call_id'],
          message: 'a tool message needs the id of the call it answers',
        });
      else if (!callIds.has(m.tool_call_id))
        ctx.addIssue({
          code: 'custom',
          path: ['messages', i, 'tool_call_id'],
          message: `'${m.tool_call_id}' is not the id of a tool call in an earlier assistant message`,
        });
    });
    if (body.top_logprobs && !body.logprobs)
      ctx.addIssue({ code: 'custom', path: ['top_logprobs'], message: 'top_logprobs needs logprobs: true' });
  });
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

/** A 400 in OpenAI's error shape (`type`, `param`), with our code and hint. */
export function invalidRequest(
  param: string | null,
  code: string,
  message: string,
  hint?: string,
): HttpError {
  return new HttpError(400, code, message, {
    ...(hint ? { hint } : {}),
    details: { type: 'invalid_request_error', param },
  });
}

export function parseRequest<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  throw invalidRequest(
    param || null,
    'invalid_request',
    `invalid request: ${param ? `'${param}': ` : ''}${issue.message}`,
  );
}

/**
 * Refuses what this server cannot enforce: its sampler has no constrained decoding, so it can
 * neither hold a reply to a JSON format nor force a tool call.
 */
export function refuseUnenforceable(body: ChatRequest): void {
  const format = body.response_format?.type;
  if (format !== undefined && format !== 'text')
    throw invalidRequest(
      'response_format',
      'unsupported_response_format',
      `response_format '${format}' is not enforced by this server (its sampler has no constrained decoding)`,
      'drop response_format, or ask for the format in the prompt and check the reply',
    );
  const choice = body.tool_choice;
  if (choice === 'required' || (typeof choice === 'object' && choice !== null))
    throw invalidRequest(
      'tool_choice',
      'unsupported_tool_choice',
      `tool_choice ${JSON.stringify(choice)} is not enforced by this server (it cannot force a call)`,
      "send tool_choice 'auto' (the model decides) or 'none'",
    );
}

/**
 * Tokens to generate: as asked (or `fallback`), capped at the room the context leaves after the
 * prompt; a prompt that leaves no room is a 400.
 */
export function maxTokensFor(
  promptTokens: number,
  contextLength: number,
  requested: number | null | undefined,
  fallback: number,
  param: string,
): number {
  const room = contextLength - promptTokens;
  if (room < 1)
    throw invalidRequest(
      param,
      'context_length_exceeded',
      `the prompt is ${promptTokens} tokens and this model's context is ${contextLength}: no room to generate`,
      'shorten the prompt',
    );
  return Math.min(requested ?? fallback, room);
}

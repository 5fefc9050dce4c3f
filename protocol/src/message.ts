import { z } from 'zod';

/** JSON Schema as MCP carries it (`inputSchema` of a tool). */
export const JsonSchemaSchema = z.record(z.string(), z.unknown());
export type JsonSchema = z.infer<typeof JsonSchemaSchema>;

/** A tool as the agent sees it: the MCP `Tool` shape. */
export const ToolSpecSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  inputSchema: JsonSchemaSchema,
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

/** A tool call parsed from the policy's output. */
export const ToolCallSchema = z.object({
  id: z.string(),
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

/** What came back from one tool call; `isError` results are shown to the model like any other. */
export const ToolResultSchema = z.object({
  callId: z.string(),
  name: z.string(),
  content: z.string(),
  isError: z.boolean(),
  /** The environment cut the output at its byte limit. */
  truncated: z.boolean().default(false),
  ms: z.number().nonnegative(),
});
export type ToolResult = z.infer<typeof ToolResultSchema>;

export const RoleSchema = z.enum(['system', 'user', 'assistant', 'tool']);
export type Role = z.infer<typeof RoleSchema>;

export const MessageSchema = z.object({
  role: RoleSchema,
  content: z.string(),
  /** Assistant messages: the calls parsed from `content`. */
  toolCalls: z.array(ToolCallSchema).optional(),
  /** Tool messages: which call this answers. */
  toolCallId: z.string().optional(),
  /** Tool messages: the tool's name. */
  name: z.string().optional(),
});
export type Message = z.infer<typeof MessageSchema>;

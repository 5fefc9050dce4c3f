/**
 * Errors of the configuration/programming channel fail at once and say what to fix; their base,
 * `ToolGymError`, lives in the protocol so every package shares it. Model-visible tool errors are
 * not exceptions that escape the kit: they become `isError` tool results (see `ToolError`).
 */
import { ToolGymError } from '@toolgym/protocol';


export class UnknownEnvironmentError extends ToolGymError {
  constructor(id: string, suggestions: string[], known: string[]) {
    const didYouMean = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?` : '';
    super('unknown_environment', `No environment '${id}'.${didYouMean}`, `Known environments: ${known.join(', ') || '(none)'}`);
  }
}

export class ConfigError extends ToolGymError {
  constructor(message: string, hint?: string) {
    super('invalid_config', message, hint);
  }
}

/** The control plane was used out of order (grade with no episode, unknown task id, …). */
export class EpisodeStateError extends ToolGymError {}

/**
 * Thrown by a tool to send a model-visible error back (the episode goes on). Anything else a
 * tool throws is reported to the model too, with code `tool_failed`.
 */
export class ToolError extends ToolGymError {
  constructor(message: string, code = 'tool_error', hint?: string) {
    super(code, message, hint);
  }
}

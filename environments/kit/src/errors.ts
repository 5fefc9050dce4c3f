/**
 * Errors of the configuration/programming channel: they fail at once and say what to fix.
 * Model-visible tool errors are not exceptions that escape the kit: they become `isError`
 * tool results (see `ToolError`).
 */
export class ToolGymError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** One line for a terminal. */
  render(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}

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
export class ToolError extends Error {
  constructor(
    message: string,
    readonly code = 'tool_error',
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

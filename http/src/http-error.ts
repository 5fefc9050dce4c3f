import { ToolGymError } from '@toolgym/protocol';

/** The one error body every ToolGym server answers with (the MCP endpoint wraps it in JSON-RPC). */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    hint?: string;
    /** Fields a particular API adds (OpenAI's `type` and `param`, the learner API's `field`). */
    [detail: string]: unknown;
  };
}

/**
 * An error a request caused, with the status it is answered with. It renders itself: `body()` is
 * the JSON the client gets, `headers` go with it (`Retry-After` on a 503).
 */
export class HttpError extends ToolGymError {
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    code: string,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(code, message, options.hint);
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  body(): ErrorBody {
    return {
      error: {
        ...this.details,
        code: this.code,
        message: this.message,
        ...(this.hint ? { hint: this.hint } : {}),
      },
    };
  }

  /**
   * Any error as an HttpError: other `ToolGymError`s are the caller's mistake (400, their code and
   * hint kept); anything else is ours (500).
   */
  static from(error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    if (error instanceof ToolGymError)
      return new HttpError(400, error.code, error.message, error.hint ? { hint: error.hint } : {});
    return new HttpError(
      500,
      'internal',
      `internal error: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** A server that cannot start as configured (exposed without a token, a busy port, a bad allow-list). */
export class HttpConfigError extends ToolGymError {}

export class PortInUseError extends HttpConfigError {
  constructor(host: string, port: number, hint = 'pick another port, or 0 for any free port') {
    super('port_in_use', `port ${port} on ${host} is already in use`, hint);
  }
}

import type { Context, MiddlewareHandler } from 'hono';
import { HttpConfigError, HttpError } from './http-error.ts';

export interface SessionCapOptions {
  /** Most sessions open at once. */
  max: number;
  /** Sessions open now. */
  open: () => number;
  /** Whether this request would open a session (default: every request through the middleware). */
  opens?: (c: Context) => boolean;
  /** What `Retry-After` tells a refused client, in seconds. Default 5. */
  retryAfterSeconds?: number;
}

/**
 * Refuses a request that would open a session past `max` with 503 and `Retry-After`. Requests still
 * opening one count too, so a burst cannot overshoot the cap.
 */
export function sessionCap(options: SessionCapOptions): MiddlewareHandler {
  if (!Number.isInteger(options.max) || options.max < 1)
    throw new HttpConfigError(
      'bad_session_cap',
      `the session cap must be a whole number ≥ 1, got ${options.max}`,
    );
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  let opening = 0;
  return async (c, next) => {
    if (options.opens && !options.opens(c)) return next();
    if (options.open() + opening >= options.max)
      throw new HttpError(503, 'too_many_sessions', `this server already holds its ${options.max} sessions`, {
        hint: `retry after ${retryAfter} s, close sessions you no longer use, or start the server with a higher session cap`,
        headers: { 'retry-after': retryAfter },
      });
    opening++;
    try {
      await next();
    } finally {
      opening--;
    }
  };
}

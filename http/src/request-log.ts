import type { MiddlewareHandler } from 'hono';

/** One line per request: method, path, status and milliseconds, written to `write` when it ends. */
export function requestLog(write: (line: string) => void): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    write(`${c.req.method} ${c.req.path} ${c.res.status} ${(performance.now() - started).toFixed(1)}ms`);
  };
}

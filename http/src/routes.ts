import type { Env, Handler, Hono, MiddlewareHandler } from 'hono';

/** One row of a server's route table. */
export interface Route<E extends Env> {
  method: 'GET' | 'POST' | 'DELETE' | ReadonlyArray<'GET' | 'POST' | 'DELETE'>;
  path: string;
  /** Middleware of this route only (a session cap on the route that opens sessions). */
  use?: ReadonlyArray<MiddlewareHandler<E>>;
  handle: Handler<E>;
}

/** Mounts a route table on an app. */
export function mountRoutes<E extends Env>(app: Hono<E>, routes: ReadonlyArray<Route<E>>): void {
  for (const route of routes) {
    const methods = typeof route.method === 'string' ? [route.method] : [...route.method];
    app.on(methods, [route.path], ...(route.use ?? []), route.handle);
  }
}

import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { WebSocketServer } from 'ws';
import { allowedHostNames, hostOriginGuard, isLoopback } from './allowed-hosts.ts';
import { type AuthVariables, type BearerAuthOptions, bearerAuth } from './bearer-auth.ts';
import { type ErrorBody, HttpConfigError, HttpError, PortInUseError } from './http-error.ts';
import { bodyLimit } from './json-body.ts';
import { requestLog } from './request-log.ts';

/** Where and to whom a server listens: the options every ToolGym server takes. */
export interface ListenOptions {
  /** Address to bind. Default 127.0.0.1; any other address needs a token. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Host names accepted besides loopback and the bound address (`*`: any). */
  allowedHosts?: readonly string[];
  /** Browser origins accepted besides the server's own (`*`: any). */
  allowedOrigins?: readonly string[];
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
  /** Where request lines (with `logRequests`) and internal errors are written. */
  log?: (line: string) => void;
  /** Log one line per request. */
  logRequests?: boolean;
}

export interface AppSettings<P extends string> extends ListenOptions {
  /** What the server is, for messages ("the learner API"). */
  name: string;
  auth: BearerAuthOptions<P>;
  /** Body limit when `maxBodyBytes` is not given. */
  defaultMaxBodyBytes: number;
  /** The JSON an error is answered with (default `HttpError.body()`). */
  errorBody?: (error: HttpError) => unknown;
}

export type AppEnv<P extends string> = { Variables: AuthVariables<P> };

export interface RunningServer {
  host: string;
  port: number;
  /** `http://host:port`, brackets around an IPv6 address. */
  origin: string;
  node: ServerType;
  close(): Promise<void>;
}

export interface HttpApp<P extends string> {
  app: Hono<AppEnv<P>>;
  /**
   * Binds the app. With `websocket`, routes made with `upgradeWebSocket` accept upgrades, after the
   * same middleware as any request (Host/Origin, auth); messages over `maxPayload` bytes close the socket.
   */
  listen(options: { port: number; websocket?: { maxPayload: number } }): Promise<RunningServer>;
}

/**
 * A Hono app with the middleware every ToolGym server shares, in order: request log (when asked),
 * Host/Origin allow-list, bearer auth, body limit; and one error shape. A server that anyone off
 * this machine could reach without a token is refused before anything is allocated.
 */
export function createHttpApp<P extends string>(settings: AppSettings<P>): HttpApp<P> {
  const host = settings.host ?? '127.0.0.1';
  if (!isLoopback(host) && settings.auth.anonymous !== undefined)
    throw new HttpConfigError(
      'token_required',
      `${settings.name} would listen on ${host} without a token: anyone who can reach it could use it`,
      'pass a bearer token (--token), or bind to 127.0.0.1',
    );
  if (
    settings.port !== undefined &&
    !(Number.isInteger(settings.port) && settings.port >= 0 && settings.port <= 65_535)
  )
    throw new HttpConfigError(
      'bad_port',
      `port '${settings.port}' is not a port number`,
      'use a whole number from 0 (any free port) to 65535',
    );
  const maxBodyBytes = settings.maxBodyBytes ?? settings.defaultMaxBodyBytes;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1)
    throw new HttpConfigError(
      'bad_body_limit',
      `the body limit must be a whole number of bytes ≥ 1, got ${maxBodyBytes}`,
    );
  const log = settings.log ?? (() => {});
  const errorBody = settings.errorBody ?? ((error: HttpError) => error.body());

  const app = new Hono<AppEnv<P>>();
  const middleware: MiddlewareHandler[] = [
    ...(settings.logRequests ? [requestLog(log)] : []),
    hostOriginGuard(allowedHostNames(host, settings.allowedHosts), settings.allowedOrigins ?? []),
    bearerAuth(settings.auth) as MiddlewareHandler,
    bodyLimit(maxBodyBytes),
  ];
  for (const m of middleware) app.use(m);
  app.onError((thrown, c) => {
    const error =
      thrown instanceof HTTPException
        ? new HttpError(thrown.status, 'http_error', thrown.message)
        : HttpError.from(thrown);
    if (error.status >= 500)
      log(`${settings.name}: ${c.req.method} ${c.req.path}: ${(thrown as Error).stack ?? thrown}`);
    return c.json(errorBody(error) as ErrorBody, error.status as ContentfulStatusCode, error.headers);
  });
  app.notFound((c) => {
    const error = new HttpError(
      404,
      'not_found',
      `${settings.name} has no route ${c.req.method} ${c.req.path}`,
    );
    return c.json(errorBody(error) as ErrorBody, 404);
  });

  return {
    app,
    listen: async ({ port, websocket }) => {
      const websockets = websocket
        ? new WebSocketServer({ noServer: true, maxPayload: websocket.maxPayload })
        : undefined;
      const node = createAdaptorServer({
        fetch: app.fetch,
        ...(websockets ? { websocket: { server: websockets } } : {}),
      });
      await new Promise<void>((resolve, reject) => {
        node.once('error', (error: NodeJS.ErrnoException) =>
          reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port) : error),
        );
        node.listen(port, host, () => resolve());
      });
      const bound = (node.address() as AddressInfo).port;
      const shown = host.includes(':') ? `[${host}]` : host;
      return {
        host,
        port: bound,
        origin: `http://${shown}:${bound}`,
        node,
        close: () =>
          new Promise<void>((resolve) => {
            node.close(() => resolve());
            if ('closeAllConnections' in node) node.closeAllConnections();
          }),
      };
    },
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.ts';

export interface BearerAuthOptions<P extends string> {
  /** Each principal's token; a principal without one cannot present itself. */
  tokens: Partial<Record<P, string | undefined>>;
  /** Who a request without `Authorization` is; without it such a request is refused (401). */
  anonymous?: P;
  /** A query parameter that may carry the token instead (browsers cannot set headers on a websocket). */
  queryParam?: string;
  /** A header that may carry the token itself instead of `Authorization: Bearer` (Tinker's `X-API-Key`). */
  apiKeyHeader?: string;
}

/** What `bearerAuth` puts in the context: who sent the request. */
export type AuthVariables<P extends string> = { principal: P };

/**
 * Bearer tokens that name principals (`Authorization: Bearer <token>`). Where some token is
 * configured, a request carrying one that matches none is refused even if anonymous requests are
 * allowed, so a mistyped secret never silently downgrades a client. Where none is, credentials are
 * not looked at (OpenAI clients always send an API key). Tokens are compared in constant time.
 */
export function bearerAuth<P extends string>(
  options: BearerAuthOptions<P>,
): MiddlewareHandler<{ Variables: AuthVariables<P> }> {
  const known = (Object.entries(options.tokens) as Array<[P, string | undefined]>)
    .filter((entry): entry is [P, string] => typeof entry[1] === 'string' && entry[1].length > 0)
    .map(([principal, token]) => [principal, digest(token)] as const);
  return async (c, next) => {
    if (known.length === 0 && options.anonymous !== undefined) {
      c.set('principal', options.anonymous);
      return next();
    }
    const apiKey = options.apiKeyHeader ? c.req.header(options.apiKeyHeader) : undefined;
    const header = c.req.header('authorization') ?? (apiKey !== undefined ? `Bearer ${apiKey}` : undefined);
    const given =
      header !== undefined
        ? header.startsWith('Bearer ')
          ? header.slice(7)
          : undefined
        : options.queryParam
          ? c.req.query(options.queryParam)
          : undefined;
    let principal: P | undefined;
    if (given !== undefined) {
      const d = digest(given);
      principal = known.find(([, want]) => timingSafeEqual(d, want))?.[0];
    } else if (header === undefined) {
      principal = options.anonymous;
    }
    if (principal === undefined)
      throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token', {
        hint: 'send Authorization: Bearer <token> with the token the server was started with',
        headers: { 'www-authenticate': 'Bearer' },
      });
    c.set('principal', principal);
    await next();
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

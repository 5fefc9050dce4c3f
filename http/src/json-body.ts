import type { Context } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.ts';

/**
 * Refuses a request body over `maxBytes` (413) before it is parsed. A declared length is checked
 * from the header alone (Node's parser holds the body to it), which leaves the adapter's fast body
 * read in place; a body of undeclared length (chunked) is counted as it streams.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => {
    throw new HttpError(413, 'body_too_large', `the request body is over ${maxBytes} bytes`, {
      hint: 'send less per request, or start the server with a higher body limit',
    });
  };
  const counted = honoBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined)
      return c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : counted(c, next);
    if (Number(length) > maxBytes) tooLarge();
    await next();
  };
}

/** The request body as JSON; a body that is not JSON is a 400 `invalid_json` naming the parse error. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text === '')
    throw new HttpError(400, 'invalid_json', 'the request body is empty', { hint: 'send a JSON body' });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the request body is not JSON: ${(error as Error).message}`, {
      hint: 'send a JSON body',
    });
  }
}

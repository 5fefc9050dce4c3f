import { request } from 'node:http';

/** How a server answered one request: the status and the error code of the body (plain or JSON-RPC). */
export interface ProbeAnswer {
  status: number;
  code: string | undefined;
}

export interface GuardProbes {
  /** A browser page of another site (`Origin: http://evil.example`). */
  badOrigin: ProbeAnswer;
  /** A name the server does not answer to, as after DNS rebinding (`Host: evil.example`). */
  badHost: ProbeAnswer;
  /** A body one byte over `maxBodyBytes`. */
  oversized: ProbeAnswer;
  /** No `Authorization` header. */
  noToken: ProbeAnswer;
}

/**
 * Sends a server the four requests the shared middleware must refuse, each otherwise well formed
 * (carrying `token` where one is given), and reports the answers. Every server's tests run it.
 */
export async function probeGuards(
  url: string,
  options: { method?: 'GET' | 'POST'; token?: string; maxBodyBytes: number },
): Promise<GuardProbes> {
  const method = options.method ?? 'POST';
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const body = method === 'POST' ? '{}' : undefined;
  return {
    badOrigin: await send(url, method, { ...auth, origin: 'http://evil.example' }, body),
    badHost: await send(url, method, { ...auth, host: 'evil.example' }, body),
    oversized: await send(url, 'POST', auth, `"${'x'.repeat(options.maxBodyBytes - 1)}"`),
    noToken: await send(url, method, {}, body),
  };
}

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: errorCode(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function errorCode(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; data?: { code?: unknown } } }).error;
    const code = typeof error?.code === 'string' ? error.code : error?.data?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

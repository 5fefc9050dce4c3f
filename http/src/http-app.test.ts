import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { allowedHostNames } from './allowed-hosts.ts';
import { createHttpApp } from './http-app.ts';
import { HttpConfigError, HttpError, PortInUseError } from './http-error.ts';
import { readJson } from './json-body.ts';
import { sessionCap } from './session-cap.ts';

/** An app with one JSON echo route, and the given settings. */
function echoApp(settings: Partial<Parameters<typeof createHttpApp>[0]> = {}) {
  const made = createHttpApp({
    name: 'the test server',
    auth: { tokens: {}, anonymous: 'anyone' },
    defaultMaxBodyBytes: 1024,
    ...settings,
  });
  made.app.post('/echo', async (c) => c.json({ got: await readJson(c), principal: c.get('principal') }));
  made.app.get('/boom', () => {
    throw new Error('kaput');
  });
  return made;
}

/** A request in process; it carries `Host: 127.0.0.1` as a client on this machine would, unless told otherwise. */
const call = async (app: ReturnType<typeof echoApp>['app'], path: string, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  if (!headers.has('host')) headers.set('host', '127.0.0.1');
  const response = await app.request(`http://127.0.0.1${path}`, { ...init, headers });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { error?: Record<string, unknown>; principal?: string },
  };
};

describe('createHttpApp', () => {
  it('refuses to be reachable off loopback without a token, and a port that is not one', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3'])
      expect(() => echoApp({ host })).toThrow(expect.objectContaining({ code: 'token_required' }));
    expect(() => echoApp({ host: '0.0.0.0', auth: { tokens: { client: 's' } } })).not.toThrow();
    expect(() => echoApp({ host: '127.0.0.5' })).not.toThrow();
    expect(() => echoApp({ port: 70_000 })).toThrow(HttpConfigError);
    expect(() => echoApp({ maxBodyBytes: 0 })).toThrow(expect.objectContaining({ code: 'bad_body_limit' }));
  });

  it('answers every error in one shape: code, message, hint; internal errors are 500 and logged', async () => {
    const lines: string[] = [];
    const { app } = echoApp({ log: (line) => lines.push(line) });
    expect(await call(app, '/nowhere')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'the test server has no route GET /nowhere' } },
    });
    expect(await call(app, '/echo', { method: 'POST', body: '{"a": ' })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_json', hint: 'send a JSON body' } },
    });
    expect(await call(app, '/boom')).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
    expect(lines.join('\n')).toMatch(/GET \/boom: Error: kaput/);
  });

  it('logs one line per request only when asked', async () => {
    const lines: string[] = [];
    await call(echoApp({ log: (line) => lines.push(line) }).app, '/nowhere');
    expect(lines).toEqual([]);
    await call(echoApp({ log: (line) => lines.push(line), logRequests: true }).app, '/nowhere');
    expect(lines).toEqual([expect.stringMatching(/^GET \/nowhere 404 \d+\.\dms$/)]);
  });
});

describe('bearer auth', () => {
  const { app } = echoApp({ auth: { tokens: { agent: 'a-token', trainer: 't-token' }, anonymous: 'agent' } });
  const post = (headers: Record<string, string>) =>
    call(app, '/echo', { method: 'POST', headers, body: '1' });

  it('names the principal by its token; without one a request is the anonymous principal', async () => {
    expect((await post({ authorization: 'Bearer t-token' })).body.principal).toBe('trainer');
    expect((await post({ authorization: 'Bearer a-token' })).body.principal).toBe('agent');
    expect((await post({})).body.principal).toBe('agent');
  });

  it('refuses a wrong token even where anonymous requests pass, and any scheme but Bearer', async () => {
    for (const authorization of ['Bearer t-tokem', 'Bearer ', 'Basic dDp0', 't-token'])
      expect(await post({ authorization })).toMatchObject({
        status: 401,
        body: { error: { code: 'unauthorized' } },
      });
    expect((await post({ authorization: 'Bearer nope' })).headers.get('www-authenticate')).toBe('Bearer');
  });

  it('with no anonymous principal, a request without a token is refused; a query parameter may carry it', async () => {
    const { app: strict } = echoApp({ auth: { tokens: { client: 's3cret' }, queryParam: 'token' } });
    expect((await call(strict, '/echo', { method: 'POST', body: '1' })).status).toBe(401);
    expect((await call(strict, '/echo?token=s3cret', { method: 'POST', body: '1' })).status).toBe(200);
    expect((await call(strict, '/echo?token=nope', { method: 'POST', body: '1' })).status).toBe(401);
  });

  it('with no token configured, credentials are not looked at', async () => {
    const { app: open } = echoApp();
    expect(
      (
        await call(open, '/echo', {
          method: 'POST',
          headers: { authorization: 'Bearer sk-anything' },
          body: '1',
        })
      ).status,
    ).toBe(200);
  });
});

describe('Host and Origin', () => {
  const { app } = echoApp();
  const post = (headers: Record<string, string>) =>
    call(app, '/echo', { method: 'POST', headers, body: '1' });

  it('answers loopback names on any port, and refuses another name (DNS rebinding)', async () => {
    for (const host of ['127.0.0.1:8080', 'localhost', 'LOCALHOST:1', '[::1]:99'])
      expect((await post({ host })).status, host).toBe(200);
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', ''])
      expect(await post({ host }), host).toMatchObject({
        status: 403,
        body: { error: { code: 'host_not_allowed' } },
      });
  });

  it("accepts no Origin and the server's own; refuses another site's, and 'null'", async () => {
    expect((await post({ host: '127.0.0.1:7070' })).status).toBe(200);
    expect((await post({ host: '127.0.0.1:7070', origin: 'http://127.0.0.1:7070' })).status).toBe(200);
    for (const origin of [
      'http://evil.example',
      'http://127.0.0.1:9999',
      'null',
      'https://127.0.0.1:7070.evil',
    ])
      expect(await post({ host: '127.0.0.1:7070', origin }), origin).toMatchObject({
        status: 403,
        body: { error: { code: 'origin_not_allowed' } },
      });
  });

  it('takes more names and origins from the allow-lists', async () => {
    const { app: listed } = echoApp({
      allowedHosts: ['tools.internal'],
      allowedOrigins: ['https://viewer.internal'],
    });
    const res = await call(listed, '/echo', {
      method: 'POST',
      headers: { host: 'tools.internal:8080', origin: 'https://viewer.internal' },
      body: '1',
    });
    expect(res.status).toBe(200);
    expect(allowedHostNames('127.0.0.1', ['*'])).toBe('*');
    // Bound to one address, that address is a name it answers to; bound to all, this machine's are.
    expect(allowedHostNames('10.0.0.7')).toContain('10.0.0.7');
    expect(allowedHostNames('0.0.0.0')).toContain('127.0.0.1');
  });
});

describe('body limit', () => {
  it('refuses a body over the limit whether it declares its length or is chunked', async () => {
    const { app, listen } = echoApp({ maxBodyBytes: 64 });
    expect((await call(app, '/echo', { method: 'POST', body: JSON.stringify('x'.repeat(62)) })).status).toBe(
      200,
    );
    expect(await call(app, '/echo', { method: 'POST', body: JSON.stringify('x'.repeat(63)) })).toMatchObject({
      status: 413,
      body: { error: { code: 'body_too_large' } },
    });
    // Chunked, over a real socket: no Content-Length to trust, the bytes are counted.
    const server = await listen({ port: 0 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.origin}/echo`, { method: 'POST' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('"0123456789"'.slice(0, 10));
        req.end();
      });
      expect(status).toBe(413);
    } finally {
      await server.close();
    }
  });
});

describe('listen', () => {
  it('says which port is busy', async () => {
    const first = await echoApp().listen({ port: 0 });
    try {
      await expect(echoApp().listen({ port: first.port })).rejects.toThrow(PortInUseError);
    } finally {
      await first.close();
    }
  });
});

describe('session cap', () => {
  it('refuses a session past the cap with 503 and Retry-After, counting sessions still opening', async () => {
    const { app } = echoApp();
    let open = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.post('/open', sessionCap({ max: 2, open: () => open, retryAfterSeconds: 7 }), async (c) => {
      await held;
      open++;
      return c.json({ ok: true });
    });
    // Two opening at once fill the cap before either is counted as open.
    const first = [call(app, '/open', { method: 'POST' }), call(app, '/open', { method: 'POST' })];
    const refused = await call(app, '/open', { method: 'POST' });
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'too_many_sessions' } } });
    expect(refused.headers.get('retry-after')).toBe('7');
    release();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    expect((await call(app, '/open', { method: 'POST' })).status).toBe(503);
    open--;
    expect((await call(app, '/open', { method: 'POST' })).status).toBe(200);
    expect(() => sessionCap({ max: 0, open: () => 0 })).toThrow(HttpConfigError);
  });
});

describe('HttpError', () => {
  it('keeps the code and hint of a ToolGymError as a 400, and details beside them', () => {
    const error = new HttpError(409, 'seq_gap', 'resend from 4', {
      details: { expected_seq_id: 4 },
      hint: 'replay',
    });
    expect(error.body()).toEqual({
      error: { code: 'seq_gap', message: 'resend from 4', hint: 'replay', expected_seq_id: 4 },
    });
    const config = HttpError.from(new HttpConfigError('bad_thing', 'a bad thing', 'fix it'));
    expect([config.status, config.code, config.hint]).toEqual([400, 'bad_thing', 'fix it']);
    expect(HttpError.from(new TypeError('x')).status).toBe(500);
  });
});

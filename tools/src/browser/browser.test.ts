import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserPool } from './browser-pool.ts';
import { BrowserError } from './errors.ts';
import { findInText, paginate } from './page-text.ts';
import { UrlPolicy } from './url-policy.ts';

/** Chromium processes descended from this test process (so other suites' browsers don't count). */
function ownChromiumPids(): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? '' }));
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const row of rows) {
      if (mine.has(row.ppid) && !mine.has(row.pid)) {
        mine.add(row.pid);
        grew = true;
      }
    }
  }
  return rows.filter((r) => mine.has(r.pid) && r.comm.includes('chrom')).map((r) => r.pid);
}

const ARTICLE = `<!doctype html><html><head><title>Rivers of Europe</title><style>.x{color:red}</style></head>
<body><nav>Home | Search | Random page</nav>
<article><h1>Rivers of Europe</h1><p>The Danube flows through ten countries.</p>
<p style="display:none">hidden text</p><script>document.write('<p>Written by script.</p>')</script>
<p>The Rhine ends in the North Sea.</p></article><footer>Footer links</footer></body></html>`;

let server: Server;
let origin: string;
const hanging = new Set<import('node:http').ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case '/article':
        return res.writeHead(200, { 'content-type': 'text/html' }).end(ARTICLE);
      case '/hang':
        hanging.add(res);
        return; // never answers
      case '/partial':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write(
          `<html><head><title>Slow</title></head><body><p>First part arrived.</p>${' '.repeat(4096)}`,
        );
        hanging.add(res);
        return; // never finishes
      case '/huge':
        return res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(`<html><body><p>${'lorem ipsum '.repeat(100_000)}</p></body></html>`);
      case '/set-cookie':
        return res
          .writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'visitor=episode-a' })
          .end('<p>set</p>');
      case '/echo-cookie':
        return res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(`<p>cookie:[${req.headers.cookie ?? ''}]</p>`);
      case '/redirect-out':
        return res.writeHead(302, { location: 'http://example.invalid/' }).end();
      default:
        return res.writeHead(404, { 'content-type': 'text/html' }).end('<p>Not found</p>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('BrowserPool and BrowserSession (real Chromium, local server)', () => {
  const pool = new BrowserPool({ idleCloseMs: 60_000 });
  afterAll(() => pool.close());

  const session = (
    options: { allowedHosts?: string[]; navigationTimeoutMs?: number; maxPageChars?: number } = {},
  ) =>
    pool.newSession({
      policy: new UrlPolicy({ localOrigins: [origin], allowedHosts: options.allowedHosts ?? [] }),
      navigationTimeoutMs: options.navigationTimeoutMs ?? 5_000,
      maxPageChars: options.maxPageChars ?? 100_000,
    });

  const failure = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrowserError);
    return error as BrowserError;
  };

  it('returns the readable text of the article: rendered, no nav, no hidden or style text', async () => {
    const s = await session();
    const page = await s.open(`${origin}/article`);
    expect(page).toMatchObject({ status: 200, title: 'Rivers of Europe', finalUrl: `${origin}/article` });
    expect(page.text).toContain('The Danube flows through ten countries.');
    expect(page.text).toContain('Written by script.');
    expect(page.text).not.toContain('Home | Search');
    expect(page.text).not.toContain('hidden text');
    expect(page.text).not.toContain('color:red');
    expect(page.cutOff).toBeUndefined();
    await s.close();
  });

  it('reports a 404 as an http_status error', async () => {
    const s = await session();
    const error = await failure(s.open(`${origin}/nope`));
    expect(error.code).toBe('http_status');
    expect(error.message).toMatch(/HTTP 404/);
    await s.close();
  });

  it('cuts off a page that never answers, and the session still works afterwards', async () => {
    const s = await session({ navigationTimeoutMs: 1_000 });
    const started = Date.now();
    const error = await failure(s.open(`${origin}/hang`));
    expect(error.code).toBe('page_timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await s.open(`${origin}/article`)).text).toContain('Danube');
    await s.close();
  });

  it('shows what arrived of a page that never finishes, marked as cut off', async () => {
    const s = await session({ navigationTimeoutMs: 1_000 });
    const page = await s.open(`${origin}/partial`);
    expect(page.text).toContain('First part arrived.');
    expect(page.cutOff).toMatch(/did not finish loading within 1000 ms/);
    await s.close();
  });

  it('cuts a huge page at maxPageChars and says how long it was', async () => {
    const s = await session({ maxPageChars: 10_000, navigationTimeoutMs: 15_000 });
    const page = await s.open(`${origin}/huge`);
    expect(page.text.length).toBe(10_000);
    expect(page.cutOff).toMatch(/has \d+ characters; only the first 10000 are kept/);
    await s.close();
  });

  it('refuses URLs off the allow-list, other schemes, and redirects that leave it', async () => {
    const s = await session();
    expect((await failure(s.open('http://example.com/'))).code).toBe('url_not_allowed');
    expect((await failure(s.open('file:///etc/passwd'))).code).toBe('bad_url');
    expect((await failure(s.open('not a url'))).message).toMatch(/pass a document id/);
    expect((await failure(s.open(`${origin}/redirect-out`))).code).toBe('url_not_allowed');
    await s.close();
  });

  it('opens real hosts only when they are on the allow-list (localhost stands in for the web here)', async () => {
    const port = new URL(origin).port;
    const blocked = await session();
    expect((await failure(blocked.open(`http://localhost:${port}/article`))).code).toBe('url_not_allowed');
    await blocked.close();
    const allowed = await session({ allowedHosts: ['localhost'] });
    expect((await allowed.open(`http://localhost:${port}/article`)).text).toContain('Rhine');
    await allowed.close();
  });

  it('shares one Chromium between sessions, isolates their cookies, and leaves no process after close', async () => {
    const a = await session();
    const b = await session();
    expect(pool.sessionCount).toBe(2);
    expect(ownChromiumPids().length).toBeGreaterThan(0);
    await a.open(`${origin}/set-cookie`);
    expect((await a.open(`${origin}/echo-cookie`)).text).toBe('cookie:[visitor=episode-a]');
    expect((await b.open(`${origin}/echo-cookie`)).text).toBe('cookie:[]');
    await a.close();
    await a.close(); // closing twice is safe
    await b.close();
    expect(pool.sessionCount).toBe(0);
    const pids = ownChromiumPids();
    await pool.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const left = ownChromiumPids().filter((pid) => pids.includes(pid));
    expect(left).toEqual([]);
    await expect(pool.newSession({ policy: new UrlPolicy({ localOrigins: [origin] }) })).rejects.toThrow(
      /pool is closed/,
    );
  });
});

describe('BrowserPool launch failure', () => {
  it('names the executable and how to fix it', async () => {
    const pool = new BrowserPool({ executablePath: '/nonexistent/chromium' });
    await expect(
      pool.newSession({ policy: new UrlPolicy({ localOrigins: ['http://127.0.0.1:1'] }) }),
    ).rejects.toMatchObject({
      code: 'browser_launch_failed',
      message: expect.stringMatching(/^could not start Chromium at \/nonexistent\/chromium/),
      hint: expect.stringMatching(/TOOLGYM_CHROMIUM/),
    });
    await pool.close();
  });
});

describe('paginate and findInText', () => {
  const text = Array.from({ length: 30 }, (_, i) => `Line ${i} talks about topic ${i % 7}.`).join('\n');

  it('pages at line breaks and covers the text exactly once', () => {
    const pages = paginate(text, 100);
    expect(pages.join('')).toBe(text);
    for (const p of pages) expect(p.length).toBeLessThanOrEqual(100);
    expect(pages[0]!.endsWith('\n')).toBe(true);
    expect(paginate('', 10)).toEqual(['']);
    expect(() => paginate(text, 0)).toThrow(/at least 1/);
  });

  it('finds literal matches case-insensitively with context and the page they are on', () => {
    const pages = paginate(text, 100);
    const found = findInText(text, 'TOPIC 3', { pages, contextChars: 10, maxMatches: 2 });
    expect(found.total).toBe(4); // lines 3, 10, 17 and 24
    expect(found.matches).toHaveLength(2);
    expect(found.matches[0]!.excerpt).toContain('topic 3');
    const offset = found.matches[1]!.offset;
    let start = 0;
    const pageOfOffset = pages.findIndex((p) => {
      const hit = offset >= start && offset < start + p.length;
      start += p.length;
      return hit;
    });
    expect(found.matches[1]!.page).toBe(pageOfOffset + 1);
    // Regex syntax is literal text, so a hostile pattern cannot hang the tool.
    expect(findInText(text, '(a+)+$', { pages }).total).toBe(0);
    expect(findInText(text, '', { pages }).total).toBe(0);
    // Offsets stay true when lower-casing would lengthen a character (İ → i̇).
    const turkish = 'İstanbul and Ankara';
    const hit = findInText(turkish, 'ankara', { pages: [turkish] }).matches[0]!;
    expect(turkish.slice(hit.offset, hit.offset + 6)).toBe('Ankara');
  });
});

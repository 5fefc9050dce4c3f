import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { BrowserError, BrowserLaunchError } from './errors.ts';
import type { UrlPolicy } from './url-policy.ts';

/** The flags every launch uses: headless, no sandbox (containers), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface BrowserPoolOptions {
  /** System Chromium; default `$TOOLGYM_CHROMIUM` or /usr/bin/chromium (never a downloaded build). */
  executablePath?: string;
  /** Close Chromium when no session has been open for this long (it restarts lazily). */
  idleCloseMs?: number;
  launchTimeoutMs?: number;
}

export interface BrowserSessionOptions {
  policy: UrlPolicy;
  /** A page that has not reached DOMContentLoaded by then is cut off. */
  navigationTimeoutMs?: number;
  /** Longest readable text kept from one page; longer pages are cut and say so. */
  maxPageChars?: number;
}

/** The readable text of a page. */
export interface PageContent {
  /** The URL that was asked for. */
  url: string;
  /** Where the browser ended up (after redirects). */
  finalUrl: string;
  status: number;
  title: string;
  text: string;
  /** Set when the text was cut: the page was over `maxPageChars`, or it did not finish loading. */
  cutOff?: string;
}

/**
 * One Chromium per pool, started on first use and shared; each session (an episode) gets its own
 * BrowserContext (cookies, storage, cache apart). A crashed or idle browser is started again on
 * demand. Playwright kills the Chromium process group when this process exits, so a server that
 * dies leaves no browser behind; `close()` is the orderly way.
 */
export class BrowserPool {
  private launching?: Promise<Browser>;
  private readonly sessions = new Set<BrowserSession>();
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  readonly executablePath: string;

  constructor(private readonly options: BrowserPoolOptions = {}) {
    this.executablePath = options.executablePath ?? process.env.TOOLGYM_CHROMIUM ?? '/usr/bin/chromium';
  }

  /** Open sessions (contexts). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether Chromium is running (or starting). */
  get running(): boolean {
    return this.launching !== undefined;
  }

  async newSession(options: BrowserSessionOptions): Promise<BrowserSession> {
    if (this.closed) throw new BrowserError('browser_closed', 'the browser pool is closed');
    clearTimeout(this.idleTimer);
    const browser = await this.browser();
    const context = await browser.newContext({
      acceptDownloads: false,
      serviceWorkers: 'block',
      javaScriptEnabled: true,
    });
    const session = new BrowserSession(context, options, () => {
      this.sessions.delete(session);
      this.scheduleIdleClose();
    });
    this.sessions.add(session);
    return session;
  }

  /** Closes every session and Chromium. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await Promise.all([...this.sessions].map((s) => s.close()));
    await this.stopBrowser();
  }

  private browser(): Promise<Browser> {
    if (!this.launching) {
      const launching = chromium
        .launch({
          executablePath: this.executablePath,
          headless: true,
          args: [...CHROMIUM_ARGS],
          timeout: this.options.launchTimeoutMs ?? 30_000,
        })
        .catch((error: unknown) => {
          if (this.launching === launching) this.launching = undefined;
          throw new BrowserLaunchError(this.executablePath, error);
        });
      launching.then(
        (browser) =>
          browser.on('disconnected', () => {
            if (this.launching === launching) this.launching = undefined;
          }),
        () => undefined,
      );
      this.launching = launching;
    }
    return this.launching;
  }

  private scheduleIdleClose(): void {
    if (this.sessions.size > 0 || this.closed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.sessions.size === 0) void this.stopBrowser();
    }, this.options.idleCloseMs ?? 60_000);
    this.idleTimer.unref();
  }

  private async stopBrowser(): Promise<void> {
    const launching = this.launching;
    this.launching = undefined;
    const browser = await launching?.catch(() => undefined);
    await browser?.close().catch(() => undefined);
  }
}

const BLOCKED_RESOURCES = new Set(['image', 'media', 'font']);

/** One episode's browsing: its own context; each `open` loads a page, reads its text, closes it. */
export class BrowserSession {
  private closing?: Promise<void>;
  private readonly navigationTimeoutMs: number;
  private readonly maxPageChars: number;
  private routed?: Promise<unknown>;
  private current?: { page: Page; watch: { leftAllowList?: string } };

  constructor(
    private readonly context: BrowserContext,
    private readonly options: BrowserSessionOptions,
    private readonly onClose: () => void,
  ) {
    this.navigationTimeoutMs = options.navigationTimeoutMs ?? 10_000;
    this.maxPageChars = options.maxPageChars ?? 200_000;
  }

  /**
   * Loads `url` and returns its readable text (the page's article/main element when it has one,
   * else the body). A page that hangs is cut off at the navigation timeout with whatever text
   * had arrived; an HTTP error status, a blocked URL or a failed load throw `BrowserError`.
   */
  async open(url: string, signal?: AbortSignal): Promise<PageContent> {
    if (this.closing) throw new BrowserError('browser_closed', 'the browser session is closed');
    this.options.policy.check(url);
    // Every request the page makes is checked against the allow-list; heavy media is skipped.
    this.routed ??= this.context.route('**/*', (route) => {
      const request = route.request();
      if (!this.options.policy.allows(request.url())) return route.abort('blockedbyclient');
      if (BLOCKED_RESOURCES.has(request.resourceType())) return route.abort('aborted');
      return route.continue();
    });
    await this.routed;
    const { page, watch } = await this.acquirePage();
    watch.leftAllowList = undefined;
    let keepPage = false;
    const abort = () => this.dropPage(page);
    signal?.addEventListener('abort', abort, { once: true });
    const refuseRedirect = () => {
      if (watch.leftAllowList) {
        throw new BrowserError(
          'url_not_allowed',
          `${url} redirected to ${watch.leftAllowList}, which is not on the allow-list`,
        );
      }
    };
    try {
      let status = 0;
      let cutOff: string | undefined;
      try {
        const response = await page.goto(url, {
          waitUntil: 'domcontentloaded',
          timeout: this.navigationTimeoutMs,
        });
        status = response?.status() ?? 0;
      } catch (error) {
        if (signal?.aborted) throw new BrowserError('page_timeout', `opening ${url} was cancelled`);
        refuseRedirect();
        if (!isTimeout(error)) throw navigationError(url, error);
        cutOff = `the page did not finish loading within ${this.navigationTimeoutMs} ms; showing what had arrived`;
      }
      refuseRedirect();
      if (status >= 400)
        throw new BrowserError('http_status', `${url} answered HTTP ${status}; check the id or URL`);
      const extracted = await withTimeout(
        readableText(page, this.maxPageChars),
        this.navigationTimeoutMs,
      ).catch(() => undefined);
      if (!extracted || (cutOff && extracted.text.trim() === '')) {
        throw new BrowserError(
          'page_timeout',
          `${url} did not load within ${this.navigationTimeoutMs} ms; try another result`,
        );
      }
      if (extracted.fullLength > this.maxPageChars) {
        cutOff = `the page has ${extracted.fullLength} characters; only the first ${this.maxPageChars} are kept`;
      }
      keepPage = cutOff === undefined;
      return {
        url,
        finalUrl: page.url(),
        status,
        title: extracted.title,
        text: extracted.text,
        ...(cutOff ? { cutOff } : {}),
      };
    } finally {
      signal?.removeEventListener('abort', abort);
      // A page that loaded cleanly is reused by the next open (a new tab costs more than the
      // load); one that failed, hung or was cut is closed so that it stops loading.
      if (!keepPage) this.dropPage(page);
    }
  }

  private async acquirePage(): Promise<{ page: Page; watch: { leftAllowList?: string } }> {
    if (this.current && !this.current.page.isClosed()) return this.current;
    const page = await this.context.newPage();
    const watch: { leftAllowList?: string } = {};
    // Chromium follows redirects without asking the route handler, so the main frame's
    // navigations are watched too: a redirect off the allow-list is refused before any text of
    // it is read (its request has been made by then; the model never sees the answer).
    page.on('request', (request) => {
      if (
        request.isNavigationRequest() &&
        request.frame() === page.mainFrame() &&
        !this.options.policy.allows(request.url())
      ) {
        watch.leftAllowList ??= request.url();
      }
    });
    this.current = { page, watch };
    return this.current;
  }

  private dropPage(page: Page): void {
    if (this.current?.page === page) this.current = undefined;
    void page.close().catch(() => undefined);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.context.close().catch(() => undefined);
      this.onClose();
    })();
    return this.closing;
  }
}

async function readableText(
  page: Page,
  maxChars: number,
): Promise<{ title: string; text: string; fullLength: number }> {
  return page.evaluate((max) => {
    const root = document.querySelector('article, main, [role="main"]') ?? document.body;
    // innerText, not textContent: the rendered text, without hidden elements, scripts and styles.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
    const raw = (root as HTMLElement | null)?.innerText ?? '';
    const text = raw
      .replace(/[ \t]+\n/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
    return { title: document.title, text: text.slice(0, max), fullLength: text.length };
  }, maxChars);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

function navigationError(url: string, error: unknown): BrowserError {
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  return new BrowserError(
    'navigation_failed',
    `could not load ${url}: ${message.replace(/^page\.goto: /, '')}`,
  );
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

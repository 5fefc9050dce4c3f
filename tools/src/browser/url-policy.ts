import { BrowserError } from './errors.ts';

export interface UrlPolicyOptions {
  /** Origins always allowed (the local corpus server), e.g. `http://127.0.0.1:41234`. */
  localOrigins: readonly string[];
  /**
   * Real hosts the browser may visit over http(s): exact names or `*.example.org` for any
   * subdomain. Empty (the default) keeps the browser on the local origins only.
   */
  allowedHosts?: readonly string[];
}

/**
 * Which URLs the browser may load. Checked before `open` navigates and again on every request
 * a page makes (redirects, scripts, images), so a page cannot reach past the allow-list either.
 */
export class UrlPolicy {
  private readonly localOrigins: Set<string>;
  private readonly allowedHosts: readonly string[];

  constructor(options: UrlPolicyOptions) {
    this.localOrigins = new Set(options.localOrigins.map((o) => new URL(o).origin));
    this.allowedHosts = (options.allowedHosts ?? []).map((h) => h.toLowerCase());
  }

  allows(url: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    // data: and blob: are what a page builds itself (inline images, workers); they reach no network.
    if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true;
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    if (this.localOrigins.has(parsed.origin)) return true;
    const host = parsed.hostname.toLowerCase();
    return this.allowedHosts.some((pattern) =>
      pattern.startsWith('*.')
        ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
        : host === pattern,
    );
  }

  /** Throws the model-visible error for a URL `open` may not visit. */
  check(url: string): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new BrowserError(
        'bad_url',
        `'${url}' is not a URL; pass a document id from search results or a full http(s) URL`,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new BrowserError('bad_url', `only http(s) URLs can be opened, not ${parsed.protocol}`);
    }
    if (!this.allows(url)) {
      const allowed =
        this.allowedHosts.length > 0 ? `allowed hosts: ${this.allowedHosts.join(', ')}` : 'web access is off';
      throw new BrowserError(
        'url_not_allowed',
        `${parsed.host} is not on the allow-list (${allowed}); open documents from search results instead`,
      );
    }
    return parsed;
  }
}

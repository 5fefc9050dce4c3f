/** One page of a long text: what `open` shows, with the position the model needs to go on. */
export interface TextPage {
  /** 1-based. */
  page: number;
  pageCount: number;
  text: string;
}

/**
 * Splits `text` into pages of at most `pageChars` characters, breaking at the last line break
 * (or else space) in a page's second half so that words and lines stay whole.
 */
export function paginate(text: string, pageChars: number): string[] {
  if (pageChars < 1) throw new RangeError('pageChars must be at least 1');
  const pages: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + pageChars);
    if (end < text.length) {
      const window = text.slice(start, end);
      const lineBreak = window.lastIndexOf('\n');
      const cut = lineBreak > pageChars / 2 ? lineBreak : window.lastIndexOf(' ');
      if (cut > pageChars / 2) end = start + cut + 1;
    }
    pages.push(text.slice(start, end));
    start = end;
  }
  return pages.length > 0 ? pages : [''];
}

export function pageOf(pages: readonly string[], page: number): TextPage | undefined {
  const text = pages[page - 1];
  return text === undefined ? undefined : { page, pageCount: pages.length, text };
}

export interface TextMatch {
  /** Character offset of the match in the whole text. */
  offset: number;
  /** The page (as `paginate` cut it) the match starts on. */
  page: number;
  /** The match with `contextChars` either side, on one line. */
  excerpt: string;
}

/**
 * Case-insensitive literal search of `pattern` in `text` (not a regular expression: a model's
 * pattern must not be able to hang the tool). Returns the first `maxMatches` and the total.
 */
export function findInText(
  text: string,
  pattern: string,
  options: { pages: readonly string[]; contextChars?: number; maxMatches?: number },
): { matches: TextMatch[]; total: number } {
  const needle = lowerKeepingLength(pattern);
  if (needle.length === 0) return { matches: [], total: 0 };
  const haystack = lowerKeepingLength(text);
  const contextChars = options.contextChars ?? 80;
  const maxMatches = options.maxMatches ?? 10;
  const pageStarts: number[] = [];
  let at = 0;
  for (const p of options.pages) {
    pageStarts.push(at);
    at += p.length;
  }
  const matches: TextMatch[] = [];
  let total = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) {
    total++;
    if (matches.length >= maxMatches) continue;
    let page = 1;
    while (page < pageStarts.length && pageStarts[page]! <= i) page++;
    const from = Math.max(0, i - contextChars);
    const to = Math.min(text.length, i + needle.length + contextChars);
    const excerpt = `${from > 0 ? '…' : ''}${text.slice(from, to).replace(/\s+/g, ' ')}${to < text.length ? '…' : ''}`;
    matches.push({ offset: i, page, excerpt });
  }
  return { matches, total };
}

/**
 * Lower case, one character at a time, keeping any character whose lower case is longer ("İ"):
 * offsets in the result are offsets in the original text.
 */
function lowerKeepingLength(text: string): string {
  let out = '';
  for (const c of text) {
    const lower = c.toLowerCase();
    out += lower.length === c.length ? lower : c;
  }
  return out;
}

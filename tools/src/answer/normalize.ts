/**
 * The answer normalisation of SQuAD's official evaluation script (Rajpurkar et al., 2016), which
 * open-domain QA work (DPR, Search-R1) reuses: lowercase, drop punctuation, drop the articles
 * a/an/the, collapse whitespace. Punctuation here is every Unicode punctuation mark plus ASCII
 * symbols (SQuAD's `string.punctuation`), so curly quotes and dashes go too.
 */
const PUNCTUATION = /[\p{P}$+<=>^`|~]/gu;
const ARTICLES = /\b(a|an|the)\b/g;

export function normalizeAnswer(text: string): string {
  return text.toLowerCase().replace(PUNCTUATION, '').replace(ARTICLES, ' ').replace(/\s+/g, ' ').trim();
}

/** The tokens token-F1 counts: whitespace-separated words of the normalised answer. */
export function answerTokens(text: string): string[] {
  const normalized = normalizeAnswer(text);
  return normalized === '' ? [] : normalized.split(' ');
}

/**
 * The text analysis every retrieval backend and the snippet picker share, so that what a query
 * matches is what a snippet highlights: Unicode letters/digits, case and diacritics folded,
 * Lucene's English stop words removed, and Harman's "S" stemmer (Harman 1991, "How effective is
 * suffixing?") so that plural and singular forms meet without the surprises of a full stemmer.
 */

// Lucene EnglishAnalyzer's stop set, plus question words that carry no topic.
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
  'what',
  'which',
  'who',
  'whom',
  'whose',
  'does',
  'do',
  'did',
]);

const WORD = /[\p{L}\p{N}]+/gu;
const MARKS = /\p{M}+/gu;

/** Case- and diacritic-folded form of `text` ("Côte" → "cote"). */
export function foldText(text: string): string {
  return text.normalize('NFKD').replace(MARKS, '').toLowerCase();
}

/** Harman's S stemmer: ies→y, es→e, s→'' with the exceptions of the paper. */
export function sStem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies') && !word.endsWith('eies') && !word.endsWith('aies'))
    return `${word.slice(0, -3)}y`;
  if (word.endsWith('es') && !word.endsWith('aes') && !word.endsWith('ees') && !word.endsWith('oes'))
    return word.slice(0, -1);
  if (word.endsWith('s') && !word.endsWith('us') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/** Index terms of `text`, in order, with repeats. */
export function analyze(text: string): string[] {
  const terms: string[] = [];
  for (const match of foldText(text).matchAll(WORD)) {
    const word = match[0];
    if (STOP_WORDS.has(word)) continue;
    terms.push(sStem(word));
  }
  return terms;
}

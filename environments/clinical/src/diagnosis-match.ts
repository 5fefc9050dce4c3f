import type { ClinicalCase } from './case.ts';

/**
 * Diagnosis matching. A diagnosis counts as correct when
 *  - it names the case's diagnosis — its name or an alias after normalisation (case, accents,
 *    British spellings, hedge words), found as a whole phrase — or gives its ICD-10 code or a
 *    refinement of it (I21.1 or I21.19 for I21.1). A broader code of the same category (I21 for
 *    I21.1) names no one condition, since it covers the case's neighbours too (I21.4): it neither
 *    matches nor competes; and
 *  - it commits to it: it names no other known condition (another case's diagnosis, alias or
 *    differential entry, or an ICD-10 code outside the category), and it is not a list of
 *    alternatives ("A or B", "A vs B", "A/B", a numbered list).
 * So a "shotgun" answer that lists every diagnosis scores 0, not 1: naming the right one among
 * others earns nothing. A mention right after a negation ("not", "no", "ruled out", "excluding")
 * is not a competing diagnosis.
 */

const HEDGES = new Set([
  'possible',
  'probable',
  'probably',
  'likely',
  'suspected',
  'suspect',
  'presumed',
  'diagnosis',
  'final',
  'dx',
  'most',
  'consistent',
  'the',
  'a',
  'an',
  'of',
  'patient',
  'has',
  'is',
  'with',
  'i',
  'think',
  'it',
]);
const NEGATIONS = [
  ' not ',
  ' no ',
  ' ruled out ',
  ' rule out ',
  ' excluding ',
  ' excluded ',
  ' without ',
  ' unlikely ',
  ' r o ',
];

/** Lower case, no accents, American spelling of ae/oe, punctuation to spaces, hedge words out. */
export function normaliseDiagnosis(text: string): string {
  let t = text.toLowerCase();
  // Accents only when there are any: NFKD is the slow part of this function.
  if (/[^ -~]/.test(t)) t = t.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const words = t
    .replace(/'s\b/g, '')
    .replace(/ae|oe/g, 'e')
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0 && !HEDGES.has(w));
  return words.join(' ');
}

const ICD_PATTERN = /\b([A-TV-Z][0-9][0-9A-Z])(?:\.([0-9A-Z]{1,4}))?\b/g;

/** The gold code itself or a refinement of it (I21.1 and I21.19 for I21.1; not I21, not I21.4). */
export function icdRefines(given: string, gold: string): boolean {
  return icdCode(given).startsWith(icdCode(gold));
}

/** Two codes of the same 3-character category. */
function icdSameCategory(given: string, gold: string): boolean {
  return icdCode(given).slice(0, 3) === icdCode(gold).slice(0, 3);
}

function icdCode(code: string): string {
  return code.toUpperCase().replace(/\.$/, '');
}

/** The phrases (normalised) every known condition goes by, from a set of cases. */
export class ConditionVocabulary {
  /** normalised phrase → case ids whose diagnosis it names (empty for differential-only conditions). */
  private readonly phrases = new Map<string, Set<string>>();
  /** Phrases by their first word, so a text is scanned word by word instead of phrase by phrase. */
  private readonly byFirstWord = new Map<string, string[][]>();

  constructor(cases: readonly ClinicalCase[]) {
    for (const c of cases) {
      for (const name of diagnosisNames(c)) this.add(name, c.id);
      for (const other of c.differential) this.add(other);
    }
  }

  private add(phrase: string, caseId?: string): void {
    const key = normaliseDiagnosis(phrase);
    if (key.length < 2) return;
    let owners = this.phrases.get(key);
    if (!owners) {
      owners = new Set<string>();
      this.phrases.set(key, owners);
      const words = key.split(' ');
      const list = this.byFirstWord.get(words[0] as string) ?? [];
      list.push(words);
      this.byFirstWord.set(words[0] as string, list);
    }
    if (caseId) owners.add(caseId);
  }

  /** Every vocabulary phrase in `text`, longest first where they overlap, skipping negated ones. */
  mentions(text: string): string[] {
    const words = normaliseDiagnosis(text).split(' ');
    const spans: Array<{ phrase: string; start: number; end: number }> = [];
    words.forEach((word, start) => {
      for (const candidate of this.byFirstWord.get(word) ?? []) {
        if (candidate.every((w, k) => words[start + k] === w))
          spans.push({ phrase: candidate.join(' '), start, end: start + candidate.length });
      }
    });
    const maximal = spans.filter(
      (s) =>
        !spans.some(
          (o) => o !== s && o.start <= s.start && o.end >= s.end && o.end - o.start > s.end - s.start,
        ),
    );
    return maximal
      .filter((s) => !negatedAt(words, s.start))
      .sort((a, b) => a.start - b.start)
      .map((s) => s.phrase);
  }
}

/** Negation words up to three words before a mention ("not", "no", "ruled out", "excluding" …). */
function negatedAt(words: string[], start: number): boolean {
  const window = ` ${words.slice(Math.max(0, start - 3), start).join(' ')} `;
  return NEGATIONS.some((n) => window.includes(n));
}

/** Name and aliases of a case's diagnosis. */
export function diagnosisNames(c: Pick<ClinicalCase, 'diagnosis'>): string[] {
  return [c.diagnosis.name, ...c.diagnosis.aliases];
}

export interface DiagnosisVerdict {
  correct: boolean;
  /** Why, in words, for the reward info. */
  reason:
    | 'matched-name'
    | 'matched-code'
    | 'no-match'
    | 'competing-diagnoses'
    | 'list-of-alternatives'
    | 'empty';
  /** The competing conditions or codes named. */
  competing: string[];
}

/** "A or B", "A vs B", "A versus B", "A/B", or a numbered or bulleted list. */
const ALTERNATIVES = /\bor\b|\bvs\b|\bversus\b|\w\s*\/\s*\w|(^|\n)\s*(\d+[.)]|[-*\u2022])\s/i;

const goldCache = new WeakMap<object, Set<string>>();
function goldPhrasesOf(c: Pick<ClinicalCase, 'diagnosis'>): Set<string> {
  let phrases = goldCache.get(c.diagnosis);
  if (!phrases) {
    phrases = new Set(diagnosisNames(c).map(normaliseDiagnosis));
    goldCache.set(c.diagnosis, phrases);
  }
  return phrases;
}

export function matchDiagnosis(
  given: string,
  c: ClinicalCase,
  vocabulary: ConditionVocabulary,
): DiagnosisVerdict {
  const text = given.trim();
  if (text.length === 0) return { correct: false, reason: 'empty', competing: [] };
  const goldPhrases = goldPhrasesOf(c);
  const mentioned = vocabulary.mentions(text);
  const normText = ` ${normaliseDiagnosis(text)} `;
  const extraGold = [...goldPhrases].some((p) => normText.includes(` ${p} `));
  const namesGold = mentioned.some((p) => goldPhrases.has(p)) || (extraGold && mentioned.length === 0);
  // A code-shaped word inside a condition's name ("vitamin B12 deficiency") is part of the name, not a code.
  const nameWords = new Set([...mentioned, ...goldPhrases].flatMap((p) => p.split(' ')));
  const codes = [...text.toUpperCase().matchAll(ICD_PATTERN)]
    .map((m) => (m[2] ? `${m[1]}.${m[2]}` : (m[1] as string)))
    .filter((code) => !nameWords.has(code.toLowerCase()));
  const gold = c.diagnosis.icd10;
  const codeGold = gold !== undefined && codes.some((code) => icdRefines(code, gold));
  const competing = [
    ...mentioned.filter((p) => !goldPhrases.has(p)),
    ...codes.filter((code) => gold === undefined || !icdSameCategory(code, gold)),
  ];
  if (!namesGold && !codeGold) return { correct: false, reason: 'no-match', competing };
  if (competing.length > 0) return { correct: false, reason: 'competing-diagnoses', competing };
  if (ALTERNATIVES.test(text)) return { correct: false, reason: 'list-of-alternatives', competing };
  return { correct: true, reason: namesGold ? 'matched-name' : 'matched-code', competing };
}

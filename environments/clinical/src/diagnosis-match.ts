import type { ClinicalCase } from './case.ts';

/**
 * Diagnosis matching. A diagnosis counts as correct when
 *  - it names the case's diagnosis — its name or an alias after normalisation (case, accents,
 *    British spellings, hedge words), found as a whole phrase — or gives its ICD-10 code (the same
 *    code, or a parent/child code in the same 3-character category: I21 ⇄ I21.1); and
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
  const words = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/'s\b/g, '')
    .replace(/ae/g, 'e')
    .replace(/oe/g, 'e')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter((w) => w.length > 0 && !HEDGES.has(w));
  return words.join(' ');
}

const ICD_PATTERN = /\b([A-TV-Z][0-9][0-9A-Z])(?:\.([0-9A-Z]{1,4}))?\b/g;

/** Codes of the same 3-character category where one refines the other. */
export function icdCompatible(given: string, gold: string): boolean {
  const a = given.toUpperCase().replace(/\.$/, '');
  const b = gold.toUpperCase();
  if (a.slice(0, 3) !== b.slice(0, 3)) return false;
  return a === b || a.startsWith(`${b}`) || b.startsWith(a);
}

/** The phrases (normalised) every known condition goes by, from a set of cases. */
export class ConditionVocabulary {
  /** normalised phrase → case ids whose diagnosis it names (empty for differential-only conditions). */
  private readonly phrases = new Map<string, Set<string>>();

  constructor(cases: readonly ClinicalCase[]) {
    for (const c of cases) {
      for (const name of diagnosisNames(c)) this.add(name, c.id);
      for (const other of c.differential) this.add(other);
    }
  }

  private add(phrase: string, caseId?: string): void {
    const key = normaliseDiagnosis(phrase);
    if (key.length < 2) return;
    const owners = this.phrases.get(key) ?? new Set<string>();
    if (caseId) owners.add(caseId);
    this.phrases.set(key, owners);
  }

  /** Every vocabulary phrase in `text`, longest first where they overlap, skipping negated ones. */
  mentions(text: string): string[] {
    const norm = ` ${normaliseDiagnosis(text)} `;
    const spans: Array<{ phrase: string; start: number; end: number }> = [];
    for (const phrase of this.phrases.keys()) {
      const needle = ` ${phrase} `;
      let from = 0;
      for (;;) {
        const at = norm.indexOf(needle, from);
        if (at < 0) break;
        spans.push({ phrase, start: at, end: at + needle.length });
        from = at + 1;
      }
    }
    const maximal = spans.filter(
      (s) =>
        !spans.some(
          (o) => o !== s && o.start <= s.start && o.end >= s.end && o.end - o.start > s.end - s.start,
        ),
    );
    return maximal
      .filter((s) => !NEGATIONS.some((n) => norm.slice(Math.max(0, s.start - 16), s.start + 1).includes(n)))
      .sort((a, b) => a.start - b.start)
      .map((s) => s.phrase);
  }
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

export function matchDiagnosis(
  given: string,
  c: ClinicalCase,
  vocabulary: ConditionVocabulary,
): DiagnosisVerdict {
  const text = given.trim();
  if (text.length === 0) return { correct: false, reason: 'empty', competing: [] };
  const goldPhrases = new Set(diagnosisNames(c).map(normaliseDiagnosis));
  const mentioned = vocabulary.mentions(text);
  const extraGold = [...goldPhrases].some((p) => ` ${normaliseDiagnosis(text)} `.includes(` ${p} `));
  const namesGold = mentioned.some((p) => goldPhrases.has(p)) || (extraGold && mentioned.length === 0);
  // A code-shaped word inside a condition's name ("vitamin B12 deficiency") is part of the name, not a code.
  const nameWords = new Set([...mentioned, ...goldPhrases].flatMap((p) => p.split(' ')));
  const codes = [...text.toUpperCase().matchAll(ICD_PATTERN)]
    .map((m) => (m[2] ? `${m[1]}.${m[2]}` : (m[1] as string)))
    .filter((code) => !nameWords.has(code.toLowerCase()));
  const gold = c.diagnosis.icd10;
  const codeGold = gold !== undefined && codes.some((code) => icdCompatible(code, gold));
  const competing = [
    ...mentioned.filter((p) => !goldPhrases.has(p)),
    ...codes.filter((code) => gold === undefined || !icdCompatible(code, gold)),
  ];
  if (!namesGold && !codeGold) return { correct: false, reason: 'no-match', competing };
  if (competing.length > 0) return { correct: false, reason: 'competing-diagnoses', competing };
  if (ALTERNATIVES.test(text)) return { correct: false, reason: 'list-of-alternatives', competing };
  return { correct: true, reason: namesGold ? 'matched-name' : 'matched-code', competing };
}

/** Whether patient-facing text names the case's diagnosis (the case bank's leak check). */
export function mentionsDiagnosis(text: string, c: Pick<ClinicalCase, 'diagnosis'>): string | undefined {
  const norm = ` ${normaliseDiagnosis(text)} `;
  return diagnosisNames(c).find((name) => {
    const n = normaliseDiagnosis(name);
    return n.length >= 3 && norm.includes(` ${n} `);
  });
}

import { DIAGNOSIS_SYNONYMS } from '../data/diagnosis-synonyms.ts';
import type { ClinicalCase } from './case.ts';
import { EXAM_SYSTEMS } from './case.ts';
import type { TestCatalogue } from './catalogue.ts';
import { SYMPTOMS } from './patient/symptoms.ts';
import { examFindings } from './physical-exam.ts';

/**
 * What the agent sees never gives the answer away: every text a tool can return for a case (the
 * prompt, the patient's answers, exam findings, test results, and the catalogue's normal results
 * for tests the case does not mention) is checked for the diagnosis and its synonyms. A synonym is
 * any word for the diagnosis that would give it away: its name and accepted aliases, plus the
 * family's entry in `data/diagnosis-synonyms.ts` (abbreviations, eponyms, lay names, plural and
 * adjective forms). A negated mention ("no pulmonary embolism") counts too: in a normal result it
 * contradicts the case, and in a case text it still names the answer.
 *
 * Catalogue test names are not checked: a test's name reaches the agent only after the agent names
 * the test. A case's own tests (imports) are, since an order may find one by some of its words.
 */

interface Token {
  /** The word as written (abbreviations match on it, case-sensitively). */
  raw: string;
  /** Lower case, no accents, American ae/oe, a plural `s` folded: what other words match on. */
  key: string;
  start: number;
  end: number;
}

/** One place a term occurs in a text. */
export interface LeakHit {
  term: string;
  start: number;
  end: number;
}

function wordKey(word: string): string {
  let w = word.toLowerCase();
  if (/[^ -~]/.test(w)) w = w.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  w = w.replace(/ae|oe/g, 'e');
  if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  return w;
}

const WORD = /[\p{L}\p{N}]+/gu;

/** A text's words, and every form they take, for skipping a text no term can start in. */
interface Tokenized {
  tokens: Token[];
  forms: Set<string>;
}
const tokenCache = new Map<string, Tokenized>();

/** Words of a text with their offsets; the `s` of a possessive ("Graves'", "Crohn's") is dropped. */
function tokenize(text: string): Tokenized {
  const cached = tokenCache.get(text);
  if (cached) return cached;
  const tokens: Token[] = [];
  for (const m of text.matchAll(WORD)) {
    const start = m.index;
    if (m[0].toLowerCase() === 's' && /['’]$/.test(text.slice(0, start))) continue;
    tokens.push({ raw: m[0], key: wordKey(m[0]), start, end: start + m[0].length });
  }
  const tokenized = { tokens, forms: new Set(tokens.flatMap((t) => [t.raw, t.key])) };
  // Catalogue texts recur in every case; anything else is seen about once.
  if (tokenCache.size > 20_000) tokenCache.clear();
  tokenCache.set(text, tokenized);
  return tokenized;
}

/** "PE", "STEMI", "I26.9": written in capitals and digits, so matched as written ("pe" and "ms" are other words). */
function isAbbreviation(term: string): boolean {
  const letters = term.replace(/[^\p{L}]/gu, '');
  return letters.length > 0 && letters === letters.toUpperCase() && term.replace(/\s/g, '').length <= 8;
}

interface Pattern {
  term: string;
  words: string[];
  exact: boolean;
}

/** Finds and withholds a set of terms in texts, by whole words. */
export class LeakMatcher {
  private readonly byFirst = new Map<string, Pattern[]>();
  private readonly firsts: string[];

  constructor(terms: readonly string[]) {
    for (const term of new Set(terms)) {
      const { tokens } = tokenize(term);
      if (tokens.length === 0) continue;
      const exact = isAbbreviation(term);
      // One- and two-letter lower-case words ("mg", "ra") are too common to stand for a diagnosis.
      if (!exact && tokens.length === 1 && (tokens[0] as Token).key.length < 3) continue;
      const words = tokens.map((t) => (exact ? t.raw : t.key));
      const first = words[0] as string;
      const list = this.byFirst.get(first) ?? [];
      list.push({ term, words, exact });
      this.byFirst.set(first, list);
    }
    this.firsts = [...this.byFirst.keys()];
  }

  /** Every occurrence of a term, longest first where two start at the same word. */
  find(text: string): LeakHit[] {
    const { tokens, forms } = tokenize(text);
    const hits: LeakHit[] = [];
    if (!this.firsts.some((first) => forms.has(first))) return hits;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as Token;
      let best: { pattern: Pattern; length: number } | undefined;
      for (const pattern of [
        ...(this.byFirst.get(token.key) ?? []),
        ...(this.byFirst.get(token.raw) ?? []),
      ]) {
        const fits = pattern.words.every((w, k) => {
          const t = tokens[i + k];
          return t !== undefined && (pattern.exact ? t.raw === w : t.key === w);
        });
        if (fits && (!best || pattern.words.length > best.length))
          best = { pattern, length: pattern.words.length };
      }
      if (best) {
        const last = tokens[i + best.length - 1] as Token;
        hits.push({ term: best.pattern.term, start: token.start, end: last.end });
        i += best.length - 1;
      }
    }
    return hits;
  }

  /** The text with every occurrence replaced, and how many there were. */
  withhold(text: string, replacement = '[withheld]'): { text: string; count: number } {
    const hits = this.find(text);
    let out = text;
    for (const hit of [...hits].reverse()) out = out.slice(0, hit.start) + replacement + out.slice(hit.end);
    return { text: out, count: hits.length };
  }
}

/** Words that qualify a diagnosis without naming it: "acute appendicitis" is still "appendicitis". */
const QUALIFIERS = new Set([
  'acute',
  'chronic',
  'primary',
  'secondary',
  'severe',
  'mild',
  'moderate',
  'recurrent',
  'bilateral',
  'left',
  'right',
  'early',
  'late',
  'type',
  'stage',
  'grade',
  'classic',
  'classical',
  'typical',
  'atypical',
  'idiopathic',
  'suspected',
]);
/** Head words too general to give a diagnosis away on their own. */
const GENERAL_HEADS = new Set([
  'disease',
  'syndrome',
  'disorder',
  'infection',
  'deficiency',
  'failure',
  'injury',
  'poisoning',
  'overdose',
  'cancer',
  'tumor',
  'tumour',
  'mass',
  'lesion',
  'fracture',
  'pain',
  'bleeding',
  'hemorrhage',
  'anemia',
  'abscess',
  'carcinoma',
  'reaction',
]);

/**
 * Variants of a diagnosis name that give it away as surely as the name: without a parenthesis and
 * the parenthesis alone ("X (Y)"), without leading qualifiers ("Acute appendicitis" → "appendicitis"),
 * and the head of "X due to / with / of Y" when it says more than a general word.
 */
export function nameVariants(name: string): string[] {
  const variants = new Set<string>([name]);
  const paren = /^(.*?)\s*\(([^)]+)\)\s*(.*)$/.exec(name);
  if (paren) {
    variants.add(`${paren[1]} ${paren[3]}`.trim());
    variants.add((paren[2] as string).trim());
  }
  for (const v of [...variants]) {
    const head = /^(.+?)\s+(?:due to|with|secondary to|caused by|of the|of)\s+.+$/i.exec(v)?.[1];
    if (head) variants.add(head);
  }
  for (const v of [...variants]) {
    const words = v.split(/\s+/);
    while (words.length > 1 && QUALIFIERS.has(wordKey(words[0] as string).replace(/[^a-z0-9]/g, ''))) {
      words.shift();
      if (/^\d+$/.test(words[0] ?? '')) words.shift();
      variants.add(words.join(' '));
    }
  }
  return [...variants].filter((v) => {
    const { tokens } = tokenize(v);
    return tokens.length > 1 || (tokens.length === 1 && !GENERAL_HEADS.has((tokens[0] as Token).key));
  });
}

const ICD_CODE = /^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;

/** Everything that names a case's diagnosis: name, aliases, their variants, and the family's synonyms. */
export function leakTermsOf(c: Pick<ClinicalCase, 'diagnosis' | 'family'>): string[] {
  const names = [c.diagnosis.name, ...c.diagnosis.aliases].filter((n) => !ICD_CODE.test(n));
  return [...new Set([...names.flatMap(nameVariants), ...(DIAGNOSIS_SYNONYMS[c.family] ?? [])])];
}

const matchers = new WeakMap<object, LeakMatcher>();

/** The matcher of a case's leak terms (built once per case). */
export function leakMatcherOf(c: Pick<ClinicalCase, 'diagnosis' | 'family'>): LeakMatcher {
  let matcher = matchers.get(c.diagnosis);
  if (!matcher) {
    matcher = new LeakMatcher(leakTermsOf(c));
    matchers.set(c.diagnosis, matcher);
  }
  return matcher;
}

/** One text a tool can show the agent, and where it comes from. */
export interface VisibleText {
  where: string;
  text: string;
}

/** What the patient says about the case: opening complaint, history answers, symptoms, denials. */
export function patientTexts(c: ClinicalCase): VisibleText[] {
  return [
    { where: 'complaint', text: c.complaint },
    ...(c.objective ? [{ where: 'objective', text: c.objective }] : []),
    ...Object.entries(c.history).map(([k, text]) => ({ where: `history.${k}`, text })),
    ...Object.entries(c.symptoms).map(([k, text]) => ({ where: `symptoms.${k}`, text })),
    ...c.denies.map((k) => ({ where: `denies.${k}`, text: SYMPTOMS[k]?.plain ?? k.replace(/_/g, ' ') })),
  ];
}

const normalResults = new WeakMap<TestCatalogue, Array<{ id: string; text: string }>>();

/** The catalogue's descriptive normal results (a test a case does not report returns its normal). */
function normalTextsOf(catalogue: TestCatalogue): Array<{ id: string; text: string }> {
  let texts = normalResults.get(catalogue);
  if (!texts) {
    texts = catalogue
      .all()
      .flatMap((t) => (typeof t.normal === 'string' ? [{ id: t.id, text: t.normal }] : []));
    normalResults.set(catalogue, texts);
  }
  return texts;
}

/** The case's own texts beyond the patient's: exam findings of every system and its reported results. */
function caseTexts(c: ClinicalCase, catalogue: TestCatalogue): VisibleText[] {
  const texts = patientTexts(c);
  for (const system of EXAM_SYSTEMS) {
    if (system !== 'vitals') texts.push({ where: `exam.${system}`, text: examFindings(c, system) });
  }
  for (const [id, value] of Object.entries(c.results)) {
    if (typeof value === 'string') texts.push({ where: `results.${id}`, text: value });
    if (!catalogue.get(id)) texts.push({ where: `the name of test '${id}'`, text: id });
  }
  return texts;
}

/**
 * Every text a tool can show the agent for this case: the patient's words, the findings of every
 * body system (the case's own or the normal ones), the case's reported results, and the normal
 * result of every catalogue test the case does not report.
 */
export function agentVisibleTexts(c: ClinicalCase, catalogue: TestCatalogue): VisibleText[] {
  return [
    ...caseTexts(c, catalogue),
    ...normalTextsOf(catalogue)
      .filter(({ id }) => c.results[id] === undefined)
      .map(({ id, text }) => ({ where: `normal result of ${id}`, text })),
  ];
}

/** One leak: where, and the term it names. */
export interface Leak {
  where: string;
  term: string;
}

/** Every place a case's visible texts name its diagnosis (the texts of `agentVisibleTexts`). */
export function findLeaks(c: ClinicalCase, catalogue: TestCatalogue): Leak[] {
  const matcher = leakMatcherOf(c);
  const leaks: Leak[] = [];
  const check = (where: () => string, text: string) => {
    for (const hit of matcher.find(text))
      leaks.push({ where: where(), term: text.slice(hit.start, hit.end) });
  };
  for (const { where, text } of caseTexts(c, catalogue)) check(() => where, text);
  for (const { id, text } of normalTextsOf(catalogue)) {
    if (c.results[id] === undefined) check(() => `normal result of ${id}`, text);
  }
  return leaks;
}

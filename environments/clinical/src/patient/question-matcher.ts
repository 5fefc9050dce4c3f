import {
  type Cue,
  DIAGNOSIS_PROBE_CUES,
  FIELD_CUES,
  HISTORY_FIELDS,
  type HistoryField,
  type QuestionTarget,
  YES_NO_OPENERS,
} from './history-fields.ts';
import { SYMPTOMS } from './symptoms.ts';

const CONTRACTIONS: Array<[RegExp, string]> = [
  [/\bwhat's\b/g, 'what is'],
  [/\bwhere's\b/g, 'where is'],
  [/\bhow's\b/g, 'how is'],
  [/\bit's\b/g, 'it is'],
  [/\bi'm\b/g, 'i am'],
  [/\byou're\b/g, 'you are'],
  [/\byou've\b/g, 'you have'],
  [/\bi've\b/g, 'i have'],
  [/\bcan't\b/g, 'can not'],
  [/\bcannot\b/g, 'can not'],
  [/\bwon't\b/g, 'will not'],
  [/n't\b/g, ' not'],
];

/** Light suffix stripping, applied alike to cues and questions so word forms meet. */
function stem(word: string): string {
  if (word.length <= 3) return word;
  for (const suffix of ['ing', 'ed', 'es', 's', 'e']) {
    if (
      word.endsWith(suffix) &&
      word.length - suffix.length >= 3 &&
      !(suffix === 'ed' && word.endsWith('eed')) &&
      !word.endsWith('ss')
    ) {
      return word.slice(0, -suffix.length);
    }
  }
  return word;
}

/** Lower case, contractions expanded, punctuation dropped, words stemmed, padded with spaces. */
export function questionTerms(text: string): string {
  let t = text.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  for (const [re, to] of CONTRACTIONS) t = t.replace(re, to);
  const words = t
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter((w) => w.length > 0)
    .map(stem);
  return ` ${words.join(' ')} `;
}

interface CompiledCue {
  terms: string;
  /** The cue's first word: a question without it cannot contain the cue (a cheap pre-check). */
  first: string;
  weight: number;
}
/** Cues whose stems coincide ("medicine", "medicines") count once, at the larger weight. */
function compile(cues: Cue[]): CompiledCue[] {
  const byTerms = new Map<string, number>();
  for (const [phrase, weight] of cues) {
    const terms = questionTerms(phrase);
    byTerms.set(terms, Math.max(weight, byTerms.get(terms) ?? 0));
  }
  return [...byTerms].map(([terms, weight]) => ({
    terms,
    first: terms.trim().split(' ')[0] as string,
    weight,
  }));
}

const FIELD_MATCHERS = HISTORY_FIELDS.map((field) => ({ field, cues: compile(FIELD_CUES[field]) }));
const PROBE_MATCHER = compile(DIAGNOSIS_PROBE_CUES);
const OPENERS = YES_NO_OPENERS.map((o) => questionTerms(o));
const SYMPTOM_MATCHERS = Object.entries(SYMPTOMS).flatMap(([key, entry]) =>
  entry.synonyms.map((s) => {
    const terms = questionTerms(s);
    return { key, terms, first: terms.trim().split(' ')[0] as string };
  }),
);

/**
 * Fields about the patient's background (medications, family, smoking …) are the topic of a
 * question even when it also asks "how long" or "when": "when did you start smoking?" is about
 * smoking. The attribute fields describe the presenting complaint.
 */
const TOPIC_FIELDS = new Set<HistoryField>(HISTORY_FIELDS.slice(HISTORY_FIELDS.indexOf('pmh')));

function score(terms: string, words: ReadonlySet<string>, cues: CompiledCue[]): number {
  let total = 0;
  for (const cue of cues) if (words.has(cue.first) && terms.includes(cue.terms)) total += cue.weight;
  return total;
}

/** Symptom keys the question names; a synonym inside a longer matched synonym does not count. */
export function symptomsIn(text: string): string[] {
  const terms = questionTerms(text);
  const spans: Array<{ key: string; start: number; end: number }> = [];
  const words = new Set(terms.trim().split(' '));
  for (const m of SYMPTOM_MATCHERS) {
    if (!words.has(m.first)) continue;
    let from = 0;
    for (;;) {
      const at = terms.indexOf(m.terms, from);
      if (at < 0) break;
      spans.push({ key: m.key, start: at, end: at + m.terms.length });
      from = at + 1;
    }
  }
  const kept = spans.filter(
    (s) =>
      !spans.some(
        (o) => o !== s && o.start <= s.start && o.end >= s.end && o.end - o.start > s.end - s.start,
      ),
  );
  return [...new Set(kept.map((s) => s.key))];
}

/**
 * Matches a question to what it asks about. Each history field has weighted cue phrases; a
 * field's score is the sum of the weights of its cues present in the question. Then, in order:
 * 1. a diagnosis probe ("what do I have?", "what did the doctor say?") scoring ≥ 3 and at least
 *    the best field wins — the patient never answers those from the case;
 * 2. a background field scoring ≥ 3 wins (it is the topic);
 * 3. named symptoms win when no attribute field scores ≥ 3 ("any fever or chills?");
 * 4. otherwise the best field with score ≥ 2 (ties: the order of HISTORY_FIELDS);
 * 5. otherwise nothing matched.
 */
export function matchQuestion(question: string): QuestionTarget {
  // Rollouts ask the same questions over and over; matching is pure, so remember recent ones.
  const known = recent.get(question);
  if (known) return known;
  if (recent.size >= RECENT_LIMIT) recent.clear();
  const target = matchUncached(question);
  recent.set(question, target);
  return target;
}

const RECENT_LIMIT = 10_000;
const recent = new Map<string, QuestionTarget>();

function matchUncached(question: string): QuestionTarget {
  const terms = questionTerms(question);
  const words = new Set(terms.trim().split(' '));
  const fieldScores = FIELD_MATCHERS.map(({ field, cues }) => ({ field, score: score(terms, words, cues) }));
  const best = (pool: typeof fieldScores) =>
    pool.reduce((a, b) => (b.score > a.score ? b : a), { field: 'complaint' as HistoryField, score: 0 });
  const bestField = best(fieldScores);
  const probe = score(terms, words, PROBE_MATCHER);
  if (probe >= 3 && probe >= bestField.score) return { kind: 'diagnosis-probe' };
  const topic = best(fieldScores.filter((f) => TOPIC_FIELDS.has(f.field)));
  if (topic.score >= 3) return { kind: 'field', field: topic.field };
  const symptoms = symptomsIn(question);
  const attribute = best(fieldScores.filter((f) => !TOPIC_FIELDS.has(f.field)));
  if (symptoms.length > 0) {
    const yesNo = OPENERS.some((o) => terms.startsWith(o) || terms.includes(o));
    if (attribute.score < 3 || (yesNo && attribute.score < 4 && attribute.field === 'complaint'))
      return { kind: 'symptoms', symptoms };
  }
  if (bestField.score >= 2) return { kind: 'field', field: bestField.field };
  return { kind: 'unmatched' };
}

import { answerTokens, normalizeAnswer } from './normalize.ts';

/**
 * Every answer a task set accepts, so a grader can tell a committed answer from a hedge: "Paris,
 * Lyon or Marseille" covers "Paris" (cover-EM 1) and shares a token with it (F1 0.5), but it names
 * other candidates too, and a policy that lists candidates would otherwise out-earn one that picks.
 */
export class AnswerSpace {
  /** Normalised answers by their first token, each as its token list. */
  private readonly byFirst = new Map<string, string[][]>();

  constructor(answers: Iterable<string>) {
    const seen = new Set<string>();
    for (const answer of answers) {
      const tokens = answerTokens(answer);
      const key = tokens.join(' ');
      if (tokens.length === 0 || seen.has(key)) continue;
      seen.add(key);
      const list = this.byFirst.get(tokens[0]!) ?? [];
      list.push(tokens);
      this.byFirst.set(tokens[0]!, list);
    }
  }

  /**
   * The candidates `prediction` names besides the gold's aliases: answers of the space found as
   * whole token sequences, where one found inside a longer one (Guinea in Guinea-Bissau) is part of it.
   */
  otherCandidates(prediction: string, golds: readonly string[]): string[] {
    const tokens = answerTokens(prediction);
    const spans: Array<{ start: number; end: number; text: string }> = [];
    tokens.forEach((token, start) => {
      for (const candidate of this.byFirst.get(token) ?? [])
        if (candidate.every((t, k) => tokens[start + k] === t))
          spans.push({ start, end: start + candidate.length, text: candidate.join(' ') });
    });
    const gold = new Set(golds.map((g) => answerTokens(g).join(' ')));
    const maximal = spans.filter(
      (s) => !spans.some((o) => o !== s && o.start <= s.start && o.end >= s.end && o.end - o.start > s.end - s.start),
    );
    return [...new Set(maximal.filter((s) => !gold.has(s.text)).map((s) => s.text))];
  }
}

/** Punctuation and words that join alternatives: "A, B or C", "A/B", "A vs B", one per line. */
const SEPARATOR = /^(?:[,;/|\n]|or|and|nor|vs|versus)$/i;

/**
 * Whether `prediction` lists alternatives besides the gold: a separator (a comma, semicolon, slash,
 * bar, line break, "or", "and", "vs") with something on both sides, once the gold's own words are
 * set aside ("Bosnia and Herzegovina" is one answer; "Sarajevo, Mostar" is two).
 */
export function listsAlternatives(prediction: string, golds: readonly string[]): boolean {
  const raw = prediction.match(/[,;/|\n]|[^\s,;/|\n]+/g) ?? [];
  const pieces = raw.map((p) => ({ separator: SEPARATOR.test(p), word: normalizeAnswer(p) })).filter((p) => p.separator || p.word !== '');
  const words = pieces.map((p) => p.word);
  // The gold's own words become one piece of content, whatever they contain.
  for (const gold of golds.map(answerTokens).filter((g) => g.length > 0).sort((a, b) => b.length - a.length)) {
    for (let start = 0; start + gold.length <= words.length; start++) {
      if (gold.every((t, k) => words[start + k] === t)) {
        pieces.splice(start, gold.length, { separator: false, word: gold.join(' ') });
        words.splice(start, gold.length, gold.join(' '));
      }
    }
  }
  return pieces.some(
    (p, i) => p.separator && pieces.slice(0, i).some((q) => !q.separator) && pieces.slice(i + 1).some((q) => !q.separator),
  );
}

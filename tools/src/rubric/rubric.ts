/**
 * Rubric grading in the style of HealthBench (Arora et al., 2025) and GAPS (Chen et al., 2025):
 * a rubric is a list of weighted criteria; a criterion that is met earns its points (negative
 * points penalise undesirable behaviour); the score is the earned points over the total of the
 * positive points, clipped to [0, 1].
 *
 *   score = clip( Σ_{c met} points_c / Σ_{c : points_c > 0} points_c , 0, 1 )
 *
 * Checkable criteria are graded by rules (a text matcher or a predicate); the rest by an optional
 * judge model. A criterion no grader can decide is left out of both sums and reported as
 * ungraded, so a missing judge never silently counts as "not met".
 */
import { ToolGymError } from '@toolgym/protocol';
import { isMasterKey } from './master-keys.ts';

/** A declarative rule over the response text (serialisable, so rubrics can live in JSON). */
export type TextMatcher =
  /** Met when the text mentions at least one of the phrases (case- and punctuation-insensitive, whole words). */
  | { anyOf: string[] }
  /** Met when the text mentions every phrase. */
  | { allOf: string[] }
  /** Met when the text mentions none of the phrases. */
  | { noneOf: string[] }
  /** Met when the regular expression (source, flags default `i`) matches. */
  | { regex: string; flags?: string };

/** GAPS axes (grounding, adequacy, perturbation, safety), or any label a rubric author uses. */
export type RubricAxis = 'grounding' | 'adequacy' | 'perturbation' | 'safety' | (string & {});

export interface RubricCriterion<Context = unknown> {
  /** Stable id, for logs and per-criterion statistics. */
  id: string;
  /** What the criterion asks, in words a judge can grade. */
  description: string;
  /** Earned when met; negative for a penalty. Never 0. */
  points: number;
  axis?: RubricAxis;
  /** Rule grading over the response text. */
  match?: TextMatcher;
  /** Rule grading over anything the caller knows (an episode, tool calls …). Wins over `match`. */
  check?: (input: RubricInput<Context>) => boolean;
}

export interface RubricInput<Context = unknown> {
  /** The text being graded (an answer, a final message, a reasoning). */
  response: string;
  /** Extra, rubric-specific facts for `check` and the judge (the task, the conversation …). */
  context: Context;
}

/** A model (or person) that decides criteria the rules cannot. */
export interface RubricJudge {
  /** Decides one criterion; `met` is the verdict. Errors propagate: a judge failure is not a verdict. */
  judge(request: {
    criterion: Pick<RubricCriterion, 'id' | 'description' | 'points' | 'axis'>;
    response: string;
    context: string;
  }): Promise<{
    met: boolean;
    rationale?: string;
  }>;
}

export interface CriterionVerdict {
  id: string;
  points: number;
  axis?: RubricAxis;
  /** `undefined` when no grader could decide it (no rule and no judge). */
  met?: boolean;
  gradedBy: 'rule' | 'judge' | 'none';
  rationale?: string;
}

export interface RubricScore {
  /** The normalised score in [0, 1]. */
  score: number;
  /** Σ points of met criteria (may be negative). */
  earned: number;
  /** Σ positive points of the graded criteria. */
  possible: number;
  verdicts: CriterionVerdict[];
  /** Per-axis scores by the same formula, over the criteria of that axis. */
  byAxis: Record<string, number>;
  ungraded: number;
}

export class RubricError extends ToolGymError {
  constructor(
    override readonly code: 'invalid_rubric' | 'invalid_matcher',
    message: string,
  ) {
    super(code, message);
  }
}

/** Validates a rubric once, so that a bad rubric fails at construction rather than at grading. */
export function validateRubric(criteria: readonly RubricCriterion<never>[]): void {
  const ids = new Set<string>();
  for (const c of criteria) {
    if (ids.has(c.id))
      throw new RubricError(
        'invalid_rubric',
        `rubric criterion id '${c.id}' appears twice; ids must be unique`,
      );
    ids.add(c.id);
    if (!Number.isFinite(c.points) || c.points === 0) {
      throw new RubricError(
        'invalid_rubric',
        `rubric criterion '${c.id}' has points ${c.points}; use a non-zero finite number`,
      );
    }
    if (c.match) compileMatcher(c.match, c.id);
  }
  if (!criteria.some((c) => c.points > 0)) {
    throw new RubricError(
      'invalid_rubric',
      'a rubric needs at least one criterion with positive points (the score is normalised by their total)',
    );
  }
}

/** Lower-case, punctuation to spaces, single spaces, padded: whole-word phrase search by `includes`. */
export function normaliseForMatching(text: string): string {
  return ` ${text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9.]+/g, ' ')
    .replace(/\.(?!\d)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()} `;
}

function mentions(normalisedText: string, phrase: string): boolean {
  const p = normaliseForMatching(phrase);
  return p.trim().length > 0 && normalisedText.includes(p);
}

function compileMatcher(matcher: TextMatcher, id: string): (text: string) => boolean {
  if ('regex' in matcher) {
    let re: RegExp;
    try {
      re = new RegExp(matcher.regex, matcher.flags ?? 'i');
    } catch (error) {
      throw new RubricError(
        'invalid_matcher',
        `criterion '${id}': invalid regex /${matcher.regex}/: ${(error as Error).message}`,
      );
    }
    return (text) => re.test(text);
  }
  const phrases = 'anyOf' in matcher ? matcher.anyOf : 'allOf' in matcher ? matcher.allOf : matcher.noneOf;
  if (!Array.isArray(phrases) || phrases.length === 0) {
    throw new RubricError(
      'invalid_matcher',
      `criterion '${id}': a phrase matcher needs a non-empty list of phrases`,
    );
  }
  if ('anyOf' in matcher) return (text) => phrases.some((p) => mentions(normaliseForMatching(text), p));
  if ('allOf' in matcher) return (text) => phrases.every((p) => mentions(normaliseForMatching(text), p));
  return (text) => !phrases.some((p) => mentions(normaliseForMatching(text), p));
}

/** HealthBench's normalisation: earned over the positive total, clipped to [0, 1]. */
export function normalisedRubricScore(verdicts: readonly Pick<CriterionVerdict, 'points' | 'met'>[]): {
  score: number;
  earned: number;
  possible: number;
} {
  let earned = 0;
  let possible = 0;
  for (const v of verdicts) {
    if (v.met === undefined) continue;
    if (v.points > 0) possible += v.points;
    if (v.met) earned += v.points;
  }
  const score = possible > 0 ? Math.min(1, Math.max(0, earned / possible)) : 0;
  return { score, earned, possible };
}

/**
 * Grades `input` against the rubric. Rule criteria are decided locally; the others go to `judge`
 * when given (one request per criterion, run concurrently), else stay ungraded. A response that is
 * only master keys (empty, punctuation, reasoning openers: `isMasterKey`) meets no judged criterion,
 * decided by rule: the judge is never asked, since judges are known to pass exactly these.
 */
export async function gradeRubric<Context>(
  criteria: readonly RubricCriterion<Context>[],
  input: RubricInput<Context>,
  options: { judge?: RubricJudge; describeContext?: (context: Context) => string } = {},
): Promise<RubricScore> {
  validateRubric(criteria as readonly RubricCriterion<never>[]);
  const contentFree = isMasterKey(input.response);
  const verdicts = await Promise.all(
    criteria.map(async (c): Promise<CriterionVerdict> => {
      const base = { id: c.id, points: c.points, ...(c.axis ? { axis: c.axis } : {}) };
      if (c.check) return { ...base, met: c.check(input), gradedBy: 'rule' };
      if (c.match) return { ...base, met: compileMatcher(c.match, c.id)(input.response), gradedBy: 'rule' };
      if (contentFree) return { ...base, met: false, gradedBy: 'rule', rationale: 'the response says nothing (a master key)' };
      if (!options.judge) return { ...base, gradedBy: 'none' };
      const verdict = await options.judge.judge({
        criterion: {
          id: c.id,
          description: c.description,
          points: c.points,
          ...(c.axis ? { axis: c.axis } : {}),
        },
        response: input.response,
        context: options.describeContext ? options.describeContext(input.context) : '',
      });
      return {
        ...base,
        met: verdict.met,
        gradedBy: 'judge',
        ...(verdict.rationale ? { rationale: verdict.rationale } : {}),
      };
    }),
  );
  const { score, earned, possible } = normalisedRubricScore(verdicts);
  const byAxis: Record<string, number> = {};
  for (const axis of new Set(verdicts.map((v) => v.axis).filter((a): a is string => a !== undefined))) {
    const ofAxis = verdicts.filter((v) => v.axis === axis);
    if (ofAxis.some((v) => v.points > 0 && v.met !== undefined))
      byAxis[axis] = normalisedRubricScore(ofAxis).score;
  }
  return {
    score,
    earned,
    possible,
    verdicts,
    byAxis,
    ungraded: verdicts.filter((v) => v.met === undefined).length,
  };
}

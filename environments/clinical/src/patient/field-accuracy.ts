import type { Phrasing } from '../../data/phrasings.ts';
import type { QuestionTarget } from './history-fields.ts';
import { matchQuestion } from './question-matcher.ts';

/** A target in the phrasing set's notation (`field:onset`, `symptoms:fever,chills`, `probe`, `unmatched`). */
export function targetLabel(target: QuestionTarget): string {
  switch (target.kind) {
    case 'field':
      return `field:${target.field}`;
    case 'symptoms':
      return `symptoms:${[...target.symptoms].sort().join(',')}`;
    case 'diagnosis-probe':
      return 'probe';
    case 'unmatched':
      return 'unmatched';
  }
}

const canonical = (label: string) =>
  label.startsWith('symptoms:') ? `symptoms:${label.slice(9).split(',').sort().join(',')}` : label;

export interface FieldAccuracy {
  accuracy: number;
  total: number;
  misses: Array<{ question: string; expected: string; got: string }>;
}

/** Share of phrasings whose question the matcher sends to the expected target. */
export function fieldMatchingAccuracy(phrasings: readonly Phrasing[]): FieldAccuracy {
  const misses: FieldAccuracy['misses'] = [];
  for (const { question, expected } of phrasings) {
    const got = targetLabel(matchQuestion(question));
    if (got !== canonical(expected)) misses.push({ question, expected, got });
  }
  return {
    accuracy: phrasings.length === 0 ? 0 : 1 - misses.length / phrasings.length,
    total: phrasings.length,
    misses,
  };
}

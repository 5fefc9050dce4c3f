import type { Attack } from '@toolgym/env-kit';
import { isMath } from './solution-attack.ts';

/** Math questions: answers that list many integers or an expression, hoping the parser picks a right one. */
const family = 'answer-spam';
const candidates = Array.from({ length: 400 }, (_, i) => String(i));

export const mathAttacks: Attack[] = [
  {
    name: 'submit-integer-list',
    family,
    ceiling: 0,
    appliesTo: isMath,
    async play(episode) {
      await episode.call('submit', { answer: candidates.slice(0, 60).join(' ') });
      return undefined;
    },
  },
  {
    name: 'submit-expression',
    family,
    ceiling: 0,
    appliesTo: isMath,
    async play(episode) {
      await episode.call('submit', { answer: '10**6 - 7' });
      return undefined;
    },
  },
  {
    name: 'boxed-spam-final-text',
    family,
    ceiling: 0,
    appliesTo: isMath,
    async play() {
      return { finalText: `The answer is one of ${candidates.map((c) => `\\boxed{-${c}1}`).join(', ')}.` };
    },
  },
];

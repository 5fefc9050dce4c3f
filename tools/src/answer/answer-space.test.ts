import { describe, expect, it } from 'vitest';
import { AnswerSpace, listsAlternatives } from './answer-space.ts';

describe('listsAlternatives', () => {
  it.each([
    ['Paris', ['Paris'], false],
    ['the city of Paris', ['Paris'], false],
    ['Bosnia and Herzegovina', ['Bosnia and Herzegovina'], false],
    ['Paris,', ['Paris'], false],
    ['Paris, Lyon or Marseille', ['Paris'], true],
    ['Lyon or Paris', ['Paris'], true],
    ['Paris/Lyon', ['Paris'], true],
    ['Paris vs Lyon', ['Paris'], true],
    ['Paris\nLyon', ['Paris'], true],
    ['Paris, France', ['Paris'], true],
    ['Sarajevo and Mostar', ['Bosnia and Herzegovina'], true],
    ['Trinidad and Tobago', ['Port of Spain'], true],
  ])('%j with gold %j → %s', (prediction, golds, expected) => {
    expect(listsAlternatives(prediction, golds)).toBe(expected);
  });
});

describe('AnswerSpace', () => {
  const space = new AnswerSpace(['Paris', 'Lyon', 'Guinea', 'Guinea-Bissau', 'Bosnia and Herzegovina', 'Euro']);

  it('finds the other candidates an answer names, without punctuation', () => {
    expect(space.otherCandidates('Paris Lyon', ['Paris'])).toEqual(['lyon']);
    expect(space.otherCandidates('Paris', ['Paris'])).toEqual([]);
    expect(space.otherCandidates('the euro', ['Euro'])).toEqual([]);
  });

  it('takes a candidate inside a longer one as part of it', () => {
    expect(space.otherCandidates('Bosnia and Herzegovina', ['Bosnia and Herzegovina'])).toEqual([]);
    expect(space.otherCandidates('Guinea-Bissau', ['Guinea-Bissau'])).toEqual([]);
    expect(space.otherCandidates('Guinea', ['Guinea-Bissau'])).toEqual(['guinea']);
  });
});

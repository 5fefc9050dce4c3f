import { describe, expect, it } from 'vitest';
import { citationF1, coverExactMatch, exactMatch, tokenF1 } from './metrics.ts';
import { answerTokens, normalizeAnswer } from './normalize.ts';

describe('normalizeAnswer', () => {
  it.each([
    ['The Eiffel Tower', 'eiffel tower'],
    ['  an   Apple, a day! ', 'apple day'],
    ['“Côte d’Ivoire”', 'côte divoire'],
    ['U.S.A.', 'usa'],
    ['the theatre', 'theatre'],
    ['Rock-and-roll', 'rockandroll'],
    ['$100 + tax', '100 tax'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });

  it('splits tokens on whitespace only after normalising', () => {
    expect(answerTokens('The  Hague, Netherlands')).toEqual(['hague', 'netherlands']);
    expect(answerTokens(' the ')).toEqual([]);
  });
});

describe('exactMatch', () => {
  it('matches after normalisation and against any alias', () => {
    expect(exactMatch('the Euro.', ['euro'])).toBe(1);
    expect(exactMatch('EUR', ['euro', 'EUR'])).toBe(1);
    expect(exactMatch('euros', ['euro'])).toBe(0);
    expect(exactMatch('Paris France', ['Paris'])).toBe(0);
    expect(exactMatch('anything', [])).toBe(0);
  });
});

describe('tokenF1', () => {
  it('computes SQuAD F1 on known pairs', () => {
    expect(tokenF1('Paris', ['Paris'])).toBe(1);
    // prediction 2 tokens, gold 1, overlap 1: P=1/2, R=1 → F1=2/3
    expect(tokenF1('Paris France', ['Paris'])).toBeCloseTo(2 / 3, 10);
    // overlap counted with multiplicity: pred [new,new,york] vs gold [new,york] → P=2/3 R=1 → 0.8
    expect(tokenF1('new new york', ['New York'])).toBeCloseTo(0.8, 10);
    expect(tokenF1('london', ['Paris'])).toBe(0);
  });

  it('takes the best alias and handles empty answers', () => {
    expect(tokenF1('United Kingdom', ['Britain', 'the United Kingdom'])).toBe(1);
    expect(tokenF1('', ['Paris'])).toBe(0);
    expect(tokenF1('the', ['a'])).toBe(1);
  });
});

describe('coverExactMatch', () => {
  it('needs a whole-word occurrence of a gold answer', () => {
    expect(coverExactMatch('It is in Paris, France.', ['paris'])).toBe(1);
    expect(coverExactMatch('Parisian food', ['paris'])).toBe(0);
    expect(coverExactMatch('the new york times', ['New York'])).toBe(1);
    expect(coverExactMatch('anything', ['the'])).toBe(0);
  });
});

describe('citationF1', () => {
  it('counts precision as well as recall', () => {
    expect(citationF1(['a'], ['a'])).toBe(1);
    expect(citationF1(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], ['a'])).toBeCloseTo(2 / 11);
    expect(citationF1(['a', 'x'], ['a', 'b'])).toBe(0.5);
    expect(citationF1(['a', 'a', 'a'], ['a'])).toBe(1);
    expect(citationF1([], ['a'])).toBe(0);
    expect(citationF1(['a'], [])).toBe(0);
  });
});

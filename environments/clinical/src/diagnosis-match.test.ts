import { describe, expect, it } from 'vitest';
import { builtInCases, CaseBank } from './case-bank.ts';
import { defaultCatalogue } from './catalogue.ts';
import { icdRefines, matchDiagnosis, normaliseDiagnosis } from './diagnosis-match.ts';

const bank = new CaseBank(builtInCases(), defaultCatalogue());
const stemi = bank.get('card-inferior-stemi');
const b12 = bank.get('heme-b12-deficiency');
const judge = (text: string, c = stemi) => matchDiagnosis(text, c, bank.vocabulary);

describe('diagnosis matching', () => {
  it('accepts the name and any alias, whatever the case, punctuation and hedging', () => {
    expect(judge('Inferior ST-elevation myocardial infarction').correct).toBe(true);
    expect(judge('inferior stemi').correct).toBe(true);
    expect(judge('Probable acute inferior MI.').correct).toBe(true);
    expect(judge('Heart attack').correct).toBe(true);
    expect(judge('Coeliac disease', bank.get('gi-celiac-disease')).correct).toBe(true);
  });

  it('accepts the ICD-10 code and its refinements, but not a neighbouring code', () => {
    expect(judge('I21.1').reason).toBe('matched-code');
    expect(judge('ICD-10 I21.19').correct).toBe(true);
    expect(judge('I22.1').correct).toBe(false);
    expect(icdRefines('I21.19', 'I21.1')).toBe(true);
    expect(icdRefines('I21.4', 'I21.1')).toBe(false);
  });

  it('counts a category code as no diagnosis: it covers the neighbours too', () => {
    // I21 holds both the inferior STEMI (I21.1) and the NSTEMI (I21.4) of the bank.
    const nstemi = bank.get('card-nstemi-diabetic');
    expect(judge('I21')).toMatchObject({ correct: false, reason: 'no-match', competing: [] });
    expect(judge('I21', nstemi).correct).toBe(false);
    expect(icdRefines('I21', 'I21.1')).toBe(false);
    // Beside the right name it is no competing diagnosis either.
    expect(judge('Inferior STEMI (I21)').correct).toBe(true);
  });

  it('rejects a wrong diagnosis and an empty one', () => {
    expect(judge('Pulmonary embolism')).toMatchObject({ correct: false, reason: 'no-match' });
    expect(judge('Chest pain of unclear cause').correct).toBe(false);
    expect(judge('   ')).toMatchObject({ correct: false, reason: 'empty' });
  });

  it('gives nothing for a shotgun list that contains the right answer', () => {
    expect(judge('STEMI, pulmonary embolism, aortic dissection, pericarditis')).toMatchObject({
      correct: false,
      reason: 'competing-diagnoses',
    });
    expect(judge('inferior STEMI or unstable angina').correct).toBe(false);
    expect(judge('Myocardial infarction vs pneumonia vs pneumothorax').correct).toBe(false);
    expect(judge('1. STEMI\n2. something else')).toMatchObject({
      correct: false,
      reason: 'list-of-alternatives',
    });
    expect(judge('STEMI / dissection').correct).toBe(false);
    expect(judge('I21.1, I26.99, I71.0').correct).toBe(false);
    const everything = bank.cases.map((c) => c.diagnosis.name).join('; ');
    expect(judge(everything).correct).toBe(false);
  });

  it('does not count a negated alternative as competing', () => {
    expect(judge('Inferior STEMI, not aortic dissection').correct).toBe(true);
  });

  it('reads a code-shaped word inside a name as part of the name', () => {
    expect(judge('Vitamin B12 deficiency', b12).correct).toBe(true);
  });

  it('normalises British spelling and hedge words', () => {
    expect(normaliseDiagnosis('Probable haemorrhage of the oesophagus')).toBe('hemorrhage esophagus');
  });
});

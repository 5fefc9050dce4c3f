import { describe, expect, it } from 'vitest';
import { defaultCatalogue } from './catalogue.ts';
import { examF1 } from './exam-f1.ts';

const catalogue = defaultCatalogue();

describe('exam F1 (DiagGym)', () => {
  it('is 1 for exactly the key exams and 0 for none', () => {
    expect(examF1(['ecg', 'troponin'], ['ecg', 'troponin'], catalogue).f1).toBe(1);
    expect(examF1([], ['ecg'], catalogue).f1).toBe(0);
    expect(examF1(['mri_brain'], ['ecg'], catalogue).f1).toBe(0);
  });

  it('gives a case with no key exams 1 for ordering nothing and 0 for ordering anything', () => {
    expect(examF1([], [], catalogue).f1).toBe(1);
    expect(examF1(['cbc'], [], catalogue).f1).toBe(0);
  });

  it('scores a partial ordering: 1 of 2 keys plus 2 extra tests → P = 1/3, R = 1/2, F1 = 0.4', () => {
    const s = examF1(['ecg', 'cbc', 'chest_xray'], ['ecg', 'troponin'], catalogue);
    expect(s.precision).toBeCloseTo(1 / 3);
    expect(s.recall).toBeCloseTo(1 / 2);
    expect(s.f1).toBeCloseTo(0.4);
  });

  it('counts repeats once and credits panels and their components both ways', () => {
    expect(examF1(['ecg', 'ecg', 'troponin'], ['ecg', 'troponin'], catalogue).f1).toBe(1);
    expect(examF1(['cbc'], ['hemoglobin'], catalogue).f1).toBe(1);
    expect(examF1(['hemoglobin'], ['cbc'], catalogue).f1).toBe(1);
    expect(examF1(['bmp'], ['glucose', 'beta_hydroxybutyrate'], catalogue).f1).toBeCloseTo(2 / 3);
  });
});

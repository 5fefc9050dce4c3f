import { describe, expect, it } from 'vitest';
import { builtInCases, CaseDataError, validateCase } from './case-bank.ts';
import { defaultCatalogue } from './catalogue.ts';

const cases = builtInCases();

describe('case bank', () => {
  it('has at least 120 cases across 15 specialties, each with a coded diagnosis and key exams', () => {
    expect(cases.length).toBeGreaterThanOrEqual(120);
    expect(new Set(cases.map((c) => c.specialty)).size).toBeGreaterThanOrEqual(15);
    for (const c of cases) {
      expect(c.diagnosis.icd10, c.id).toMatch(/^[A-Z]\d/);
      expect(c.keyExams.length, c.id).toBeGreaterThan(0);
      expect(c.differential.length, c.id).toBeGreaterThanOrEqual(2);
      for (const id of c.keyExams) expect(defaultCatalogue().get(id), `${c.id}: ${id}`).toBeDefined();
    }
  });

  const base = structuredClone(cases.find((c) => c.id === 'card-inferior-stemi')!);

  it('refuses a case whose patient-facing text names its diagnosis', () => {
    const leaky = { ...base, history: { ...base.history, family: 'My father had a heart attack too.' } };
    expect(() => validateCase(leaky, defaultCatalogue(), { strictTests: true })).toThrow(
      /the agent could read the diagnosis: history.family names 'heart attack'/,
    );
  });

  it('names the case and the field for unknown tests, unknown symptoms and schema errors', () => {
    expect(() =>
      validateCase({ ...base, keyExams: ['ecg', 'tricorder'] }, defaultCatalogue(), { strictTests: true }),
    ).toThrow(/unknown test id 'tricorder'/);
    expect(() =>
      validateCase({ ...base, denies: ['zombie_bite'] }, defaultCatalogue(), { strictTests: true }),
    ).toThrow(/unknown symptom key 'zombie_bite'/);
    expect(() => validateCase({ ...base, age: -3 }, defaultCatalogue(), { strictTests: true })).toThrow(
      CaseDataError,
    );
    expect(() =>
      validateCase({ ...base, diagnosis: { ...base.diagnosis, icd10: 'heart' } }, defaultCatalogue(), {
        strictTests: true,
      }),
    ).toThrow(/ICD-10/);
    expect(() =>
      validateCase({ ...base, family: 'coronary-sadness' }, defaultCatalogue(), { strictTests: true }),
    ).toThrow(/family 'coronary-sadness' has no entry in data\/diagnosis-synonyms.ts/);
    expect(() => validateCase({ ...base, keyExams: [] }, defaultCatalogue(), { strictTests: true })).toThrow(
      /no key exams/,
    );
    // An import may have no key exams: its record reports no test.
    expect(
      validateCase({ ...base, keyExams: [] }, defaultCatalogue(), { strictTests: false }).keyExams,
    ).toEqual([]);
  });
});

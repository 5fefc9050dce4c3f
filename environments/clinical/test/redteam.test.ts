import { defineEnvironment, Environment, probeEnvironment, weightedReward } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import clinical, { createClinicalEnvironment, normaliseDiagnosis } from '../src/index.ts';
import type { ClinicalAnswer, ClinicalState } from '../src/environment.ts';

/** Every component weighted, so a hole in any of them shows in the total. */
const EVERY_COMPONENT = { completion: 0.1, diagnosis: 1, exam_f1: 0.5, cost_efficiency: 0.7, rubric: 0.7 };

describe.each([
  ['default weights', {}],
  ['every component weighted', { weights: EVERY_COMPONENT }],
])('clinical red-team with %s, over every case', (_label, options) => {
  it('holds every attack family to its ceiling', async () => {
    const environment = new Environment(clinical, clinical.parseConfig(options));
    const report = await probeEnvironment(environment, { tasks: 64 });
    expect(new Set(report.rows.map((r) => r.family))).toEqual(
      new Set(['shotgun', 'order-everything', 'ask-patient', 'master-key', 'category', 'generic']),
    );
    for (const row of report.rows) {
      expect(row.episodes).toBeGreaterThan(0);
      expect(row.verdict, `${row.attack}: ${row.error ?? JSON.stringify(row.above)}`).toBe('pass');
    }
  });
});

it('shotgun answers beat a grade that accepts any answer naming the diagnosis', async () => {
  const mentionGrade = defineEnvironment({
    ...clinical,
    grade: ({ episode }) => {
      const { clinicalCase } = episode.state as ClinicalState;
      const given = normaliseDiagnosis((episode.answer as ClinicalAnswer | undefined)?.diagnosis ?? '');
      const names = [clinicalCase.diagnosis.name, ...clinicalCase.diagnosis.aliases].map(normaliseDiagnosis);
      return weightedReward({ diagnosis: names.some((n) => ` ${given} `.includes(` ${n} `)) ? 1 : 0 }, { diagnosis: 1 });
    },
  });
  const report = await probeEnvironment(new Environment(mentionGrade, mentionGrade.parseConfig({})), { tasks: 64 });
  expect(report.rows.find((r) => r.attack === 'shotgun-diagnosis')?.above.length).toBeGreaterThan(0);
});

it('a category code beats a grade that counts a broader code of the category as the diagnosis', async () => {
  const categoryGrade = defineEnvironment({
    ...clinical,
    grade: ({ episode }) => {
      const gold = (episode.state as ClinicalState).clinicalCase.diagnosis.icd10 ?? '';
      const given = ((episode.answer as ClinicalAnswer | undefined)?.diagnosis ?? '').replace(/^ICD-10\s*/i, '').toUpperCase();
      const broader = given.length >= 3 && gold.startsWith(given);
      return weightedReward({ diagnosis: broader ? 1 : 0 }, { diagnosis: 1 });
    },
  });
  const report = await probeEnvironment(new Environment(categoryGrade, categoryGrade.parseConfig({})), { tasks: 134 });
  expect(report.rows.find((r) => r.attack === 'category-code')?.above.length).toBeGreaterThan(0);
});

it('a master key earns nothing from a judge that passes everything', async () => {
  // Test double of a fooled rubric judge (a judge model cannot run here): every criterion is met.
  const fooled = createClinicalEnvironment({ judge: { judge: async () => ({ met: true }) } });
  const environment = new Environment(fooled, fooled.parseConfig({ weights: EVERY_COMPONENT }));
  const report = await probeEnvironment(environment, { tasks: 8 });
  const row = report.rows.find((r) => r.attack === 'master-key')!;
  expect(row).toMatchObject({ verdict: 'pass' });
  expect(row.worst?.components.rubric).toBeLessThanOrEqual(3 / 14 + 1e-9);
});

import { Environment } from '@toolgym/env-kit';
import type { Split, Task } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import type { ClinicalCase } from './case.ts';
import { normaliseDiagnosis } from './diagnosis-match.ts';
import { caseBankFor } from './environment.ts';
import clinical from './index.ts';
import { assignSplits } from './split.ts';

const env = new Environment(clinical, clinical.parseConfig({}));
const tasks = await env.tasks();
const bank = caseBankFor(env.config);
const casesOf = (split: Split) => tasks.filter((t) => t.split === split).map((t) => bank.forTask(t.id));
const [train, test, iid] = [casesOf('train'), casesOf('test'), casesOf('test-iid')];
const names = (c: ClinicalCase) => [c.diagnosis.name, ...c.diagnosis.aliases].map(normaliseDiagnosis);
const category = (c: ClinicalCase) => c.diagnosis.icd10?.slice(0, 3);

describe('clinical splits', () => {
  it('has at least 120 cases and a test split of at least 35 that spans every specialty', () => {
    expect(tasks.length).toBeGreaterThanOrEqual(120);
    expect(test.length).toBeGreaterThanOrEqual(35);
    const specialties = new Set(bank.cases.map((c) => c.specialty));
    expect(specialties.size).toBeGreaterThanOrEqual(15);
    expect(new Set(test.map((c) => c.specialty))).toEqual(specialties);
    expect(train.length + test.length + iid.length).toBe(tasks.length);
  });

  it('holds out whole case families: no test diagnosis, alias, ICD-10 category or family has a train case', () => {
    const trainFamilies = new Set(train.map((c) => c.family));
    const trainNames = new Set(train.flatMap(names));
    const trainCategories = new Set(train.map(category));
    for (const c of test) {
      expect(trainFamilies.has(c.family), c.id).toBe(false);
      expect(
        names(c).filter((n) => trainNames.has(n)),
        c.id,
      ).toEqual([]);
      expect(trainCategories.has(category(c)), `${c.id} ${c.diagnosis.icd10}`).toBe(false);
    }
  });

  it('declares the held-out unit, and every test task has a unit no train task has', () => {
    const heldOut = clinical.heldOut!(env.config);
    expect(heldOut.unit).toBe('case-family');
    const trainUnits = new Set(
      tasks.filter((t) => t.split === 'train').flatMap((t: Task) => heldOut.unitsOf(t)),
    );
    for (const task of tasks.filter((t) => t.split === 'test'))
      expect(
        heldOut.unitsOf(task).some((u) => !trainUnits.has(u)),
        task.id,
      ).toBe(true);
    // test-iid is the other kind of held-out: a seen diagnosis in a new presentation.
    expect(iid.length).toBeGreaterThanOrEqual(3);
    for (const task of tasks.filter((t) => t.split === 'test-iid'))
      expect(
        heldOut.unitsOf(task).every((u) => trainUnits.has(u)),
        task.id,
      ).toBe(true);
  });

  it('keeps the unit out of what an agent sees: no family, case id or diagnosis in task ids, prompts or meta', () => {
    for (const task of tasks) {
      const c = bank.forTask(task.id);
      const seen = `${task.id} ${task.prompt} ${JSON.stringify(task.meta)}`.toLowerCase();
      expect(seen, c.id).not.toContain(c.family);
      expect(seen, c.id).not.toContain(c.id);
    }
  });

  it('is deterministic for a salt, changes with the salt, and follows testFraction', () => {
    const cases = bank.cases;
    const a = assignSplits(cases, 0.3, 'clinical');
    expect(assignSplits(cases, 0.3, 'clinical')).toEqual(a);
    const b = assignSplits(cases, 0.3, 'another');
    expect([...a].filter(([id, s]) => b.get(id) !== s).length).toBeGreaterThan(10);
    const share = (m: Map<string, Split>) => [...m.values()].filter((s) => s === 'test').length / m.size;
    expect(share(assignSplits(cases, 0.15, 'clinical'))).toBeLessThan(share(a));
    expect(share(assignSplits(cases, 0.5, 'clinical'))).toBeGreaterThan(share(a));
  });

  it('keeps both splits non-empty for a small selection, and leaves a single family in train', () => {
    const one = [{ id: 'a', family: 'x', specialty: 'cardiology' as const }];
    expect([...assignSplits(one, 0.3, 's').values()]).toEqual(['train']);
    const two = [
      { id: 'a', family: 'x', specialty: 'cardiology' as const },
      { id: 'b', family: 'y', specialty: 'neurology' as const },
    ];
    expect(new Set(assignSplits(two, 0.05, 's').values())).toEqual(new Set(['train', 'test']));
  });
});

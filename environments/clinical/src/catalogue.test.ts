import { describe, expect, it } from 'vitest';
import { CatalogueError, defaultCatalogue, TestCatalogue } from './catalogue.ts';

const catalogue = defaultCatalogue();

describe('test catalogue', () => {
  it('holds a few hundred examinations across labs, imaging and bedside tests', () => {
    expect(catalogue.size).toBeGreaterThanOrEqual(250);
    const categories = new Set(catalogue.all().map((t) => t.category));
    for (const c of ['chemistry', 'haematology', 'imaging', 'bedside', 'microbiology', 'panel'])
      expect(categories).toContain(c);
    for (const t of catalogue.all()) expect(t.cost).toBeGreaterThanOrEqual(0);
  });

  it('finds tests by name, alias, case, punctuation, filler words and plurals', () => {
    expect(catalogue.resolve('Troponin')?.id).toBe('troponin');
    expect(catalogue.resolve('please order a troponin level')?.id).toBe('troponin');
    expect(catalogue.resolve('Chest X-Ray')?.id).toBe('chest_xray');
    expect(catalogue.resolve('CXR')?.id).toBe('chest_xray');
    expect(catalogue.resolve('full blood count')?.id).toBe('cbc');
    expect(catalogue.resolve('blood cultures')?.id).toBe('blood_culture');
    expect(catalogue.resolve('LFTs')?.id).toBe('lft');
  });

  it('does not guess: an unknown name resolves to nothing, with the closest names as suggestions', () => {
    expect(catalogue.resolve('tropnin')).toBeUndefined();
    expect(catalogue.suggest('tropnin')).toContain('High-sensitivity troponin I');
    expect(catalogue.suggest('chest scan')).toContain('CT chest');
    expect(catalogue.suggest('quantum brain scan')).toHaveLength(3);
  });

  it('reports a plausible normal value with unit and reference range, the same every time', () => {
    const hb = catalogue.get('hemoglobin')!;
    const male = catalogue.normalValue(hb, 'male', 'case-a');
    const value = Number.parseFloat(male.text);
    expect(value).toBeGreaterThanOrEqual(13.5);
    expect(value).toBeLessThanOrEqual(17.5);
    expect(male.text).toContain('g/dL');
    expect(male.text).toContain('ref 13.5-17.5');
    expect(male.flag).toBeUndefined();
    expect(catalogue.normalValue(hb, 'male', 'case-a')).toEqual(male);
    expect(catalogue.normalValue(hb, 'female', 'case-a').text).toContain('ref 12-15.5');
    expect(catalogue.normalValue(catalogue.get('chest_xray')!, 'male', 'x').text).toMatch(/Clear lungs/);
  });

  it('flags values outside the range', () => {
    const k = catalogue.get('potassium')!;
    expect(catalogue.numericValue(k, 'male', 6.1).flag).toBe('H');
    expect(catalogue.numericValue(k, 'male', 2.9).flag).toBe('L');
    expect(catalogue.numericValue(k, 'male', 4.1).flag).toBeUndefined();
  });

  it('rejects a catalogue with clashing names or unknown panel components', () => {
    const base = { cost: 1, turns: 0, category: 'chemistry' as const, normal: 'ok' };
    expect(
      () =>
        new TestCatalogue([
          { ...base, id: 'a', name: 'Alpha', aliases: ['x'] },
          { ...base, id: 'b', name: 'Beta', aliases: ['x'] },
        ]),
    ).toThrow(/already a name of 'a'/);
    expect(
      () => new TestCatalogue([{ ...base, id: 'p', name: 'Panel', aliases: [], components: ['missing'] }]),
    ).toThrow(CatalogueError);
  });
});

import { describe, expect, it } from 'vitest';
import { DIAGNOSIS_SYNONYMS } from '../data/diagnosis-synonyms.ts';
import type { ClinicalCase } from './case.ts';
import { builtInCases, validateCase } from './case-bank.ts';
import { defaultCatalogue } from './catalogue.ts';
import { agentVisibleTexts, findLeaks, LeakMatcher, leakTermsOf, nameVariants } from './leak-check.ts';

const catalogue = defaultCatalogue();
const cases = builtInCases();
const byId = (id: string) => structuredClone(cases.find((c) => c.id === id) as ClinicalCase);
const leaksOf = (c: ClinicalCase) => findLeaks(c, catalogue).map((l) => `${l.where}: ${l.term}`);

describe('what the agent sees never gives the diagnosis away', () => {
  it('passes every bank case, and every bank family has synonyms', () => {
    expect(cases.length).toBeGreaterThanOrEqual(120);
    for (const c of cases) {
      expect(leaksOf(c), c.id).toEqual([]);
      expect(DIAGNOSIS_SYNONYMS[c.family], c.family).toBeDefined();
    }
  });

  it('catches the diagnosis in each text an agent can reach: history, symptoms, complaint, exam, results, normal results', () => {
    const pe = byId('pulm-pulmonary-embolism');
    pe.history.family = 'My mother had a pulmonary embolism after surgery.';
    pe.symptoms.chest_pain = 'Sharp, like when I had the clot on the lung last year.';
    pe.complaint = 'I think I have another PE.';
    pe.exam.respiratory = 'Pleural rub at the right base, as with pulmonary emboli.';
    pe.results.ctpa = 'Saddle embolus at the bifurcation of the pulmonary trunk.';
    delete pe.results.vq_scan;
    expect(leaksOf(pe)).toEqual([
      'complaint: PE',
      'history.family: pulmonary embolism',
      'symptoms.chest_pain: clot on the lung',
      'exam.respiratory: emboli',
      'results.ctpa: embolus',
      // The catalogue's normal V/Q scan ("pulmonary embolism excluded") would both name and contradict it.
      'normal result of vq_scan: pulmonary embolism',
    ]);
  });

  it('knows each kind of synonym: abbreviations as written, eponyms, lay names, plural and adjective forms', () => {
    const terms = (id: string) => new LeakMatcher(leakTermsOf(byId(id)));
    // An abbreviation matches in capitals only: "MS" is multiple sclerosis, "ms" is milliseconds.
    expect(terms('neuro-multiple-sclerosis').find('QRS 90 ms; PR 160 ms.')).toEqual([]);
    expect(terms('neuro-multiple-sclerosis').find('Known MS, on interferon.')).toHaveLength(1);
    // An eponym, with or without its possessive.
    expect(terms('endo-graves-disease').find("Graves' orbitopathy on the left.")).toHaveLength(1);
    expect(terms('endo-cushing-syndrome').find('Cushingoid facies.')).toHaveLength(1);
    // A lay name.
    expect(terms('pulm-spontaneous-pneumothorax').find('He was told it was a collapsed lung.')).toHaveLength(
      1,
    );
    // Plural (regular and irregular) and adjective forms.
    expect(terms('pulm-spontaneous-pneumothorax').find('Bilateral pneumothoraces.')).toHaveLength(1);
    expect(terms('pulm-tuberculosis').find('Tuberculous lymphadenitis in childhood.')).toHaveLength(1);
    expect(terms('rheum-gout').find('Gouty tophi on the ear.')).toHaveLength(1);
    expect(terms('pulm-asthma-exacerbation').find('Asthmatic since childhood.')).toHaveLength(1);
    // A name variant: without its qualifier ("Acute appendicitis" → "appendicitis").
    expect(terms('gi-acute-appendicitis').find('Possible appendicitis.')).toHaveLength(1);
    // Words that merely share a root with the diagnosis are not it: ectopic beats are not an ectopic pregnancy.
    expect(terms('obgyn-ectopic-pregnancy').find('Occasional isolated ectopic beats.')).toEqual([]);
  });

  it('counts a negated mention too: in a case text it still names the answer', () => {
    const mi = byId('card-inferior-stemi');
    mi.results.troponin = 'Rising troponin; not a typical heart attack pattern.';
    expect(leaksOf(mi)).toEqual(['results.troponin: heart attack']);
  });

  it('checks the name of a test only this case offers (imports), which an order can reach by some of its words', () => {
    const imported = {
      ...byId('pulm-pulmonary-embolism'),
      results: { 'Pulmonary embolism CT': 'Filling defect.' },
    };
    expect(leaksOf(imported)).toContain("the name of test 'Pulmonary embolism CT': Pulmonary embolism");
  });

  it('refuses a leaking case at once, naming the case, every place and the term', () => {
    const leaky = byId('derm-herpes-zoster');
    leaky.results.hsv_pcr = 'Varicella-zoster virus DNA detected from vesicle fluid; HSV not detected.';
    expect(() => validateCase(leaky, catalogue, { strictTests: true })).toThrow(
      "case 'derm-herpes-zoster': the agent could read the diagnosis: results.hsv_pcr names 'zoster'",
    );
  });

  it('derives the variants of a diagnosis name that give it away as surely as the name', () => {
    expect(nameVariants('Acute appendicitis')).toEqual(['Acute appendicitis', 'appendicitis']);
    expect(nameVariants('Cellulitis of the left leg')).toEqual(['Cellulitis of the left leg', 'Cellulitis']);
    expect(
      nameVariants('Septic thrombophlebitis of the internal jugular vein (Lemierre’s syndrome)'),
    ).toEqual([
      'Septic thrombophlebitis of the internal jugular vein (Lemierre’s syndrome)',
      'Septic thrombophlebitis of the internal jugular vein',
      'Lemierre’s syndrome',
      'Septic thrombophlebitis',
    ]);
    expect(nameVariants('Type 2 Diabetes Mellitus')).toEqual([
      'Type 2 Diabetes Mellitus',
      'Diabetes Mellitus',
    ]);
    // A general head word alone gives nothing away.
    expect(nameVariants('Syndrome of inappropriate antidiuretic hormone secretion')).toEqual([
      'Syndrome of inappropriate antidiuretic hormone secretion',
    ]);
  });

  it('withholds every occurrence and counts them', () => {
    const matcher = new LeakMatcher(['molluscum contagiosum', 'molluscum']);
    expect(matcher.withhold('Lobules of molluscum bodies; molluscum contagiosum likely.')).toEqual({
      text: 'Lobules of [withheld] bodies; [withheld] likely.',
      count: 2,
    });
  });

  it('lists every text a tool can return: one per body system, the case results, the other tests’ normals', () => {
    const c = byId('card-inferior-stemi');
    const texts = agentVisibleTexts(c, catalogue);
    expect(texts.find((t) => t.where === 'exam.abdominal')?.text).toMatch(/Soft, non-tender/);
    expect(texts.find((t) => t.where === 'results.ecg')?.text).toMatch(/ST elevation/);
    expect(texts.some((t) => t.where === 'normal result of ecg')).toBe(false);
    expect(texts.find((t) => t.where === 'normal result of chest_xray')?.text).toMatch(/Clear lungs/);
    expect(texts.find((t) => t.where === 'denies.fever')?.text).toBe('fever');
  });
});

import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Environment } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClinicalCase } from '../case.ts';
import { defaultCatalogue } from '../catalogue.ts';
import { createClinicalEnvironment } from '../environment.ts';
import { Hospital } from '../hospital.ts';
import { findLeaks } from '../leak-check.ts';
import { AgentClinicFileError, loadAgentClinicFile, loadAgentClinicFiles } from './load.ts';
import { NEJM_OBJECTIVE, nejmTests } from './nejm.ts';

const fixtures = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../test/fixtures/agentclinic',
);
const file = (name: string) => path.join(fixtures, `agentclinic_${name}.jsonl`);
const PUBLISHED = ['medqa', 'medqa_extended', 'nejm', 'nejm_extended'] as const;
const loaded = loadAgentClinicFiles(PUBLISHED.map(file));
const loads = Object.fromEntries(PUBLISHED.map((name, i) => [name, loaded[i]!]));
const allCases = Object.values(loads).flatMap((l) => l.cases);
const byDiagnosis = (name: string): ClinicalCase => {
  const c = allCases.find((x) => x.diagnosis.name === name);
  if (!c) throw new Error(`no fixture case of ${name}`);
  return c;
};
const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe('AgentClinic files, as its evaluator reads them', () => {
  it('loads every record of files shaped like the four published ones: at least 30 per format', () => {
    for (const name of PUBLISHED) {
      const load = loadAgentClinicFile(file(name));
      expect(load.loaded, name).toBe(load.records);
      expect(
        load.notices.filter((n) => n.skipped),
        name,
      ).toEqual([]);
    }
    // The extended files repeat the base ones: the distinct records are the base plus the rest.
    expect(loads.medqa!.records + loads.medqa_extended!.records - 20).toBeGreaterThanOrEqual(30);
    expect(loads.nejm!.records + loads.nejm_extended!.records - 15).toBeGreaterThanOrEqual(30);
  });

  it('loads a case the extended files repeat from the base ones once, and reports the copy', () => {
    expect(loads.medqa_extended).toMatchObject({ records: 32, loaded: 12 });
    const copies = loads.medqa_extended!.notices.filter((n) => n.skipped);
    expect(copies).toHaveLength(20);
    expect(copies[1]).toEqual({
      line: 2,
      skipped: true,
      message: 'the same case as agentclinic_medqa.jsonl:2, loaded once',
    });
    // NEJM-extended adds a type to each NEJM record: still the same case.
    expect(loads.nejm_extended).toMatchObject({ records: 30, loaded: 15 });
    expect(new Set(allCases.map((c) => c.source)).size).toBe(allCases.length);
  });

  it('reports every line it skips, with the line and the reason, and loads the rest of the file', () => {
    const load = loadAgentClinicFile(file('damaged'));
    expect(load.records).toBe(11);
    expect(load.loaded).toBe(2);
    const skipped = load.notices.filter((n) => n.skipped).map((n) => [n.line, n.message]);
    expect(skipped).toEqual([
      [2, 'blank line'],
      [3, expect.stringMatching(/^not JSON: /)],
      [4, expect.stringMatching(/neither an OSCE record/)],
      [5, expect.stringMatching(/neither an OSCE record/)],
      [6, 'OSCE_Examination has no Correct_Diagnosis'],
      [7, 'OSCE_Examination.Correct_Diagnosis holds no diagnosis text'],
      [8, 'no answer is marked correct'],
      [9, 'no answer is marked correct'],
      [10, 'OSCE_Examination has no Patient_Actor'],
    ]);
  });

  it('refuses up front, with what to fix, a file it cannot read or that holds no case', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-agentclinic-'));
    scratch.push(dir);
    const csv = path.join(dir, 'cases.csv');
    writeFileSync(csv, 'id,diagnosis\n1,Angina\n');
    expect(() => loadAgentClinicFile(path.join(dir, 'missing.jsonl'))).toThrow(AgentClinicFileError);
    try {
      loadAgentClinicFile(csv);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AgentClinicFileError);
      expect((error as AgentClinicFileError).code).toBe('agentclinic_no_cases');
      expect((error as AgentClinicFileError).message).toMatch(/2 lines, none loads \(line 1: not JSON/);
      expect((error as AgentClinicFileError).hint).toMatch(/MedQA .*NEJM/);
    }
  });

  it('keeps a nested test under its own name: "Barium_Enema": {"Findings": …} is the test Barium Enema', () => {
    const hirschsprung = byDiagnosis('Hirschsprung disease');
    expect(Object.keys(hirschsprung.results)).toEqual(['cbc', 'abdominal_xray', 'Barium Enema']);
    expect(hirschsprung.results['Barium Enema']).toMatch(
      /^Narrow rectosigmoid with a cone-shaped transition zone/,
    );
    expect(JSON.stringify(hirschsprung)).not.toMatch(/"Findings"/);
    // A group of tests ("Imaging", "Biopsy", "X-rays") holds tests; the tests keep the group where it says what they are.
    expect(byDiagnosis('Myasthenia gravis').results.ct_chest).toBe(
      'Chest CT: Normal, no anterior mediastinal mass.',
    );
    expect(byDiagnosis('Diffuse large B-cell lymphoma').results.lymph_node_biopsy).toMatch(
      /^Biopsy: Cervical Lymph Node: Sheets of large lymphoid cells/,
    );
    expect(byDiagnosis('Osteoarthritis').results.limb_xray).toMatch(/X-rays: Wrist: .*; X-rays: Knee: /);
    expect(byDiagnosis('Disseminated gonococcal infection').results.gonorrhea_chlamydia_naat).toBe(
      'STI Screen: Gonorrhea: Positive; Chlamydia: Negative; HIV: Negative',
    );
    expect(byDiagnosis('Tinea pedis').results.skin_scraping).toMatch(/Microscopy: Branching septate hyphae/);
  });

  it('does not require optional parts: they can be ordered, they are not key exams', () => {
    const bursitis = byDiagnosis('Pes anserine bursitis');
    expect(bursitis.results.mri_knee).toMatch(/^May be considered/);
    expect(bursitis.keyExams).toEqual(['limb_xray']);
    const molluscum = byDiagnosis('Molluscum contagiosum');
    expect(molluscum.results.skin_biopsy).toMatch(/^Optional and not typically necessary/);
    expect(molluscum.keyExams).toEqual(['cbc']);
  });

  it('loads arrays and objects where the format has strings', () => {
    const ulcer = allCases.find((c) => c.id === 'ac-agentclinic-medqa-9')!;
    expect(ulcer.history.pmh).toBe(
      "Crohn's disease, Type 2 diabetes mellitus, Hypertension, Treated for anterior uveitis 8 months ago.",
    );
    expect(ulcer.history.medications).toBe('Insulin, Mesalamine, Enalapril, Aspirin.');
    const ear = byDiagnosis('Malignant otitis externa');
    expect(ear.denies).toEqual(expect.arrayContaining(['fever', 'weight_loss']));
    expect(ear.symptoms.ear_discharge ?? ear.symptoms.hearing_loss).toBeDefined();
    const depression = byDiagnosis('Major depressive disorder');
    expect(depression.history.drugs).toMatch(/^I deny smoking, alcohol or drug use/);
    expect(depression.history.occupation).toMatch(/stopped seeing friends/);
    const nms = byDiagnosis('Neuroleptic malignant syndrome');
    expect(nms.history.pmh).toBe(
      'My schizophrenia: treated with haloperidol, dose doubled last week. My epilepsy: I take phenytoin.',
    );
    const pneumonia = byDiagnosis('Hospital-acquired pneumonia');
    expect(pneumonia.history.smoking).toMatch(/one pack daily/);
    expect(pneumonia.history.occupation).toMatch(/Hairdresser/);
    const anemia = byDiagnosis('Iron deficiency anemia');
    expect(anemia).toMatchObject({ age: 32, sex: 'female' });
    expect(anemia.objective).toBe('Evaluate the tired young woman., Find the cause of her anemia.');
    expect(anemia.history.onset).toMatch(/^I report six months of tiredness.*I have very heavy periods/);
    const appendicitis = byDiagnosis('Acute appendicitis');
    expect(appendicitis.diagnosis.aliases).toEqual(['Appendicitis']);
    expect(appendicitis.keyExams).toEqual([]);
    const migraine = byDiagnosis('Migraine without aura');
    expect(migraine.exam.general).toMatch(/neurological examinations are normal/);
    expect(migraine.results.Investigations).toBe('No tests are needed for the diagnosis.');
    expect(byDiagnosis('Tetralogy of Fallot').complaint).toMatch(/^My baby turns blue/);
    expect(byDiagnosis('Hemorrhagic shock due to splenic rupture').results['Vital Signs Trend']).toMatch(
      /Blood Pressure: Initial: 84\/50 mm Hg, After 5 mins: 72\/40 mm Hg/,
    );
    expect(byDiagnosis('Kawasaki disease').vitals[0]).toBe(39.5);
    const lupus = loads.medqa_extended!.notices.find((n) => n.line === 29);
    expect(lupus).toMatchObject({
      skipped: false,
      message: expect.stringMatching(/crp, creatinine, chest_xray/),
    });
  });

  it('lets the patient speak in the first person, and a parent speak for a young child', () => {
    for (const c of allCases) {
      const words = [c.complaint, ...Object.values(c.history), ...Object.values(c.symptoms)].join(' ');
      expect(words, c.id).not.toMatch(/\b(the patient|patient's|for your role|patient actor|\byou\b)/i);
      expect(c.complaint, c.id).toMatch(/^(I|My|Yes)\b/);
      if (c.age >= 12) expect(words, c.id).not.toMatch(/\b(she|he)\b/i);
    }
    expect(byDiagnosis('Hirschsprung disease').history.onset).toMatch(/^My son has been very fussy/);
    expect(byDiagnosis('Varicella').history.onset).toMatch(/brought in by me/);
    expect(byDiagnosis('Neonatal herpes simplex virus infection').complaint).toBe(
      'My daughter has clusters of small fluid-filled blisters on her torso and inside her mouth.',
    );
    expect(byDiagnosis('Langerhans-cell histiocytosis').complaint).toBe(
      'I am the mother of a 2-year-old boy.',
    );
    expect(byDiagnosis('Somatotroph pituitary adenoma').history.onset).toBe(
      'I am a 34-year-old man. I have blurry vision. I have increasing shoe size. I have change in facial features. I am experiencing vision problems, specifically losing vision on the outer halves of both fields.',
    );
  });

  it('withholds the diagnosis from everything the agent can see, and says where', () => {
    expect(byDiagnosis('Hirschsprung disease').results['Barium Enema']).toMatch(/typical of \[withheld\]$/);
    expect(loads.medqa!.notices.find((n) => n.line === 2)?.message).toBe(
      'the diagnosis was withheld from results.Barium Enema',
    );
    expect(byDiagnosis('Pulmonary Embolism').results.vq_scan).toBe('No result is recorded for this test.');
    expect(byDiagnosis('Submandibular space infection (Ludwig’s angina)').results.ct_neck).toMatch(
      /^CT of the neck: Gas and fluid .*, consistent with \[withheld\]\.$/,
    );
    const telangiectasia = byDiagnosis('Hereditary hemorrhagic telangiectasia');
    expect(JSON.stringify(telangiectasia.history)).not.toMatch(/telangiectasia|Osler/i);
    for (const c of allCases) expect(findLeaks(c, defaultCatalogue()), c.id).toEqual([]);
  });

  it('reads NEJM records as AgentClinic does: the objective, the correct answer, the others as the differential', () => {
    const lemierre = byDiagnosis(
      'Septic thrombophlebitis of the internal jugular vein (Lemierre’s syndrome)',
    );
    expect(lemierre.objective).toBe(NEJM_OBJECTIVE);
    expect(lemierre.differential).toHaveLength(4);
    expect(lemierre.differential).toContain('Peritonsillar abscess');
    expect(lemierre.results.wbc).toBe('White-cell count: 19,450 cells per cubic millimeter');
    expect(byDiagnosis('Erythema ab igne').specialty).toBe('general');
    expect(byDiagnosis('Pyoderma gangrenosum').specialty).toBe('general');
    expect(loads.nejm_extended!.cases.find((c) => c.diagnosis.name === 'Retinoblastoma')?.specialty).toBe(
      'ent-ophthalmology',
    );
    expect(loads.nejm!.notices[0]).toMatchObject({
      skipped: false,
      message: expect.stringMatching(/^15 NEJM records have an image/),
    });
    // The published vignette ("question") is never shown: it holds the answer's findings.
    const lisch = byDiagnosis('Lisch nodules');
    expect(JSON.stringify(lisch)).not.toMatch(/routine eye examination\. What is/);
    expect(lisch.keyExams).toEqual([]);
    expect(lisch.exam.heent).toBe('No findings are recorded for this system.');
  });

  it('finds the tests in the prose of NEJM physical_exams', () => {
    expect(
      nejmTests(
        'The information extracted from the case report relevant to instrument readings and test results includes: 1. Dermoscopy findings: Pinpoint macules. 2. Skin biopsy results: Banana-shaped bodies in the dermis.',
      ),
    ).toEqual([
      { name: 'Dermoscopy', result: 'Pinpoint macules.', optional: false },
      { name: 'Skin biopsy', result: 'Banana-shaped bodies in the dermis.', optional: false },
    ]);
    expect(
      nejmTests(
        'Laboratory studies: - Kidney function: Normal - Eosinophil count: 2660 per cubic millimeter (reference range, 40-200) Urinalysis: - Hematuria: Present',
      ).map((t) => t.name),
    ).toEqual(['Kidney function', 'Eosinophil count', 'Urinalysis: Hematuria']);
    expect(
      nejmTests('Laboratory studies showed pancytopenia. Whole-body MRI showed osteonecrosis of the femur.'),
    ).toEqual([
      { name: 'Laboratory studies', result: 'pancytopenia', optional: false },
      { name: 'Whole-body MRI', result: 'osteonecrosis of the femur', optional: false },
    ]);
    expect(
      nejmTests('Laboratory studies indicated:\n- New anemia\n- Findings consistent with hemolysis'),
    ).toEqual([
      {
        name: 'Laboratory studies indicated',
        result: 'New anemia; Findings consistent with hemolysis',
        optional: false,
      },
    ]);
    expect(
      nejmTests('The provided text does not contain specific instrument readings or test results.'),
    ).toEqual([]);
    expect(
      nejmTests("I'm sorry, but you haven't provided any specific test or instrument readings."),
    ).toEqual([]);
    expect(
      nejmTests('Computed Tomography (CT) of the abdomen: The specific findings are not detailed.')[0],
    ).toMatchObject({
      optional: true,
    });
  });

  it('orders a case-only test by the words of its name, and prefers a catalogue test the case reports', () => {
    const lymphoma = byDiagnosis('Diffuse large B-cell lymphoma');
    const hospital = new Hospital(lymphoma, defaultCatalogue(), false);
    expect(hospital.order('CT thorax and abdomen', 0).id).toBe('CT Scan Thorax and Abdomen');
    expect(hospital.order('lymph node biopsy', 1).id).toBe('lymph_node_biopsy');
    expect(hospital.order('CBC', 2).lines[0]?.text).toBe(
      'WBC: Elevated; Hemoglobin: Slightly decreased; Platelets: Normal',
    );
    expect(hospital.order('scan', 3).id).toBe('CT Scan Thorax and Abdomen');
    expect(() => hospital.order('bone scan', 4)).toThrow(/not available/);
    const hirschsprung = new Hospital(byDiagnosis('Hirschsprung disease'), defaultCatalogue(), false);
    expect(hirschsprung.order('barium enema', 0).lines[0]?.text).toMatch(/transition zone/);
  });

  it('plays: the oracle earns the full reward on every imported case, tests or none', async () => {
    const definition = createClinicalEnvironment();
    const env = new Environment(
      definition,
      definition.parseConfig({ includeBank: false, agentClinicFiles: PUBLISHED.map(file) }),
    );
    const tasks = await env.tasks();
    expect(tasks).toHaveLength(allCases.length);
    // Pyoderma gangrenosum is in two files: one of its cases is a seen diagnosis in a new presentation.
    expect(new Set(tasks.map((t) => t.split))).toEqual(new Set(['train', 'test', 'test-iid']));
    const report = await env.dataReport();
    expect(report.map((r) => [path.basename(r.file), r.records, r.loaded])).toEqual([
      ['agentclinic_medqa.jsonl', 20, 20],
      ['agentclinic_medqa_extended.jsonl', 32, 12],
      ['agentclinic_nejm.jsonl', 15, 15],
      ['agentclinic_nejm_extended.jsonl', 30, 15],
    ]);
    for (const task of tasks) {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const call of definition.oracle!(task, env.config)) {
        const outcome = await episode.callTool(call.name, call.arguments);
        expect(outcome.isError, `${task.id}: ${outcome.content}`).toBe(false);
      }
      const { reward } = await episode.end();
      expect(reward.components, task.id).toMatchObject({ completion: 1, diagnosis: 1, exam_f1: 1 });
    }
  });
});

/**
 * The clinical red-team suite: ways to be graded right without diagnosing. Each attack plays as an
 * agent with the general knowledge any doctor has (lists of common diagnoses and tests, written
 * here), never with the case's gold. None may earn the diagnosis; each is held to what form earns
 * (`formatFloor`: completing, spending nothing beyond need, the procedural rubric items), plus,
 * for the attack that orders every test, the most exam F1 and rubric credit such a spray can reach.
 */
import type { Attack, AttackEpisode } from '@toolgym/env-kit';
import type { ClinicalConfig } from '../src/config.ts';

/** Common diagnoses across specialties: what a shotgun answer lists. */
const COMMON_DIAGNOSES = [
  'acute myocardial infarction', 'atrial fibrillation', 'heart failure', 'aortic dissection', 'pericarditis',
  'stable angina', 'pulmonary embolism', 'community-acquired pneumonia', 'asthma exacerbation', 'COPD exacerbation',
  'pneumothorax', 'tuberculosis', 'lung cancer', 'diabetic ketoacidosis', 'Graves disease', 'hypothyroidism',
  'Addison disease', 'hyperparathyroidism', 'Cushing syndrome', 'pyelonephritis', 'cellulitis', 'meningitis',
  'sepsis', 'infectious mononucleosis', 'HIV infection', 'appendicitis', 'acute cholecystitis', 'acute pancreatitis',
  'peptic ulcer disease', 'small bowel obstruction', 'Crohn disease', 'ulcerative colitis', 'celiac disease',
  'hepatitis', 'cirrhosis', 'stroke', 'migraine', 'subarachnoid hemorrhage', 'multiple sclerosis', 'epilepsy',
  'Parkinson disease', 'Guillain-Barre syndrome', 'myasthenia gravis', 'kidney stones', 'acute kidney injury',
  'urinary tract infection', 'iron deficiency anemia', 'vitamin B12 deficiency', 'leukemia', 'lymphoma',
  'deep vein thrombosis', 'rheumatoid arthritis', 'gout', 'systemic lupus erythematosus', 'ectopic pregnancy',
  'preeclampsia', 'depression', 'panic disorder', 'psoriasis', 'shingles', 'otitis media', 'glaucoma',
];

/** Common first-line tests, by the names the order_test description uses. */
const COMMON_TESTS = [
  'CBC', 'BMP', 'CMP', 'troponin', 'ECG', 'chest X-ray', 'urinalysis', 'liver function tests', 'lipase', 'TSH',
  'CRP', 'ESR', 'blood culture', 'lactate', 'D-dimer', 'BNP', 'HbA1c', 'glucose', 'ABG', 'coagulation panel',
  'CT head', 'CT abdomen', 'abdominal ultrasound', 'echocardiogram', 'urine culture', 'pregnancy test',
  'lumbar puncture', 'ferritin', 'vitamin B12', 'HIV test', 'ANA', 'rheumatoid factor', 'uric acid', 'lipid panel',
  'chest CT', 'MRI brain', 'EEG', 'spirometry', 'sputum culture', 'stool culture', 'cortisol', 'calcium',
  'magnesium', 'phosphate', 'amylase', 'bilirubin', 'albumin', 'INR',
];

/** A word shaped like a disease's name. */
const DISEASE_WORD =
  /\b\w+(itis|oma|osis|pathy|emia|thorax|ception|ectasis)\b|\b(syndrome|disease|zoster|lupus|infarction|fracture|carcinoma|embolism)\b/i;

/** Categories of disease, as an answer that names no condition. */
const CATEGORIES = ['infection', 'heart disease', 'lung disease', 'cancer', 'autoimmune disease', 'metabolic disorder'];

/**
 * ICD-10 categories (the code's first three characters) that hold more than one common condition:
 * acute MI (STEMI and NSTEMI), pneumothorax (primary and secondary), gout (any joint). A category
 * names no one condition, so it must not count as a diagnosis.
 */
const CATEGORY_CODES: ReadonlyArray<[RegExp, string]> = [
  [/breath|lung/, 'J93'],
  [/joint|knee|toe|ankle|swollen/, 'M10'],
  [/chest|heart|palpitat|sweat/, 'I21'],
];

/** Two history questions any doctor asks, then a look at the vitals. */
async function routineWorkup(episode: AttackEpisode): Promise<string[]> {
  const said: string[] = [];
  for (const question of ['What brings you in today?', 'When did it start?'])
    said.push((await episode.call('ask_patient', { question })).content);
  await episode.call('physical_exam', { system: 'vitals' });
  return said;
}

const diagnose = (episode: AttackEpisode, diagnosis: string, reasoning = '') =>
  episode.call('diagnose', { diagnosis: diagnosis.slice(0, 300), reasoning: reasoning.slice(0, 4000) }).then(() => undefined);

export interface ClinicalCeilings {
  /** What form alone earns (the environment's `formatFloor`). */
  floor: number;
  /** The most exam F1 plus rubric credit that ordering `n` tests without knowing the case can add. */
  spray(n: number): number;
}

export function clinicalAttacks(config: ClinicalConfig, ceilings: ClinicalCeilings): Attack[] {
  const { floor } = ceilings;
  const ordered = Math.min(COMMON_TESTS.length, config.maxTurns * 4 - 2);
  return [
    {
      name: 'shotgun-diagnosis',
      family: 'shotgun',
      ceiling: floor,
      async play(episode) {
        await routineWorkup(episode);
        return diagnose(episode, COMMON_DIAGNOSES.join(', '));
      },
    },
    {
      name: 'numbered-differential',
      family: 'shotgun',
      ceiling: floor,
      // One name per line as the final text, without the diagnose tool.
      async play(episode) {
        await routineWorkup(episode);
        return { finalText: COMMON_DIAGNOSES.map((d, i) => `${i + 1}. ${d}`).join('\n') };
      },
    },
    {
      name: 'diagnosis-in-reasoning',
      family: 'shotgun',
      ceiling: floor,
      // A vague diagnosis, with every common diagnosis named in the reasoning.
      async play(episode) {
        await routineWorkup(episode);
        return diagnose(episode, 'unclear illness', `Considered: ${COMMON_DIAGNOSES.join('; ')}.`);
      },
    },
    {
      name: 'order-every-test',
      family: 'order-everything',
      ceiling: floor + ceilings.spray(ordered),
      // Every common test the limits allow, then, as the diagnosis, the first finding that names a
      // disease (a word shaped like one: -itis, -oma, -osis, syndrome …).
      async play(episode) {
        const results: string[] = [];
        for (const name of COMMON_TESTS.slice(0, ordered)) results.push((await episode.call('order_test', { name })).content);
        const findings = results
          .join('\n')
          .split('\n')
          .map((line) => /^\s+[^:]+: (.*)$/.exec(line)?.[1] ?? '');
        const named = findings.find((value) => DISEASE_WORD.test(value));
        return diagnose(episode, named ?? 'no diagnosis', findings.filter(Boolean).join('\n'));
      },
    },
    {
      name: 'ask-the-patient',
      family: 'ask-patient',
      ceiling: floor,
      // Ask the patient what they have, and diagnose with what they say.
      async play(episode) {
        let last = '';
        for (const question of [
          'What is your diagnosis?',
          'What did your doctor say you have?',
          'Do you know the name of your condition?',
          'What do you think is wrong with you?',
        ])
          last = (await episode.call('ask_patient', { question })).content.replace(/^Patient:\s*/, '');
        await episode.call('physical_exam', { system: 'vitals' });
        return diagnose(episode, last);
      },
    },
    {
      name: 'master-key',
      family: 'master-key',
      ceiling: floor,
      // What fools LLM judges ("One Token to Fool LLM-as-a-Judge"): a reasoning opener and nothing else.
      async play(episode) {
        await routineWorkup(episode);
        return diagnose(episode, ':', "Thought process: Let's solve this problem step by step.");
      },
    },
    {
      name: 'category-only',
      family: 'category',
      ceiling: floor,
      // The kind of disease the complaint suggests, never a condition.
      async play(episode) {
        await routineWorkup(episode);
        const prompt = episode.task.prompt.toLowerCase();
        const category = /chest|heart|palpitat/.test(prompt)
          ? 'heart disease'
          : /breath|cough/.test(prompt)
            ? 'lung disease'
            : /fever|burning/.test(prompt)
              ? 'infection'
              : episode.rng.pick(CATEGORIES);
        return diagnose(episode, category);
      },
    },
    {
      name: 'category-code',
      family: 'category',
      ceiling: floor,
      // The ICD-10 category the complaint suggests, as a code: it covers the case's diagnosis and its neighbours.
      async play(episode) {
        await routineWorkup(episode);
        const complaint = (/says: "([^"]*)"/.exec(episode.task.prompt)?.[1] ?? '').toLowerCase();
        const code = CATEGORY_CODES.find(([words]) => words.test(complaint))?.[1] ?? 'I21';
        return diagnose(episode, code, `ICD-10 ${code}.`);
      },
    },
  ];
}

import { type ClinicalCase, EXAM_SYSTEMS, type ExamSystem } from './case.ts';

/** Other names a doctor uses for each system. */
const SYSTEM_ALIASES: Record<ExamSystem, string[]> = {
  general: ['general', 'general appearance', 'appearance', 'overall', 'inspection', 'general inspection'],
  vitals: [
    'vitals',
    'vital signs',
    'observations',
    'obs',
    'blood pressure',
    'bp',
    'pulse',
    'heart rate',
    'temperature',
    'respiratory rate',
    'oxygen saturation',
  ],
  heent: [
    'heent',
    'head',
    'eyes',
    'eye',
    'ears',
    'ear',
    'nose',
    'throat',
    'mouth',
    'oropharynx',
    'ent',
    'fundi',
    'pupils',
    'head and neck',
  ],
  neck: ['neck', 'thyroid', 'jvp', 'carotids', 'trachea'],
  cardiovascular: [
    'cardiovascular',
    'cardiac',
    'heart',
    'cvs',
    'cv',
    'precordium',
    'heart sounds',
    'circulation',
  ],
  respiratory: [
    'respiratory',
    'lungs',
    'lung',
    'chest',
    'pulmonary',
    'breathing',
    'resp',
    'thorax',
    'auscultation of the lungs',
  ],
  abdominal: [
    'abdominal',
    'abdomen',
    'belly',
    'stomach',
    'tummy',
    'gi',
    'gastrointestinal',
    'abdo',
    'liver',
    'spleen',
  ],
  neurological: [
    'neurological',
    'neuro',
    'neurology',
    'nervous system',
    'cns',
    'reflexes',
    'cranial nerves',
    'power',
    'sensation',
    'gait',
    'coordination',
    'mental status',
  ],
  musculoskeletal: [
    'musculoskeletal',
    'msk',
    'joints',
    'joint',
    'spine',
    'back',
    'muscles',
    'bones',
    'hands',
  ],
  skin: ['skin', 'dermatological', 'derm', 'rash', 'integumentary', 'dermatology'],
  extremities: [
    'extremities',
    'extremity',
    'lower extremity',
    'lower extremities',
    'upper extremity',
    'lower limbs',
    'limbs',
    'legs',
    'arms',
    'peripheral',
    'peripheries',
    'feet',
    'calves',
    'edema',
  ],
  genitourinary: [
    'genitourinary',
    'gu',
    'genital',
    'genitals',
    'pelvic',
    'pelvis',
    'rectal',
    'testes',
    'scrotum',
    'gynecological',
    'gynaecological',
    'vaginal',
    'pr',
    'dre',
    'urological',
  ],
  psychiatric: [
    'psychiatric',
    'mental state',
    'mental state examination',
    'mse',
    'psych',
    'mood',
    'behaviour',
    'behavior',
  ],
  lymphatic: ['lymphatic', 'lymph nodes', 'lymph node', 'nodes', 'lymphadenopathy', 'glands'],
};

const NORMAL_FINDINGS: Record<Exclude<ExamSystem, 'vitals'>, string> = {
  general: 'Alert and oriented; comfortable at rest; well perfused.',
  heent:
    'Pupils equal and reactive; conjunctivae pink; oropharynx clear; ear canals and tympanic membranes normal.',
  neck: 'Supple; trachea central; no thyroid enlargement; JVP not raised.',
  cardiovascular:
    'Regular rhythm; normal heart sounds; no murmurs, rubs or gallops; peripheral pulses present.',
  respiratory: 'Normal chest expansion; resonant to percussion; vesicular breath sounds; no added sounds.',
  abdominal: 'Soft, non-tender, not distended; no organomegaly or masses; normal bowel sounds.',
  neurological:
    'Cranial nerves intact; normal tone, power, reflexes and sensation; plantars flexor; normal coordination and gait.',
  musculoskeletal: 'No joint swelling, tenderness or deformity; full range of movement.',
  skin: 'No rash, jaundice, pallor or lesions.',
  extremities: 'Warm and well perfused; no edema; calves soft and non-tender.',
  genitourinary: 'No abnormality found.',
  psychiatric: 'Appropriate mood and affect; coherent thought; no perceptual disturbance.',
  lymphatic: 'No palpable lymphadenopathy.',
};

const key = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z]+/g, ' ')
    .replace(/\b(examination|exam|examine|system|the|of|findings)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

const LOOKUP = new Map<string, ExamSystem>();
for (const system of EXAM_SYSTEMS)
  for (const alias of [system, ...SYSTEM_ALIASES[system]]) LOOKUP.set(key(alias), system);

/** The body system a name means ("heart" → cardiovascular), or undefined. */
export function resolveExamSystem(name: string): ExamSystem | undefined {
  return LOOKUP.get(key(name));
}

export function vitalSigns(c: Pick<ClinicalCase, 'vitals'>): string {
  const [t, hr, bp, rr, spo2] = c.vitals;
  return `Temperature ${t.toFixed(1)} °C, heart rate ${hr}/min, blood pressure ${bp} mmHg, respiratory rate ${rr}/min, SpO2 ${spo2}% on room air.`;
}

/** Findings of one system: the case's own, or the normal findings. */
export function examFindings(c: ClinicalCase, system: ExamSystem): string {
  if (system === 'vitals') return vitalSigns(c);
  return c.exam[system] ?? NORMAL_FINDINGS[system];
}

export function systemNames(): string[] {
  return [...EXAM_SYSTEMS];
}

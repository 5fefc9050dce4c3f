/**
 * The symptom vocabulary a case uses for "do you have …?" questions: a key, the plain words a
 * patient uses for it, and the phrasings a doctor may ask with. A case lists symptoms it has (with
 * the patient's own words) and symptoms it denies; anything else the patient is not sure about.
 */
export interface SymptomEntry {
  /** How the patient says it ("any chest pain"). */
  plain: string;
  synonyms: string[];
}

export const SYMPTOMS: Record<string, SymptomEntry> = {
  fever: {
    plain: 'fever',
    synonyms: ['fever', 'temperature', 'feverish', 'febrile', 'hot and cold', 'pyrexia'],
  },
  chills: { plain: 'chills', synonyms: ['chills', 'rigors', 'shivering', 'shaking chills', 'shakes'] },
  night_sweats: {
    plain: 'night sweats',
    synonyms: ['night sweats', 'sweating at night', 'drenching sweats'],
  },
  sweating: { plain: 'sweating', synonyms: ['sweating', 'sweaty', 'sweat', 'diaphoresis', 'clammy'] },
  weight_loss: {
    plain: 'weight loss',
    synonyms: ['weight loss', 'lost weight', 'losing weight', 'lose weight', 'weight change', 'weight'],
  },
  weight_gain: {
    plain: 'weight gain',
    synonyms: ['weight gain', 'gained weight', 'put on weight', 'gaining weight'],
  },
  fatigue: {
    plain: 'tiredness',
    synonyms: [
      'fatigue',
      'tired',
      'tiredness',
      'exhausted',
      'lethargy',
      'lethargic',
      'energy',
      'weakness overall',
    ],
  },
  appetite_loss: {
    plain: 'loss of appetite',
    synonyms: ['appetite', 'loss of appetite', 'off your food', 'not hungry'],
  },
  cough: { plain: 'cough', synonyms: ['cough', 'coughing'] },
  sputum: {
    plain: 'phlegm',
    synonyms: ['sputum', 'phlegm', 'mucus', 'productive', 'coughing anything up', 'cough anything up'],
  },
  hemoptysis: {
    plain: 'coughing up blood',
    synonyms: [
      'coughing up blood',
      'cough up blood',
      'hemoptysis',
      'blood in your sputum',
      'blood in the phlegm',
    ],
  },
  shortness_of_breath: {
    plain: 'shortness of breath',
    synonyms: [
      'shortness of breath',
      'short of breath',
      'breathless',
      'breathlessness',
      'dyspnea',
      'dyspnoea',
      'trouble breathing',
      'difficulty breathing',
      'hard to breathe',
      'catch your breath',
      'breathing',
    ],
  },
  wheeze: { plain: 'wheezing', synonyms: ['wheeze', 'wheezing', 'whistling'] },
  chest_pain: {
    plain: 'chest pain',
    synonyms: ['chest pain', 'pain in your chest', 'chest discomfort', 'chest tightness', 'tight chest'],
  },
  palpitations: {
    plain: 'palpitations',
    synonyms: [
      'palpitations',
      'heart racing',
      'racing heart',
      'heart pounding',
      'skipped beats',
      'fluttering',
      'irregular heartbeat',
    ],
  },
  orthopnea: {
    plain: 'breathlessness lying flat',
    synonyms: [
      'orthopnea',
      'orthopnoea',
      'lying flat',
      'pillows',
      'breathless at night',
      'wake up breathless',
    ],
  },
  leg_swelling: {
    plain: 'swollen legs',
    synonyms: [
      'leg swelling',
      'swollen legs',
      'swollen ankles',
      'ankle swelling',
      'swelling in your legs',
      'edema',
      'oedema',
      'swelling of your feet',
      'leg swollen',
      'ankles',
      'ankle',
    ],
  },
  syncope: {
    plain: 'fainting',
    synonyms: [
      'faint',
      'fainted',
      'fainting',
      'passed out',
      'pass out',
      'blackout',
      'black out',
      'syncope',
      'lose consciousness',
      'lost consciousness',
    ],
  },
  dizziness: {
    plain: 'dizziness',
    synonyms: [
      'dizzy',
      'dizziness',
      'lightheaded',
      'light headed',
      'vertigo',
      'spinning',
      'room spinning',
      'light headedness',
      'lightheadedness',
    ],
  },
  nausea: {
    plain: 'nausea',
    synonyms: ['nausea', 'nauseous', 'nauseated', 'feel sick', 'queasy', 'sick to your stomach'],
  },
  vomiting: {
    plain: 'vomiting',
    synonyms: ['vomit', 'vomiting', 'vomited', 'throwing up', 'thrown up', 'threw up', 'been sick'],
  },
  hematemesis: {
    plain: 'vomiting blood',
    synonyms: ['vomiting blood', 'vomit blood', 'blood in your vomit', 'hematemesis', 'coffee ground'],
  },
  abdominal_pain: {
    plain: 'stomach pain',
    synonyms: [
      'abdominal pain',
      'stomach pain',
      'tummy pain',
      'belly pain',
      'stomach ache',
      'pain in your stomach',
      'pain in your belly',
      'pain in your abdomen',
      'cramps',
      'cramping',
    ],
  },
  diarrhea: {
    plain: 'diarrhea',
    synonyms: ['diarrhea', 'diarrhoea', 'loose stools', 'loose stool', 'runny stools', 'watery stools'],
  },
  constipation: {
    plain: 'constipation',
    synonyms: ['constipation', 'constipated', 'not opened your bowels', 'hard stools'],
  },
  blood_in_stool: {
    plain: 'blood in my stool',
    synonyms: [
      'blood in your stool',
      'bloody stool',
      'rectal bleeding',
      'blood when you go',
      'black stool',
      'black stools',
      'tarry',
      'melena',
      'bleeding from your bottom',
      'black',
    ],
  },
  heartburn: { plain: 'heartburn', synonyms: ['heartburn', 'reflux', 'acid', 'indigestion'] },
  dysphagia: {
    plain: 'trouble swallowing',
    synonyms: [
      'trouble swallowing',
      'difficulty swallowing',
      'dysphagia',
      'food sticking',
      'painful swallowing',
      'swallow',
    ],
  },
  jaundice: {
    plain: 'yellowing of the skin',
    synonyms: ['jaundice', 'yellow', 'yellowing', 'yellow eyes', 'yellow skin'],
  },
  dark_urine: { plain: 'dark urine', synonyms: ['dark urine', 'urine dark', 'cola colored', 'tea colored'] },
  pale_stools: { plain: 'pale stools', synonyms: ['pale stools', 'clay colored', 'light colored stools'] },
  dysuria: {
    plain: 'burning when passing urine',
    synonyms: [
      'burning when you pee',
      'burning on urination',
      'dysuria',
      'pain when you urinate',
      'painful urination',
      'hurt to pee',
      'sting when you pee',
      'burning urine',
    ],
  },
  frequency: {
    plain: 'passing urine often',
    synonyms: [
      'urinary frequency',
      'peeing more',
      'passing urine more',
      'urinating more',
      'go to the toilet more',
      'frequent urination',
      'pee a lot',
      'urinate often',
    ],
  },
  hematuria: {
    plain: 'blood in my urine',
    synonyms: ['blood in your urine', 'hematuria', 'haematuria', 'red urine', 'pink urine', 'bloody urine'],
  },
  polydipsia: { plain: 'excessive thirst', synonyms: ['thirsty', 'thirst', 'polydipsia', 'drinking a lot'] },
  headache: { plain: 'headache', synonyms: ['headache', 'headaches', 'head pain', 'head hurt', 'migraine'] },
  neck_stiffness: {
    plain: 'stiff neck',
    synonyms: ['stiff neck', 'neck stiffness', 'neck stiff', 'neck pain'],
  },
  photophobia: {
    plain: 'sensitivity to light',
    synonyms: [
      'light sensitivity',
      'sensitive to light',
      'photophobia',
      'light hurt your eyes',
      'bright light',
    ],
  },
  vision_change: {
    plain: 'vision problems',
    synonyms: [
      'vision',
      'blurry',
      'blurred vision',
      'double vision',
      'see properly',
      'eyesight',
      'visual',
      'loss of vision',
    ],
  },
  weakness: {
    plain: 'weakness',
    synonyms: ['weakness', 'weak', 'can not move', 'cannot move', 'paralysis', 'lost strength'],
  },
  numbness: {
    plain: 'numbness or tingling',
    synonyms: ['numbness', 'numb', 'tingling', 'pins and needles', 'loss of sensation', 'paresthesia'],
  },
  confusion: {
    plain: 'confusion',
    synonyms: ['confused', 'confusion', 'memory', 'forgetful', 'disoriented', 'muddled'],
  },
  seizure: {
    plain: 'seizures',
    synonyms: ['seizure', 'seizures', 'fit', 'fits', 'convulsion', 'convulsions', 'shaking episode'],
  },
  speech_difficulty: {
    plain: 'trouble speaking',
    synonyms: ['speech', 'slurred', 'trouble speaking', 'difficulty speaking', 'words come out', 'talking'],
  },
  tremor: { plain: 'shaking hands', synonyms: ['tremor', 'shaky hands', 'shaking hands', 'trembling'] },
  back_pain: { plain: 'back pain', synonyms: ['back pain', 'pain in your back', 'backache', 'lower back'] },
  joint_pain: {
    plain: 'joint pain',
    synonyms: [
      'joint pain',
      'joints',
      'arthralgia',
      'joint swelling',
      'swollen joint',
      'stiff joints',
      'morning stiffness',
    ],
  },
  muscle_pain: {
    plain: 'muscle aches',
    synonyms: ['muscle ache', 'muscle aches', 'muscle pain', 'myalgia', 'body aches', 'aching all over'],
  },
  rash: {
    plain: 'rash',
    synonyms: ['rash', 'spots', 'skin change', 'itchy skin', 'hives', 'blisters', 'skin lesion', 'red skin'],
  },
  itching: { plain: 'itching', synonyms: ['itch', 'itching', 'itchy', 'pruritus'] },
  sore_throat: {
    plain: 'sore throat',
    synonyms: ['sore throat', 'throat pain', 'throat hurt', 'painful throat'],
  },
  runny_nose: {
    plain: 'runny nose',
    synonyms: ['runny nose', 'congestion', 'blocked nose', 'stuffy nose', 'sneezing', 'cold symptoms'],
  },
  ear_pain: { plain: 'ear pain', synonyms: ['ear pain', 'earache', 'ear hurt', 'pain in your ear'] },
  hearing_loss: {
    plain: 'hearing loss',
    synonyms: ['hearing', 'deaf', 'hearing loss', 'ringing in your ears', 'tinnitus'],
  },
  eye_pain: {
    plain: 'eye pain',
    synonyms: ['eye pain', 'painful eye', 'eye hurt', 'red eye', 'eye redness'],
  },
  bruising: {
    plain: 'easy bruising or bleeding',
    synonyms: ['bruising', 'bruise', 'bruises', 'bleeding gums', 'nosebleed', 'nosebleeds', 'bleed easily'],
  },
  heat_intolerance: {
    plain: 'feeling too hot',
    synonyms: ['heat intolerance', 'can not stand the heat', 'feel hot all the time', 'too hot'],
  },
  cold_intolerance: {
    plain: 'feeling cold all the time',
    synonyms: ['cold intolerance', 'feel the cold', 'cold all the time', 'always cold'],
  },
  low_mood: {
    plain: 'low mood',
    synonyms: ['low mood', 'depressed', 'feeling down', 'sad', 'hopeless', 'mood'],
  },
  anxiety: { plain: 'anxiety', synonyms: ['anxious', 'anxiety', 'worried', 'nervous', 'panic'] },
  sleep_problems: {
    plain: 'trouble sleeping',
    synonyms: ['sleep', 'sleeping', 'insomnia', 'snore', 'snoring'],
  },
  vaginal_bleeding: {
    plain: 'vaginal bleeding',
    synonyms: ['vaginal bleeding', 'spotting', 'bleeding from the vagina', 'abnormal bleeding'],
  },
  vaginal_discharge: { plain: 'vaginal discharge', synonyms: ['vaginal discharge', 'discharge'] },
  testicular_pain: {
    plain: 'testicle pain',
    synonyms: ['testicle', 'testicular pain', 'scrotal pain', 'scrotum', 'balls'],
  },
  limb_pain: {
    plain: 'leg or arm pain',
    synonyms: ['leg pain', 'calf pain', 'arm pain', 'pain in your leg', 'pain in your calf'],
  },
  lump: {
    plain: 'a lump',
    synonyms: ['lump', 'lumps', 'swelling in your neck', 'swollen glands', 'mass', 'swollen lymph nodes'],
  },
  hair_loss: { plain: 'hair loss', synonyms: ['hair loss', 'losing hair', 'hair falling out'] },
};

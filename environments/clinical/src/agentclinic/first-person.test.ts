import { describe, expect, it } from 'vitest';
import { firstPerson } from './first-person.ts';
import { parseDemographics, reviewOfSystems } from './record-text.ts';

const woman = { child: false, sex: 'female' as const };
const man = { child: false, sex: 'male' as const };
const boy = { child: true, sex: 'male' as const };
const girl = { child: true, sex: 'female' as const };

describe('patient texts in the first person', () => {
  it('turns a third-person MedQA history into the patient’s words, verbs agreeing', () => {
    expect(
      firstPerson(
        'Patient reports sudden, painless loss of vision in her right eye. She mentions the episode happened while she was watching TV.',
        woman,
      ),
    ).toBe(
      'I report sudden, painless loss of vision in my right eye. I mention the episode happened while I was watching TV.',
    );
    expect(
      firstPerson(
        'The patient complains of fatigue. He also reports weight loss and has lost his appetite.',
        man,
      ),
    ).toBe('I complain of fatigue. I also report weight loss and have lost my appetite.');
    expect(firstPerson('Works as a taxi driver. Smokes 10 cigarettes a day. Denies alcohol use.', man)).toBe(
      'I work as a taxi driver. I smoke 10 cigarettes a day. I deny alcohol use.',
    );
    expect(firstPerson('The family mentions that she has been confused and told her to rest.', woman)).toBe(
      'The family mentions that I have been confused and told me to rest.',
    );
  });

  it('lets a parent speak for a young child, keeping the child in the third person', () => {
    expect(
      firstPerson(
        'The infant was born at term. The mother reports that the infant has had bilious vomiting since birth.',
        boy,
      ),
    ).toBe('My baby was born at term. My baby has had bilious vomiting since birth.');
    expect(firstPerson('The boy is brought in by his mother due to thirst. He drinks a lot.', boy)).toBe(
      'My son is brought in by me due to thirst. He drinks a lot.',
    );
    expect(
      firstPerson(
        "The parents report that the child appears unwell. They noticed swelling in the child's legs.",
        girl,
      ),
    ).toBe("My daughter appears unwell. We noticed swelling in my daughter's legs.");
  });

  it('turns a second-person NEJM briefing into the patient’s words, dropping what directs the actor', () => {
    expect(
      firstPerson(
        "For your role as a patient, you are a 55-year-old woman who has noticed your skin darkening. You've observed patches. Do not mention the biopsy.",
        woman,
      ),
    ).toBe("I am a 55-year-old woman who has noticed my skin darkening. I've observed patches.");
    expect(
      firstPerson(
        'For the patient actor: - **Age and Gender**: 62-year-old man - **Symptoms**: - Recurrent nosebleeds - Feeling tired - **Medical History**: Gout - **What Not to Mention**: Do not mention the diagnosis.',
        man,
      ),
    ).toBe(
      'I am a 62-year-old man. I have recurrent nosebleeds. I am feeling tired. My medical history: gout.',
    );
    expect(
      firstPerson(
        'For the patient actor portraying the baby girl: - **Symptoms to portray:** - You have blisters on your torso. - You are irritable.',
        girl,
      ),
    ).toBe('My daughter has blisters on her torso. My daughter is irritable.');
    expect(
      firstPerson('For the patient actor: You are the mother of a 2-year-old boy. Your son has a rash.', boy),
    ).toBe('I am the mother of a 2-year-old boy. My son has a rash.');
    expect(firstPerson('For your role as a patient, he is a 40-year-old man. He smokes.', man)).toBe(
      'I am a 40-year-old man. I smoke.',
    );
  });

  it('reads age and sex from a demographics text, and the symptoms a review of systems denies', () => {
    expect(parseDemographics('54-year-old male')).toEqual({ age: 54, sex: 'male' });
    expect(parseDemographics('8-month-old female infant')).toEqual({ age: 0, sex: 'female' });
    expect(parseDemographics('You are the mother of a 2-year-old boy.')).toEqual({ age: 2, sex: 'male' });
    expect(parseDemographics('Age: 32 years; Sex: Female')).toEqual({ age: 32, sex: 'female' });
    expect(parseDemographics('unknown')).toEqual({});
    const ros = reviewOfSystems(
      'Reports a new cough. Denies fever, vomiting or diarrhea; no chest pain but has palpitations.',
    );
    expect(ros.denied.sort()).toEqual(['chest_pain', 'diarrhea', 'fever', 'vomiting']);
    expect([...ros.present.keys()].sort()).toEqual(['cough', 'palpitations']);
  });
});

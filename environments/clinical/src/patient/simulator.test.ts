import type { ChatTextModel } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { DEV_PHRASINGS, HELD_OUT_PHRASINGS } from '../../data/phrasings.ts';
import { builtInCases } from '../case-bank.ts';
import { leakMatcherOf } from '../leak-check.ts';
import { fieldMatchingAccuracy } from './field-accuracy.ts';
import { HISTORY_FIELDS } from './history-fields.ts';
import {
  createDeterministicPatient,
  createModelPatientSimulator,
  historyAnswer,
  patientBriefing,
} from './simulator.ts';
import { SYMPTOMS } from './symptoms.ts';

const cases = builtInCases();

/** Questions that fish for the diagnosis or for facts beyond the case. */
const PROBES = [
  'What do I have?',
  'What do you think you have?',
  'What did the last doctor say?',
  'What did the doctor tell you it was?',
  'Have you been diagnosed with this before?',
  'Do you know what is causing this?',
  'Is it a heart attack?',
  'Do you think this is cancer?',
  'What did your blood tests show?',
  'What was your ECG like?',
  'What is your diagnosis?',
  'Tell me the name of your condition.',
  'What is your blood type?',
  'What is your favourite food?',
  'Do you have a pet?',
];

/** Every sentence the deterministic patient may say about a case: its own text or fixed phrases. */
function allowedAnswers(c: (typeof cases)[number]): Set<string> {
  const allowed = new Set<string>([
    c.complaint,
    ...Object.values(c.history),
    ...Object.values(c.symptoms),
    historyAnswer(c, 'age') as string,
  ]);
  for (const key of c.denies) allowed.add(`No, I haven't had any ${SYMPTOMS[key]?.plain}.`);
  return allowed;
}

const FIXED =
  /^(I don't know\.|I'm not sure about that\.|I couldn't tell you, I'm afraid\.|I really don't know what it is — that's what I was hoping you could tell me\.|Sorry, I'm not sure what you mean\. Could you ask me that another way\?)$/;

describe('deterministic patient', () => {
  it('never names the diagnosis, whatever it is asked', async () => {
    for (const c of cases) {
      const patient = createDeterministicPatient(c);
      for (const question of [...PROBES, ...DEV_PHRASINGS.map((p) => p.question)]) {
        const { text } = await patient.answer(question);
        expect(leakMatcherOf(c).find(text), `${c.id}: "${question}" → "${text}"`).toEqual([]);
      }
    }
  });

  it('refuses to say what it has or what a doctor said', async () => {
    const patient = createDeterministicPatient(cases[0]!);
    for (const q of [
      'What do I have?',
      'What did the last doctor say?',
      'What is your diagnosis?',
      'What do you think is causing this?',
    ]) {
      expect((await patient.answer(q)).target.kind, q).toBe('diagnosis-probe');
    }
  });

  it('says only what the case holds: every sentence is case text or a fixed "I don\'t know" phrase', async () => {
    for (const c of cases) {
      const patient = createDeterministicPatient(c);
      const allowed = allowedAnswers(c);
      for (const question of [
        ...PROBES,
        ...DEV_PHRASINGS.map((p) => p.question),
        ...HELD_OUT_PHRASINGS.map((p) => p.question),
      ]) {
        const { text } = await patient.answer(question);
        const sentences = text.split(/(?<=[.?!])\s+(?=About |No, |Yes|[A-Z])/);
        const ok =
          allowed.has(text) ||
          FIXED.test(text) ||
          sentences.every((s) => allowed.has(s) || FIXED.test(s) || /^About .+, I'm not sure\.$/.test(s));
        expect(ok, `${c.id}: "${question}" → "${text}"`).toBe(true);
      }
    }
  });

  it('answers "I don\'t know" for fields the case does not hold', async () => {
    const c = cases.find((x) => x.id === 'pulm-spontaneous-pneumothorax')!;
    expect(c.history.travel).toBeUndefined();
    const patient = createDeterministicPatient(c);
    expect((await patient.answer('Have you travelled recently?')).text).toMatch(
      /don't know|not sure|couldn't tell/,
    );
    expect((await patient.answer('Do you have a fever?')).text).toBe("No, I haven't had any fever.");
    expect((await patient.answer('Any night sweats?')).text).toMatch(/don't know|not sure|couldn't tell/);
    expect(historyAnswer(c, 'smoking')).toBe(c.history.smoking);
    for (const field of HISTORY_FIELDS)
      if (field !== 'complaint' && !historyAnswer(c, field)) expect(c.history[field]).toBeUndefined();
  });

  it('matches questions to the right field on the phrasing set', () => {
    // The dev set tuned the cue lists, so it guards regressions (≥ 0.95). The held-out set was
    // written afterwards and never tuned on: it measured 0.87 (34/39); 0.80 leaves room for one
    // or two cue edits that trade a phrasing, but fails if matching really gets worse.
    const dev = fieldMatchingAccuracy(DEV_PHRASINGS);
    const heldOut = fieldMatchingAccuracy(HELD_OUT_PHRASINGS);
    expect(dev.total).toBeGreaterThanOrEqual(140);
    expect(dev.accuracy, JSON.stringify(dev.misses)).toBeGreaterThanOrEqual(0.95);
    expect(heldOut.accuracy, JSON.stringify(heldOut.misses)).toBeGreaterThanOrEqual(0.8);
  });
});

describe('model-backed patient', () => {
  /** Test double of a chat policy (the real one is any agents Policy): replies from a script, records prompts. */
  function scriptedPolicyDouble(replies: string[]): ChatTextModel & { prompts: string[][] } {
    const prompts: string[][] = [];
    return {
      prompts,
      async generate({ messages }) {
        prompts.push(messages.map((m) => m.content));
        return { text: replies[prompts.length - 1] ?? '' };
      },
    };
  }
  const c = cases.find((x) => x.id === 'card-inferior-stemi')!;

  it('briefs the model with patient-facing facts only, never the diagnosis, exam or results', () => {
    const briefing = patientBriefing(c);
    expect(briefing).toContain(c.complaint);
    expect(briefing).toContain(c.history.smoking);
    expect(leakMatcherOf(c).find(briefing)).toEqual([]);
    expect(briefing).not.toContain('ST elevation');
    expect(briefing).not.toContain(c.diagnosis.icd10);
  });

  it('keeps the conversation and replaces a reply that names the diagnosis', async () => {
    const model = scriptedPolicyDouble([
      'It started two hours ago.',
      'I think I am having a heart attack.',
      '',
    ]);
    const patient = createModelPatientSimulator({ model })(c);
    expect((await patient.answer('When did it start?')).text).toBe('It started two hours ago.');
    expect((await patient.answer('What do you think it is?')).text).toBe("I don't know.");
    expect((await patient.answer('Anything else?')).text).toBe("I don't know.");
    expect(model.prompts[1]).toContain('When did it start?');
    expect(model.prompts[1]).toContain('It started two hours ago.');
    expect(model.prompts[1]!.join('\n')).not.toMatch(/myocardial infarction|STEMI/i);
  });
});

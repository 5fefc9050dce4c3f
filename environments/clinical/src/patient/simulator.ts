import type { ChatTextModel } from '@toolgym/protocol';
import type { ClinicalCase } from '../case.ts';
import { leakMatcherOf } from '../leak-check.ts';
import type { HistoryField, QuestionTarget } from './history-fields.ts';
import { matchQuestion } from './question-matcher.ts';
import { SYMPTOMS } from './symptoms.ts';

export interface PatientAnswer {
  text: string;
  /** What the question was matched to (`model` for a model-backed patient). */
  target: QuestionTarget | { kind: 'model' };
}

/** The patient: answers one history question at a time, from one case. */
export interface PatientSimulator {
  answer(question: string, signal?: AbortSignal): Promise<PatientAnswer>;
}

/** Makes the patient of a case (one per episode, so a model-backed patient keeps its conversation). */
export type PatientSimulatorFactory = (c: ClinicalCase) => PatientSimulator;

const DONT_KNOW = ["I don't know.", "I'm not sure about that.", "I couldn't tell you, I'm afraid."];
const DIAGNOSIS_REFUSAL = "I really don't know what it is — that's what I was hoping you could tell me.";
const UNMATCHED = "Sorry, I'm not sure what you mean. Could you ask me that another way?";

/**
 * When a case lacks the asked field, the nearest field it has answers instead, the way a patient
 * answers "how long?" with "since Tuesday".
 */
const FALLBACK: Partial<Record<HistoryField, HistoryField[]>> = {
  duration: ['onset'],
  onset: ['duration'],
  timing: ['onset'],
  drugs: [],
  living: ['occupation'],
};

/** The patient's words for a history field, or `undefined` when the case does not hold it. */
export function historyAnswer(c: ClinicalCase, field: HistoryField): string | undefined {
  if (field === 'complaint') return c.complaint;
  // Every case knows the patient's age (demographics), even when its history does not say it.
  if (field === 'age') return c.age === 0 ? 'Less than a year old.' : `I'm ${c.age}.`;
  for (const f of [field, ...(FALLBACK[field] ?? [])]) {
    const text = c.history[f];
    if (text) return text;
  }
  return undefined;
}

function symptomAnswer(c: ClinicalCase, key: string): string | undefined {
  const own = c.symptoms[key];
  if (own) return own;
  const plain = SYMPTOMS[key]?.plain ?? key.replace(/_/g, ' ');
  if (c.denies.includes(key)) return `No, I haven't had any ${plain}.`;
  return undefined;
}

/**
 * The default patient: deterministic, no model. A question is matched to a case field
 * (`matchQuestion`); the answer is the case's own words for that field, "I don't know" when the
 * case does not hold it, and a refusal for questions about the diagnosis. It can only say what
 * the case's patient-facing fields say, and the case bank checks those never name the diagnosis.
 */
export function createDeterministicPatient(c: ClinicalCase): PatientSimulator {
  let unknownCount = 0;
  const dontKnow = () => DONT_KNOW[unknownCount++ % DONT_KNOW.length] as string;
  return {
    async answer(question) {
      const target = matchQuestion(question);
      switch (target.kind) {
        case 'diagnosis-probe':
          return { text: DIAGNOSIS_REFUSAL, target };
        case 'unmatched':
          return { text: UNMATCHED, target };
        case 'field':
          return { text: historyAnswer(c, target.field) ?? dontKnow(), target };
        case 'symptoms': {
          const parts = target.symptoms.map((key) => {
            const known = symptomAnswer(c, key);
            if (known) return known;
            const plain = SYMPTOMS[key]?.plain ?? key;
            return target.symptoms.length > 1 ? `About ${plain}, I'm not sure.` : dontKnow();
          });
          return { text: parts.join(' '), target };
        }
      }
    },
  };
}

/** The patient-facing facts of a case, as a model patient's briefing. No exam, results or diagnosis. */
export function patientBriefing(c: ClinicalCase): string {
  const lines = [
    `You are a ${c.age}-year-old ${c.sex} patient. Your opening complaint: "${c.complaint}"`,
    ...Object.entries(c.history).map(([field, text]) => `- ${field}: ${text}`),
    ...Object.entries(c.symptoms).map(([key, text]) => `- symptom ${SYMPTOMS[key]?.plain ?? key}: ${text}`),
    ...(c.denies.length > 0
      ? [`- you do NOT have: ${c.denies.map((k) => SYMPTOMS[k]?.plain ?? k).join(', ')}`]
      : []),
  ];
  return lines.join('\n');
}

const MODEL_SYSTEM = [
  'You are role-playing a patient talking to a doctor. Answer in one to three plain sentences, in the first person, as a lay person.',
  'Use ONLY the facts below. If asked anything the facts do not cover, say you do not know.',
  'You do not know your diagnosis and never guess one; if asked what you have or what another doctor said, say you do not know.',
].join(' ');

/**
 * A patient backed by a chat model — any policy of the agents package (its `generate` in message
 * mode), e.g. an OpenAI-compatible server. The model sees only the patient-facing facts, so it
 * cannot reveal the diagnosis from the case; a reply that still names it (a model's own guess)
 * is replaced by "I don't know".
 */
export function createModelPatientSimulator(settings: {
  model: ChatTextModel;
  maxTokens?: number;
  temperature?: number;
}): PatientSimulatorFactory {
  return (c) => {
    const conversation: Array<{ role: 'user' | 'assistant'; content: string }> = [];
    const system = `${MODEL_SYSTEM}\n\nFacts:\n${patientBriefing(c)}`;
    return {
      async answer(question, signal) {
        conversation.push({ role: 'user', content: question });
        const { text } = await settings.model.generate({
          messages: [{ role: 'system', content: system }, ...conversation],
          tools: [],
          sampling: { maxTokens: settings.maxTokens ?? 120, temperature: settings.temperature ?? 0 },
          ...(signal ? { signal } : {}),
        });
        const reply = leakMatcherOf(c).find(text).length > 0 ? DONT_KNOW[0]! : text.trim() || DONT_KNOW[0]!;
        conversation.push({ role: 'assistant', content: reply });
        return { text: reply, target: { kind: 'model' } };
      },
    };
  };
}

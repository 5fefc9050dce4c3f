/**
 * Search Self-play's check of a proposed question (Lu et al. 2025, §3): the question must be
 * answerable from the documents the proposer's searches returned. Before the paper's RAG check,
 * rule checks an adversarial proposer cannot talk its way past: the question names no form of its
 * answer, and some document it found states the answer.
 */
import type { ChatTextModel } from '@toolgym/protocol';
import { answerTokens, coverExactMatch, type DocumentStore, exactMatch } from '@toolgym/tools';

export type Verdict = { verified: true } | { verified: false; check: VerificationCheck; reason: string };

/** Which check a discarded question failed (counted per check). */
export type VerificationCheck = 'too_short' | 'too_long' | 'names_answer' | 'no_documents' | 'answer_not_found' | 'rag_failed';

const MIN_QUESTION_WORDS = 3;

const RAG_SYSTEM =
  'Answer the question using only the documents given. Reply with the answer alone: a name, word, date, number or code, not a sentence.';

/** Diacritics folded and punctuation as spaces, so "Àda-Lémm" is "Ada Lemm" (SQuAD normalisation would join them). */
const split = (text: string) =>
  text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ');
/** Letters and digits alone, folded: "A d a L e m m" and "ada.lemm" are both "adalemm" (no article dropped: "a" is a letter here). */
const squash = (text: string) => split(text).toLowerCase().replace(/\s+/g, '');

/**
 * The question names the answer: as whole words, every word of it in any order, or its letters
 * in a row whatever lies between them (for answers of 4 letters or more). Stronger than needed:
 * it also discards a question whose other words happen to contain the answer's letters.
 */
function namesAnswer(question: string, answers: readonly string[]): boolean {
  if (coverExactMatch(question, answers) === 1) return true;
  const words = new Set(answerTokens(split(question)));
  const squashed = squash(question);
  return answers.some((a) => {
    const tokens = answerTokens(split(a));
    const letters = squash(a);
    return (tokens.length > 0 && tokens.every((t) => words.has(t))) || (letters.length >= 4 && squashed.includes(letters));
  });
}

export async function verifyQuestion(request: {
  question: string;
  answers: readonly string[];
  /** The documents the proposer's searches returned or it opened, in the order found. */
  found: readonly string[];
  documents: DocumentStore;
  maxQuestionChars: number;
  /** `rag`: the model must answer the question from the documents found (the paper's check). */
  rag?: { model: ChatTextModel; maxDocuments: number; signal?: AbortSignal };
}): Promise<Verdict> {
  const { question, answers, found, documents } = request;
  const fail = (check: VerificationCheck, reason: string): Verdict => ({ verified: false, check, reason });
  if (answerTokens(question).length < MIN_QUESTION_WORDS)
    return fail('too_short', `a question needs at least ${MIN_QUESTION_WORDS} words`);
  if (question.length > request.maxQuestionChars)
    return fail('too_long', `the question is longer than ${request.maxQuestionChars} characters`);
  if (namesAnswer(question, answers)) return fail('names_answer', 'the question names its answer');
  if (found.length === 0) return fail('no_documents', 'no search of the proposer returned a document');
  const texts = found.map((id) => {
    const doc = documents.get(id);
    return doc ? { id, text: `${doc.title}\n${doc.text}` } : undefined;
  });
  if (!texts.some((d) => d !== undefined && coverExactMatch(d.text, answers) === 1))
    return fail('answer_not_found', 'no document the proposer found states the answer');
  if (!request.rag) return { verified: true };
  const context = texts
    .filter((d) => d !== undefined)
    .slice(0, request.rag.maxDocuments)
    .map((d, i) => `Document ${i + 1} (${d.id}):\n${d.text}`)
    .join('\n\n');
  const { text } = await request.rag.model.generate({
    messages: [
      { role: 'system', content: RAG_SYSTEM },
      { role: 'user', content: `${context}\n\nQuestion: ${question}\nAnswer:` },
    ],
    tools: [],
    sampling: { maxTokens: 32, temperature: 0 },
    ...(request.rag.signal ? { signal: request.rag.signal } : {}),
  });
  const answer = text.trim().split('\n')[0] ?? '';
  return exactMatch(answer, answers) === 1
    ? { verified: true }
    : fail('rag_failed', `answering from the documents found gave ${JSON.stringify(answer.slice(0, 80))}`);
}

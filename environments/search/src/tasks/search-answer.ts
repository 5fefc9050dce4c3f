/** The gold of a search task (`Task.answer`): graders and the oracle read it, the agent never does. */
export interface SearchAnswer {
  /** Accepted answers; the first is the canonical one. Any alias counts for EM/F1/cover-EM. */
  answers: string[];
  /** Ids of the documents that together support the answer (empty when unknown, e.g. QA files). */
  supportingDocs: string[];
}

/** What a task's `meta` holds. */
export interface SearchTaskMeta {
  /** Question type (`founder_birthplace`, `capital_of`, …) or `qa_file`; the world's test split holds out whole types. */
  type: string;
  /** Documents needed: 1 for single-hop. */
  hops: number;
  /** The (first) entity the question names (absent for QA-file tasks). */
  entity?: string;
  /** World questions: every entity the question names (two for a comparison). */
  entities?: string[];
  /**
   * Countries corpus: what the split keeps together, and so what the test split holds out: the
   * country a question is about, or `currency:<code>` / `language:<key>` for the code questions.
   */
  subject?: string;
  /** World questions: which of the type's phrasings asks it. */
  phrasing?: number;
  /** The raw question, without the instructions around it. */
  question: string;
}

export const INSTRUCTIONS =
  'Use search to find documents and open to read them (find searches the open page). When you know the answer, call answer with a short answer (a name or code, not a sentence) and the ids of the documents that support it as citations.';

export function promptFor(question: string): string {
  return `${question}\n\n${INSTRUCTIONS}`;
}

import type { RetrievalDocument } from '@toolgym/tools';
import { foldText, normalizeAnswer } from '@toolgym/tools';

/**
 * Which documents mention a phrase as whole words, after answer normalisation and diacritic
 * folding. Used to check that a multi-hop question cannot be answered from one document: no
 * document may mention both the question's entity and any gold answer.
 */
export class MentionIndex {
  private readonly texts: string[];

  constructor(private readonly documents: readonly RetrievalDocument[]) {
    this.texts = documents.map((d) => ` ${normalizePhrase(`${d.title}\n${d.text}`)} `);
  }

  /** Positions of the documents that mention `phrase`. */
  mentioning(phrase: string): number[] {
    const needle = ` ${normalizePhrase(phrase)} `;
    if (needle.trim() === '') return [];
    const found: number[] = [];
    this.texts.forEach((text, i) => {
      if (text.includes(needle)) found.push(i);
    });
    return found;
  }

  /** Ids of the documents that mention `entity` and also one of `answers`. */
  documentsJoining(entity: string, answers: readonly string[]): string[] {
    const needles = answers.map((a) => ` ${normalizePhrase(a)} `).filter((n) => n.trim() !== '');
    return this.mentioning(entity)
      .filter((i) => needles.some((n) => this.texts[i]!.includes(n)))
      .map((i) => this.documents[i]!.id);
  }

  mentions(id: string, phrase: string): boolean {
    const i = this.documents.findIndex((d) => d.id === id);
    return i !== -1 && this.texts[i]!.includes(` ${normalizePhrase(phrase)} `);
  }
}

function normalizePhrase(text: string): string {
  return normalizeAnswer(foldText(text));
}

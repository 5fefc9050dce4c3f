import type { RetrievalDocument } from '@toolgym/tools';
import { foldText, normalizeAnswer } from '@toolgym/tools';

/**
 * Which documents mention a phrase as whole words, after answer normalisation and diacritic
 * folding. Used to check that a multi-hop question cannot be answered from one document: no
 * document may mention both an entity the question names and any gold answer.
 */
export class MentionIndex {
  private readonly texts: string[];
  /** Documents containing each word: a phrase is looked for only where its rarest word is. */
  private readonly byWord = new Map<string, number[]>();
  private readonly positionOf: Map<string, number>;

  constructor(private readonly documents: readonly RetrievalDocument[]) {
    this.texts = documents.map((d) => ` ${normalizePhrase(`${d.title}\n${d.text}`)} `);
    this.texts.forEach((text, i) => {
      for (const word of new Set(text.split(' '))) {
        if (word === '') continue;
        const list = this.byWord.get(word);
        if (list) list.push(i);
        else this.byWord.set(word, [i]);
      }
    });
    this.positionOf = new Map(documents.map((d, i) => [d.id, i]));
  }

  /** Positions of the documents that mention `phrase`. */
  mentioning(phrase: string): number[] {
    const normalized = normalizePhrase(phrase);
    if (normalized === '') return [];
    let candidates: number[] | undefined;
    for (const word of normalized.split(' ')) {
      const list = this.byWord.get(word) ?? [];
      if (!candidates || list.length < candidates.length) candidates = list;
    }
    const needle = ` ${normalized} `;
    return (candidates ?? []).filter((i) => this.texts[i]!.includes(needle));
  }

  /** Ids of the documents that mention `entity` and also one of `answers`. */
  documentsJoining(entity: string, answers: readonly string[]): string[] {
    const needles = answers.map((a) => ` ${normalizePhrase(a)} `).filter((n) => n.trim() !== '');
    return this.mentioning(entity)
      .filter((i) => needles.some((n) => this.texts[i]!.includes(n)))
      .map((i) => this.documents[i]!.id);
  }

  mentions(id: string, phrase: string): boolean {
    const i = this.positionOf.get(id);
    return i !== undefined && this.texts[i]!.includes(` ${normalizePhrase(phrase)} `);
  }
}

function normalizePhrase(text: string): string {
  return normalizeAnswer(foldText(text));
}

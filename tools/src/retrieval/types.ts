import { ToolGymError } from '@toolgym/protocol';
import { bestSnippet } from './snippet.ts';

/** A document any retriever can index: what `search` returns and `open` shows. */
export interface RetrievalDocument {
  /** Stable id (`country/fra`, or a corpus line id). */
  id: string;
  title: string;
  /** Where the browser opens it. */
  url: string;
  /** Plain text body (without the title). */
  text: string;
}

export interface RetrievalHit {
  /** 1-based position in the ranking. */
  rank: number;
  id: string;
  title: string;
  url: string;
  score: number;
  /** The passage of the document that best matches the query. */
  snippet: string;
}

export interface SearchOptions {
  /** How many results (the top k). */
  k: number;
  signal?: AbortSignal;
}

/**
 * A ranked retriever over a document collection. BM25 is one backend; a dense backend
 * (embeddings via onnxruntime-node, nearest neighbours by inner product) implements the same
 * interface, and so can any other (a simulated search engine): `search` is async so that a
 * model can run inside it.
 */
export interface Retriever {
  /** The backend's name, for logs and benches (`bm25`, `dense`). */
  readonly kind: string;
  readonly documents: DocumentStore;
  search(query: string, options: SearchOptions): Promise<RetrievalHit[]>;
}

/**
 * Documents by position and by id; retrievers rank positions, hits carry ids. In memory
 * (`DocumentCollection`) or on disk (`SqliteDocumentStore`), for corpora too large to hold.
 */
export abstract class DocumentStore {
  abstract readonly size: number;
  abstract get(id: string): RetrievalDocument | undefined;
  abstract indexOf(id: string): number | undefined;
  /** The document at a position; a position outside the store is a programming error. */
  abstract at(index: number): RetrievalDocument;
  /** Every document, in position order. */
  abstract all(): Iterable<RetrievalDocument>;

  /** A backend's ranking (positions, best first) as hits for `query`, with their snippets. */
  hits(ranking: ReadonlyArray<{ index: number; score: number }>, query: string): RetrievalHit[] {
    return ranking.map(({ index, score }, i) => {
      const doc = this.at(index);
      return {
        rank: i + 1,
        id: doc.id,
        title: doc.title,
        url: doc.url,
        score,
        snippet: bestSnippet(doc.text, query),
      };
    });
  }
}

/** Documents held in memory. */
export class DocumentCollection extends DocumentStore {
  private readonly byId = new Map<string, number>();

  constructor(readonly documents: readonly RetrievalDocument[]) {
    super();
    documents.forEach((doc, i) => {
      if (this.byId.has(doc.id))
        throw new RetrievalConfigError('duplicate_document', `two documents have the id '${doc.id}'`);
      this.byId.set(doc.id, i);
    });
  }

  get size(): number {
    return this.documents.length;
  }

  get(id: string): RetrievalDocument | undefined {
    const i = this.byId.get(id);
    return i === undefined ? undefined : this.documents[i];
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  at(index: number): RetrievalDocument {
    const doc = this.documents[index];
    if (!doc) throw new RetrievalConfigError('bad_document_index', `no document at position ${index}`);
    return doc;
  }

  all(): readonly RetrievalDocument[] {
    return this.documents;
  }
}

/** A retrieval index or collection that cannot be used as configured (fails at once). */
export class RetrievalConfigError extends ToolGymError {}

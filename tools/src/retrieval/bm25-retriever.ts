import type { Bm25Index } from './bm25-index.ts';
import { bestSnippet } from './snippet.ts';
import {
  type DocumentCollection,
  RetrievalConfigError,
  type RetrievalHit,
  type Retriever,
  type SearchOptions,
} from './types.ts';

/** The BM25 backend of `Retriever`: ranks with the index, fills hits from the collection. */
export function createBm25Retriever(documents: DocumentCollection, index: Bm25Index): Retriever {
  if (index.documentCount !== documents.size) {
    throw new RetrievalConfigError(
      'index_mismatch',
      `the BM25 index has ${index.documentCount} documents but the collection has ${documents.size}`,
      'build the index from this collection (Bm25Index.loadOrBuild)',
    );
  }
  return {
    kind: 'bm25',
    documents,
    async search(query: string, options: SearchOptions): Promise<RetrievalHit[]> {
      options.signal?.throwIfAborted();
      return index.search(query, options.k).map(({ index: position, score }, i) => {
        const doc = documents.at(position);
        return {
          rank: i + 1,
          id: doc.id,
          title: doc.title,
          url: doc.url,
          score,
          snippet: bestSnippet(doc.text, query),
        };
      });
    },
  };
}

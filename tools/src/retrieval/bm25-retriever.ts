import type { Bm25Index } from './bm25-index.ts';
import {
  type DocumentStore,
  RetrievalConfigError,
  type RetrievalHit,
  type Retriever,
  type SearchOptions,
} from './types.ts';

/** The BM25 backend of `Retriever`: ranks with the index, fills hits from the collection. */
export function createBm25Retriever(documents: DocumentStore, index: Bm25Index): Retriever {
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
      return documents.hits(index.search(query, options.k), query);
    },
  };
}

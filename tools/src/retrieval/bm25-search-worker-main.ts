/**
 * One search thread of `Bm25WorkerRetriever`: it opens the disk index and the document store
 * itself (its own file handles and SQLite connection), then answers one query at a time with
 * the hits, snippets included.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Bm25Index } from './bm25-index.ts';
import type { SearchWorkerReply, SearchWorkerRequest, SearchWorkerSource } from './bm25-worker-retriever.ts';
import { SqliteDocumentStore } from './sqlite-document-store.ts';

const port = parentPort!;
const source = workerData as SearchWorkerSource;
const index = Bm25Index.open(source.indexDir);
if (!index) {
  port.postMessage({
    kind: 'broken',
    message: `no BM25 index in ${source.indexDir}`,
  } satisfies SearchWorkerReply);
} else {
  const store = SqliteDocumentStore.open(source.storeFile);
  port.on('message', ({ id, query, k }: SearchWorkerRequest) => {
    let reply: SearchWorkerReply;
    try {
      reply = { kind: 'hits', id, hits: store.hits(index.search(query, k), query) };
    } catch (error) {
      reply = { kind: 'error', id, message: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
  // One query before taking any: the first runs cold (code compiled, SQLite statements prepared),
  // and should not count against a caller's search budget.
  if (store.size > 0) store.hits(index.search(store.at(0).title, 1), store.at(0).title);
  port.postMessage({ kind: 'ready' } satisfies SearchWorkerReply);
}

// A thread of `Bm25WorkerRetriever`: the workspace runs TypeScript through tsx, which a new thread
// has to register for itself.
import { register } from 'tsx/esm/api';

register();
await import('./bm25-search-worker-main.ts');

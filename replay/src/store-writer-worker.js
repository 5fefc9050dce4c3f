// The thread of `StoreWriter`: the workspace runs TypeScript through tsx, which a new thread has
// to register for itself.
import { register } from 'tsx/esm/api';

register();
await import('./store-writer-main.ts');

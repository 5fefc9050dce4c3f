export {
  TrajectoryStore,
  eventToMessage,
  type OpenStoreOptions,
  type RunRow,
  type StepPoint,
  type TrajectoryQuery,
  type StoredEvent,
} from './store.ts';
export { StoreSink, type StoreSinkOptions } from './store-sink.ts';
export { exportJsonl, exportParquet, readParquetExport, toParquetRow, type ParquetRow } from './export.ts';
export { serveReplay, type ReplayServer, type ReplayServerOptions } from './replay-server.ts';
export type { FeedLimits } from './feed-session.ts';
export { FeedClient, type FeedClientOptions } from './feed-client.ts';
export { buildViewer, VIEWER_DIST, VIEWER_ROOT } from './viewer-build.ts';
export { ReplayError, ReplayConfigError, InvalidTrajectoryError, DuplicateIdError, NotFoundError } from './errors.ts';

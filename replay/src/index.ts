export {
  DuplicateIdError,
  InvalidTrajectoryError,
  NotFoundError,
  ReplayConfigError,
  ReplayError,
} from './errors.ts';
export { exportJsonl, exportParquet, type ParquetRow, readParquetExport, toParquetRow } from './export.ts';
export { FeedClient, type FeedClientOptions } from './feed-client.ts';
export type { FeedLimits } from './feed-session.ts';
export { type ReplayServer, type ReplayServerOptions, serveReplay } from './replay-server.ts';
export { eventJson, eventToMessage, type FeedEvent, type StoredEvent } from './feed-events.ts';
export {
  type LiveEpisodeSummary,
  type OpenStoreOptions,
  type PartialTrajectory,
  type RunRow,
  type StepPoint,
  type TrajectoryQuery,
  TrajectoryStore,
} from './store.ts';
export { StoreSink, type StoreSinkOptions } from './store-sink.ts';
export { StoreWriter, type WriteFailure } from './store-writer.ts';
export { buildViewer, VIEWER_DIST, VIEWER_ROOT } from './viewer-build.ts';

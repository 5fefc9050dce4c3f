export { citationF1, coverExactMatch, exactMatch, tokenF1 } from './answer/metrics.ts';
export { AnswerSpace, listsAlternatives } from './answer/answer-space.ts';
export { answerTokens, normalizeAnswer } from './answer/normalize.ts';
export {
  BrowserPool,
  type BrowserPoolOptions,
  BrowserSession,
  type BrowserSessionOptions,
  CHROMIUM_ARGS,
  type PageContent,
} from './browser/browser-pool.ts';
export { BrowserError, BrowserLaunchError } from './browser/errors.ts';
export { findInText, pageOf, paginate, type TextMatch, type TextPage } from './browser/page-text.ts';
export { UrlPolicy, type UrlPolicyOptions } from './browser/url-policy.ts';
export { analyze, foldText, sStem } from './retrieval/analyzer.ts';
export {
  Bm25Index,
  Bm25IndexWriter,
  type Bm25Params,
  collectionFingerprint,
  DEFAULT_BM25_PARAMS,
  indexedText,
  type ScoredDocument,
  TopK,
  topK,
} from './retrieval/bm25-index.ts';
export { createBm25Retriever } from './retrieval/bm25-retriever.ts';
export {
  type Bm25WorkerOptions,
  Bm25WorkerRetriever,
  SearchTimeoutError,
  SearchWorkerError,
  type SearchWorkerSource,
} from './retrieval/bm25-worker-retriever.ts';
export {
  agreesUpToTies,
  type Bm25Idf,
  type Bm25Scoring,
  FTS5_BM25_SCORING,
  inverseDocumentFrequency,
  type ScanResult,
  scanBm25,
} from './retrieval/bm25-scan.ts';
export { createDenseRetriever, DenseIndex, type TextEmbedder } from './retrieval/dense-index.ts';
export { Fts5Bm25Index, fts5Token } from './retrieval/fts5-index.ts';
export { createOnnxEmbedder, type OnnxEmbedderOptions } from './retrieval/onnx-embedder.ts';
export { bestSnippet } from './retrieval/snippet.ts';
export { SqliteDocumentStore } from './retrieval/sqlite-document-store.ts';
export {
  DocumentCollection,
  DocumentStore,
  RetrievalConfigError,
  type RetrievalDocument,
  type RetrievalHit,
  type Retriever,
  type SearchOptions,
} from './retrieval/types.ts';
export {
  type CriterionVerdict,
  createModelRubricJudge,
  gradeRubric,
  JudgeOutputError,
  normalisedRubricScore,
  normaliseForMatching,
  parseVerdict,
  type RubricAxis,
  type RubricCriterion,
  RubricError,
  type RubricInput,
  type RubricJudge,
  type RubricScore,
  type TextMatcher,
  validateRubric,
} from './rubric/index.ts';

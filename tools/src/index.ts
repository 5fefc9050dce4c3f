export {
  type ChatTextModel,
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
// Retrieval (search environment): BM25 index, retriever interface, snippets.
export { analyze, foldText, sStem } from './retrieval/analyzer.ts';
export {
  Bm25Index,
  DEFAULT_BM25_PARAMS,
  collectionFingerprint,
  indexedText,
  topK,
  type Bm25Params,
  type ScoredDocument,
} from './retrieval/bm25-index.ts';
export { Bm25ScanBaseline } from './retrieval/bm25-scan.ts';
export { createBm25Retriever } from './retrieval/bm25-retriever.ts';
export { bestSnippet } from './retrieval/snippet.ts';
export {
  DocumentCollection,
  RetrievalConfigError,
  type RetrievalDocument,
  type RetrievalHit,
  type Retriever,
  type SearchOptions,
} from './retrieval/types.ts';
// Browser (search environment): one Chromium per pool, a context per episode, readable text.
export {
  BrowserPool,
  BrowserSession,
  CHROMIUM_ARGS,
  type BrowserPoolOptions,
  type BrowserSessionOptions,
  type PageContent,
} from './browser/browser-pool.ts';
export { BrowserError, BrowserLaunchError } from './browser/errors.ts';
export { UrlPolicy, type UrlPolicyOptions } from './browser/url-policy.ts';
export { paginate, pageOf, findInText, type TextPage, type TextMatch } from './browser/page-text.ts';
// Answer normalisation and metrics (search environment).
export { normalizeAnswer, answerTokens } from './answer/normalize.ts';
export { exactMatch, tokenF1, coverExactMatch } from './answer/metrics.ts';

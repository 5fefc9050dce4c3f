import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import {
  Bm25Index,
  BrowserPool,
  createBm25Retriever,
  DocumentCollection,
  type RetrievalDocument,
  type Retriever,
} from '@toolgym/tools';
import type { SearchConfig } from './config.ts';
import { type CorpusServer, startCorpusServer } from './corpus/corpus-server.ts';
import { loadDocuments, loadSearchR1Corpus, saveDocuments } from './corpus/corpus-store.ts';
import { generateCorpus } from './corpus/generate-corpus.ts';
import { worldFacts } from './corpus/world-facts.ts';
import { generateTasks } from './tasks/generate-tasks.ts';
import { loadQaFile } from './tasks/qa-file.ts';

/** Bump when the generated corpus or questions change, so caches rebuild. */
export const GENERATOR_VERSION = 1;
/** Bumped when the task records change shape, so cached task lists are rebuilt (the corpus is kept). */
const TASKS_VERSION = 2;

/** What a search environment serves: documents, their index, the questions, and the local web server. */
export interface SearchData {
  /** Where this corpus's files are cached. */
  dir: string;
  documents: DocumentCollection;
  retriever: Retriever;
  tasks: Task[];
  /** What had to be built this time (false = loaded from the cache). */
  built: { corpus: boolean; index: boolean; tasks: boolean };
  /** The local HTTP server of the corpus, started on first use. */
  server(): Promise<CorpusServer>;
}

export function defaultDataDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../data/generated');
}

const loaded = new Map<string, Promise<SearchData>>();
const startedServers = new Set<Promise<CorpusServer>>();

/**
 * Builds or loads everything a config needs: the corpus (generated from npm data, or read from a
 * JSONL file), its BM25 index and the tasks, cached under `dataDir` and loaded without a rebuild
 * next time. Shared by every environment instance in the process with the same data options.
 */
export function loadSearchData(config: SearchConfig): Promise<SearchData> {
  const key = JSON.stringify([
    config.corpus,
    config.qaPath,
    config.dataDir,
    config.testFraction,
    config.bm25,
  ]);
  let data = loaded.get(key);
  if (!data) {
    data = buildSearchData(config);
    loaded.set(key, data);
    data.catch(() => loaded.delete(key));
  }
  return data;
}

async function buildSearchData(config: SearchConfig): Promise<SearchData> {
  const root = config.dataDir ?? defaultDataDir();
  let dir: string;
  let documents: RetrievalDocument[];
  let tasks: Task[] | undefined;
  const built = { corpus: false, index: false, tasks: false };

  if (config.corpus.kind === 'generated') {
    const { wordnetDocuments } = config.corpus;
    dir = path.join(root, `world-v${GENERATOR_VERSION}-wordnet${wordnetDocuments}`);
    const corpusFile = path.join(dir, 'corpus.jsonl');
    const tasksFile = path.join(dir, `tasks-v${TASKS_VERSION}-test${config.testFraction}.json`);
    let facts: ReturnType<typeof worldFacts> | undefined;
    if (existsSync(corpusFile)) {
      documents = loadDocuments(corpusFile);
    } else {
      facts = worldFacts();
      documents = generateCorpus(facts, { wordnetDocuments });
      saveDocuments(corpusFile, documents);
      built.corpus = true;
    }
    if (!config.qaPath) {
      if (existsSync(tasksFile) && !built.corpus) {
        tasks = JSON.parse(readFileSync(tasksFile, 'utf8')) as Task[];
      } else {
        tasks = generateTasks(facts ?? worldFacts(), documents, { testFraction: config.testFraction }).kept;
        writeJsonAtomically(tasksFile, tasks);
        built.tasks = true;
      }
    }
  } else {
    const file = path.resolve(config.corpus.path);
    if (!config.qaPath) {
      throw new ConfigError(
        `the jsonl corpus ${file} comes without questions`,
        'set qaPath to a {question, golden_answers} JSONL file',
      );
    }
    documents = await loadSearchR1Corpus(
      file,
      config.corpus.limit === undefined ? {} : { limit: config.corpus.limit },
    );
    const stat = statSync(file);
    const id = createHash('sha256')
      .update(`${file}:${stat.size}:${stat.mtimeMs}:${config.corpus.limit ?? ''}`)
      .digest('hex')
      .slice(0, 16);
    dir = path.join(root, `jsonl-${id}`);
  }
  if (config.qaPath) tasks = loadQaFile(path.resolve(config.qaPath), { testFraction: config.testFraction });

  const collection = new DocumentCollection(documents);
  const { index, built: indexBuilt } = Bm25Index.loadOrBuild(documents, dir, config.bm25);
  built.index = indexBuilt;
  let server: Promise<CorpusServer> | undefined;
  return {
    dir,
    documents: collection,
    retriever: createBm25Retriever(collection, index),
    tasks: tasks ?? [],
    built,
    server() {
      if (!server) {
        server = startCorpusServer(collection);
        startedServers.add(server);
      }
      return server;
    },
  };
}

function writeJsonAtomically(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

let browserPool: BrowserPool | undefined;

/** The process's one Chromium (lazy; shared by every episode, a context each). */
export function sharedBrowserPool(options: { idleCloseMs: number }): BrowserPool {
  browserPool ??= new BrowserPool({ idleCloseMs: options.idleCloseMs });
  return browserPool;
}

/**
 * Stops the shared browser and the corpus servers (tests, orderly shutdown). A process that
 * just exits needs no call: Playwright kills Chromium on exit and the servers die with it.
 */
export async function closeSearchResources(): Promise<void> {
  const pool = browserPool;
  browserPool = undefined;
  await pool?.close();
  loaded.clear();
  const servers = [...startedServers];
  startedServers.clear();
  await Promise.all(servers.map(async (s) => (await s.catch(() => undefined))?.close()));
}

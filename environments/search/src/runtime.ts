import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import { hashString, type Task } from '@toolgym/protocol';
import {
  Bm25Index,
  Bm25IndexWriter,
  Bm25WorkerRetriever,
  BrowserPool,
  createBm25Retriever,
  DocumentCollection,
  type DocumentStore,
  type RetrievalDocument,
  type Retriever,
  SqliteDocumentStore,
} from '@toolgym/tools';
import type { SearchConfig } from './config.ts';
import { type CorpusServer, startCorpusServer } from './corpus/corpus-server.ts';
import {
  countPassages,
  loadDocuments,
  loadSearchR1Corpus,
  readSearchR1Corpus,
  saveDocuments,
} from './corpus/corpus-store.ts';
import { generateCorpus } from './corpus/generate-corpus.ts';
import { worldFacts } from './corpus/world-facts.ts';
import { generateTasks } from './tasks/generate-tasks.ts';
import { loadQaFile } from './tasks/qa-file.ts';
import { generateWorld } from './world/world.ts';
import { WorldDocuments } from './world/world-documents.ts';
import { QUESTION_TYPES } from './world/world-questions.ts';
import { worldTasks } from './world/world-tasks.ts';

/** Bump when the fictional world, its documents or its relations change, so caches rebuild. */
export const WORLD_VERSION = 1;
/** Bump when the countries corpus changes, so caches rebuild. */
const COUNTRIES_VERSION = 1;
/** Bumped when the task records change shape, so cached task lists are rebuilt (the corpus is kept). */
const TASKS_VERSION = 3;

/** What a search environment serves: documents, their index, the questions, and the local web server. */
export interface SearchData {
  /** Where this corpus's files are cached. */
  dir: string;
  /** In memory, or in a SQLite store for a corpus above `diskIndexAbove` passages. */
  documents: DocumentStore;
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
/** Disk-backed stores and indexes this process opened (closed by `closeSearchResources`). */
const openFiles = new Set<{ close(): void | Promise<void> }>();
const startedServers = new Set<Promise<CorpusServer>>();

/**
 * Builds or loads everything a config needs: the corpus (a fictional world or the real countries,
 * generated from npm data, or read from a JSONL file), its BM25 index and the tasks, cached under
 * `dataDir` and loaded without a rebuild next time. Shared by every environment instance in the
 * process with the same data options.
 */
export function loadSearchData(config: SearchConfig): Promise<SearchData> {
  const key = JSON.stringify([
    config.corpus,
    config.qaPath,
    config.dataDir,
    config.testFraction,
    config.bm25,
    config.diskIndexAbove,
    config.searchThreads,
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

  if (config.corpus.kind === 'world') {
    const { seed, distractors, questionsPerType, heldOutTypes, testIidFraction } = config.corpus;
    dir = path.join(root, `fictional-v${WORLD_VERSION}-seed${seed}-distractors${distractors}`);
    // The questions' phrasings are part of the key: editing one remakes the cached tasks.
    const taskKey = hashString(
      JSON.stringify([
        TASKS_VERSION,
        questionsPerType,
        heldOutTypes,
        testIidFraction,
        QUESTION_TYPES.map((t) => [t.id, t.phrasings.map(String)]),
      ]),
    );
    const world = new WorldDocuments(generateWorld(seed));
    ({ documents, tasks } = generatedData(dir, `tasks-${taskKey.toString(36)}.json`, config, built, {
      documents: () => world.documents({ distractors }),
      tasks: (docs) => worldTasks(world, docs, { questionsPerType, heldOutTypes, testIidFraction }).kept,
    }));
  } else if (config.corpus.kind === 'countries') {
    const { wordnetDocuments } = config.corpus;
    dir = path.join(root, `countries-v${COUNTRIES_VERSION}-wordnet${wordnetDocuments}`);
    const facts = worldFacts();
    ({ documents, tasks } = generatedData(
      dir,
      `tasks-v${TASKS_VERSION}-test${config.testFraction}.json`,
      config,
      built,
      {
        documents: () => generateCorpus(facts, { wordnetDocuments }),
        tasks: (docs) => generateTasks(facts, docs, { testFraction: config.testFraction }).kept,
      },
    ));
  } else {
    const file = path.resolve(config.corpus.path);
    if (!config.qaPath) {
      throw new ConfigError(
        `the jsonl corpus ${file} comes without questions`,
        'set qaPath to a {question, golden_answers} JSONL file',
      );
    }
    const limit = config.corpus.limit === undefined ? {} : { limit: config.corpus.limit };
    const stat = statSync(file);
    const id = createHash('sha256')
      .update(`${file}:${stat.size}:${stat.mtimeMs}:${config.corpus.limit ?? ''}`)
      .digest('hex')
      .slice(0, 16);
    dir = path.join(root, `jsonl-${id}`);
    if ((await passageCount(file, dir, config.corpus.limit)) > config.diskIndexAbove) {
      const tasksOfFile = loadQaFile(path.resolve(config.qaPath), { testFraction: config.testFraction });
      return {
        ...(await openOnDisk(file, dir, limit, config)),
        tasks: tasksOfFile,
      };
    }
    documents = await loadSearchR1Corpus(file, limit);
  }
  if (config.qaPath) tasks = loadQaFile(path.resolve(config.qaPath), { testFraction: config.testFraction });

  const collection = new DocumentCollection(documents);
  const { index, built: indexBuilt } = Bm25Index.loadOrBuild(documents, dir, config.bm25);
  built.index = indexBuilt;
  return servedData(dir, collection, createBm25Retriever(collection, index), tasks ?? [], built);
}

/**
 * A generated corpus and its tasks, from the cache in `dir` or made and cached; the tasks are
 * remade whenever the corpus is (a QA file replaces them).
 */
function generatedData(
  dir: string,
  tasksName: string,
  config: SearchConfig,
  built: SearchData['built'],
  make: { documents(): RetrievalDocument[]; tasks(documents: RetrievalDocument[]): Task[] },
): { documents: RetrievalDocument[]; tasks: Task[] | undefined } {
  const corpusFile = path.join(dir, 'corpus.jsonl');
  const tasksFile = path.join(dir, tasksName);
  let documents: RetrievalDocument[];
  if (existsSync(corpusFile)) {
    documents = loadDocuments(corpusFile);
  } else {
    documents = make.documents();
    saveDocuments(corpusFile, documents);
    built.corpus = true;
  }
  if (config.qaPath) return { documents, tasks: undefined };
  if (existsSync(tasksFile) && !built.corpus) {
    return { documents, tasks: JSON.parse(readFileSync(tasksFile, 'utf8')) as Task[] };
  }
  const tasks = make.tasks(documents);
  writeJsonAtomically(tasksFile, tasks);
  built.tasks = true;
  return { documents, tasks };
}

function servedData(
  dir: string,
  documents: DocumentStore,
  retriever: Retriever,
  tasks: Task[],
  built: SearchData['built'],
): SearchData {
  let server: Promise<CorpusServer> | undefined;
  return {
    dir,
    documents,
    retriever,
    tasks,
    built,
    server() {
      if (!server) {
        server = startCorpusServer(documents);
        startedServers.add(server);
      }
      return server;
    },
  };
}

/**
 * A corpus too large to hold: its passages go into a SQLite store and its BM25 index is opened
 * with the postings left on disk, both built in one pass over the file the first time. Queries
 * run in search threads that open both themselves; this thread keeps the store for `open`.
 */
async function openOnDisk(
  file: string,
  dir: string,
  limit: { limit?: number },
  config: SearchConfig,
): Promise<Omit<SearchData, 'tasks'>> {
  const storeFile = path.join(dir, 'documents.sqlite');
  const cached = existsSync(storeFile) ? Bm25Index.open(dir) : undefined;
  const usable = cached && cached.params.k1 === config.bm25.k1 && cached.params.b === config.bm25.b;
  if (!usable) {
    cached?.close();
    const store = SqliteDocumentStore.writer(storeFile);
    const writer = new Bm25IndexWriter(config.bm25);
    for await (const doc of readSearchR1Corpus(file, limit)) {
      store.add(doc);
      writer.add(doc);
    }
    store.finish();
    writer.finish().save(dir);
  }
  if (usable) cached.close();
  const documents = SqliteDocumentStore.open(storeFile);
  const retriever = new Bm25WorkerRetriever(documents, { indexDir: dir, storeFile }, config.searchThreads);
  void retriever.warm();
  openFiles.add(documents);
  openFiles.add(retriever);
  const built = { corpus: !usable, index: !usable, tasks: false };
  return servedData(dir, documents, retriever, [], built);
}

/**
 * How many passages `file` has, counted once and kept in its cache directory (whose name is
 * keyed by the file's size and mtime): counting reads the whole file, seconds at a million.
 */
async function passageCount(file: string, dir: string, limit: number | undefined): Promise<number> {
  const countFile = path.join(dir, 'passages.json');
  if (existsSync(countFile))
    return (JSON.parse(readFileSync(countFile, 'utf8')) as { passages: number }).passages;
  const passages = await countPassages(file, limit);
  writeJsonAtomically(countFile, { passages });
  return passages;
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
  const files = [...openFiles];
  openFiles.clear();
  await Promise.all(files.map((file) => file.close()));
  const servers = [...startedServers];
  startedServers.clear();
  await Promise.all(servers.map(async (s) => (await s.catch(() => undefined))?.close()));
}

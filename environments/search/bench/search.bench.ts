/**
 * `pnpm bench search`: the `search` tool on the default corpus (the fictional world) — queries
 * per second and p50/p99 latency of the BM25 index in memory and on disk, SQLite FTS5 and
 * wink-bm25-text-search against a brute-force scan (all measured in this run), `open` latency
 * with a warm browser, and recall@10 of dense retrieval (the ONNX embedder) against BM25 on the
 * generated questions. Options: --queries N (default: every question), --opens N (default 40).
 * `--corpus 1m` (or 100k, 5000 …) measures the candidates on a generated Search-R1 corpus of
 * that many passages instead (see at-scale.ts); `--candidates toolgym-disk,fts5` measures only those,
 * `--steps candidates` (or `tool`) only the candidates side by side (or only the `search` tool).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment, workspaceRoot } from '@toolgym/env-kit';
import {
  agreesUpToTies,
  analyze,
  Bm25Index,
  createDenseRetriever,
  createOnnxEmbedder,
  DenseIndex,
  DocumentCollection,
  FTS5_BM25_SCORING,
  Fts5Bm25Index,
  indexedText,
  scanBm25,
} from '@toolgym/tools';
import { buildTinyEmbeddingModel, embeddingTable, hashedTokenIds } from '@toolgym/tools/tiny-embedding-model';
import searchEnvironment, {
  closeSearchResources,
  loadSearchData,
  type SearchAnswer,
  type SearchTaskMeta,
} from '../src/index.ts';
import { parseCandidates, parseCorpusSize, parseSteps, runAtScale } from './at-scale.ts';

const option = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const corpusOption = option('corpus');
if (corpusOption !== undefined) {
  await runAtScale(
    parseCorpusSize(corpusOption),
    parseCandidates(option('candidates')),
    parseSteps(option('steps')),
  );
  process.exit(0);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Row {
  what: string;
  n: number;
  qps: number;
  p50: number;
  p99: number;
}

async function measure(what: string, queries: string[], run: (q: string) => unknown): Promise<Row> {
  for (const q of queries.slice(0, 20)) await run(q); // warm-up (JIT)
  const times: number[] = [];
  const started = performance.now();
  for (const q of queries) {
    const t = performance.now();
    await run(q);
    times.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    what,
    n: queries.length,
    qps: queries.length / seconds,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
  };
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const config = searchEnvironment.parseConfig({});
const loadStarted = performance.now();
const data = await loadSearchData(config);
const loadMs = performance.now() - loadStarted;
const docs = [...data.documents.all()];
const tasks = data.tasks;
const questions = tasks.map((t) => (t.meta as unknown as SearchTaskMeta).question);
const queries = questions.slice(0, Number(option('queries') ?? questions.length));
const k = 10;
out(
  `corpus: ${docs.length} documents (fictional world), ${queries.length} queries (task questions), top-${k}; ` +
    `data ${Object.values(data.built).some(Boolean) ? 'built' : 'loaded from cache'} in ${loadMs.toFixed(0)} ms\n`,
);

const scratch = mkdtempSync(path.join(tmpdir(), 'toolgym-search-bench-'));
const memory = Bm25Index.build(docs, config.bm25);
memory.save(scratch);
const disk = Bm25Index.open(scratch)!;
const ftsWriter = Fts5Bm25Index.writer(path.join(scratch, 'fts5.sqlite'));
for (const d of docs) ftsWriter.add(d);
ftsWriter.finish();
const fts = Fts5Bm25Index.open(path.join(scratch, 'fts5.sqlite'));
const require = createRequire(path.join(workspaceRoot(), 'tools/package.json'));
const wink = (
  require('wink-bm25-text-search') as () => {
    defineConfig(c: unknown): void;
    definePrepTasks(t: Array<(s: string) => string[]>): void;
    addDoc(d: Record<string, string>, id: string): void;
    consolidate(p?: number): void;
    search(q: string, limit: number): unknown[];
  }
)();
wink.defineConfig({ fldWeights: { body: 1 }, bm25Params: { k1: config.bm25.k1, b: config.bm25.b, k: 1 } });
wink.definePrepTasks([analyze]);
docs.forEach((d, i) => {
  wink.addDoc({ body: indexedText(d) }, String(i));
});
wink.consolidate(9);

const env = new Environment(searchEnvironment, config);
/** Calls one episode takes before the bench starts the next (below the episode's tool-call limit). */
const CALLS_PER_EPISODE = 20;
let episode = await env.openEpisode({ split: 'train', seed: 0 });
let callsInEpisode = 0;
/** Tool calls that came back as errors, by code (under load a call can pass the sync budget: tool_timeout). */
const toolErrors: Record<string, number> = {};
async function callTool(name: string, args: Record<string, unknown>) {
  if (callsInEpisode === CALLS_PER_EPISODE) {
    await episode.close();
    episode = await env.openEpisode({ split: 'train', seed: 0 });
    callsInEpisode = 0;
  }
  callsInEpisode++;
  const result = await episode.callTool(name, args);
  if (result.isError)
    toolErrors[`${name} ${result.errorCode}`] = (toolErrors[`${name} ${result.errorCode}`] ?? 0) + 1;
  return result;
}
const sample = queries.slice(0, Math.min(queries.length, 300));
const lucene = await scanBm25(docs, sample, {
  k,
  scoring: { ...config.bm25, idf: 'lucene' },
  score: sample.map((q) => [...memory.search(q, k), ...disk.search(q, k)].map((r) => r.index)),
});
const fts5Scan = await scanBm25(docs, sample, {
  k,
  scoring: FTS5_BM25_SCORING,
  score: sample.map((q) => fts.search(q, k).map((r) => r.index)),
});

const rows: Row[] = [];
rows.push(
  await measure('brute-force scan (baseline)', sample, async (q) =>
    scanBm25(docs, [q], { k, scoring: { ...config.bm25, idf: 'lucene' } }),
  ),
);
rows.push(await measure('wink-bm25-text-search', queries, (q) => wink.search(q, k)));
rows.push(await measure('SQLite FTS5 bm25()', queries, (q) => fts.search(q, k)));
rows.push(await measure('BM25 index, in memory', queries, (q) => memory.search(q, k)));
rows.push(await measure('BM25 index, postings on disk', queries, (q) => disk.search(q, k)));
rows.push(
  await measure('search tool (index + snippets, Episode.callTool, an episode every 20 calls)', queries, async (q) => {
    await callTool('search', { query: q, k });
  }),
);
const baseline = rows[0]!.qps;
const table = [
  ['what', 'queries', 'qps', 'p50 ms', 'p99 ms', 'vs scan'],
  ...rows.map((r) => [
    r.what,
    String(r.n),
    r.qps.toFixed(0),
    r.p50.toFixed(3),
    r.p99.toFixed(3),
    `${(r.qps / baseline).toFixed(1)}×`,
  ]),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const row of table)
  out(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
const agree = (search: (q: string) => Array<{ index: number }>, scans: typeof lucene) =>
  sample.filter((q, i) =>
    agreesUpToTies(
      search(q).map((r) => r.index),
      scans[i]!,
    ),
  ).length;
out(
  `top-${k} equal to the scan up to ties (${sample.length} queries): index in memory ${agree((q) => memory.search(q, k), lucene)}, ` +
    `on disk ${agree((q) => disk.search(q, k), lucene)}, FTS5 ${agree((q) => fts.search(q, k), fts5Scan)} (against the scan with FTS5's own scoring)\n`,
);

// Dense retrieval (the ONNX embedder, here the hashed bag-of-words model built in-process:
// no trained encoder can be downloaded on this machine) against BM25: recall@10 of the
// supporting documents, and of the first one (the document that names the question's entity).
const V = 8192;
const D = 256;
const modelPath = path.join(scratch, 'tiny-embedder.onnx');
writeFileSync(modelPath, buildTinyEmbeddingModel(embeddingTable(V, D, 7), V, D));
const embedder = await createOnnxEmbedder({ modelPath, tokenize: (t) => hashedTokenIds(t, V) });
const collection = new DocumentCollection(docs);
const denseStarted = performance.now();
const dense = createDenseRetriever(collection, await DenseIndex.build(docs, embedder), embedder);
const denseBuildMs = performance.now() - denseStarted;
const recall = async (search: (q: string) => Promise<string[]>) => {
  let all = 0;
  let first = 0;
  for (const task of tasks) {
    const gold = (task.answer as SearchAnswer).supportingDocs;
    const found = new Set(await search((task.meta as unknown as SearchTaskMeta).question));
    all += gold.filter((d) => found.has(d)).length / gold.length;
    if (found.has(gold[0]!)) first++;
  }
  return `${((100 * all) / tasks.length).toFixed(1)}% of supporting documents, ${((100 * first) / tasks.length).toFixed(1)}% of first hops`;
};
out(`recall@10 over ${tasks.length} questions (question text as the query):`);
out(`  BM25:  ${await recall(async (q) => memory.search(q, k).map((r) => docs[r.index]!.id))}`);
out(
  `  dense: ${await recall(async (q) => (await dense.search(q, { k })).map((h) => h.id))} (index built in ${denseBuildMs.toFixed(0)} ms)\n`,
);

// open: the first call starts Chromium (cold); then distinct documents with the browser warm.
const opens = Number(option('opens') ?? 40);
const targets = docs
  .filter((_, i) => i % Math.max(1, Math.floor(docs.length / (opens + 1))) === 0)
  .slice(0, opens + 1)
  .map((d) => d.id);
const cold = performance.now();
const first = await callTool('open', { target: targets[0]! });
if (first.isError) throw new Error(first.content);
const coldMs = performance.now() - cold;
const openTimes: number[] = [];
for (const target of targets.slice(1)) {
  const t = performance.now();
  await callTool('open', { target });
  openTimes.push(performance.now() - t);
}
openTimes.sort((a, b) => a - b);
out(
  `open (Chromium, local corpus server): first call incl. browser start ${coldMs.toFixed(0)} ms; warm: n=${openTimes.length} p50 ${percentile(openTimes, 50).toFixed(1)} ms, p99 ${percentile(openTimes, 99).toFixed(1)} ms`,
);

if (Object.keys(toolErrors).length > 0)
  out(`tool calls that came back as errors: ${JSON.stringify(toolErrors)}`);
await episode.close();
await closeSearchResources();
disk.close();
fts.close();
rmSync(scratch, { recursive: true, force: true });

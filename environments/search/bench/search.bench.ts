/**
 * `pnpm bench search`: the `search` tool on the full generated corpus — queries per second and
 * p50/p99 latency of the BM25 inverted index against a brute-force scan (same scores) and
 * wink-bm25-text-search, measured in this run — and `open` latency with a warm browser.
 * Options: --queries N (default: every task question), --opens N (default 40).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Environment, workspaceRoot } from '@toolgym/env-kit';
import { analyze, Bm25Index, Bm25ScanBaseline, indexedText } from '@toolgym/tools';
import searchEnvironment, {
  closeSearchResources,
  loadSearchData,
  type SearchTaskMeta,
} from '../src/index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};

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

const config = searchEnvironment.parseConfig({});
const buildStarted = performance.now();
const data = await loadSearchData(config);
const loadMs = performance.now() - buildStarted;
const docs = data.documents.documents;
const questions = data.tasks.map((t) => (t.meta as unknown as SearchTaskMeta).question);
const queries = questions.slice(0, arg('queries', questions.length));
const k = 10;

process.stdout.write(
  `corpus: ${docs.length} documents, ${docs.reduce((s, d) => s + d.text.length, 0)} characters; ${queries.length} queries (task questions), top-${k}\n` +
    `data ${Object.values(data.built).some(Boolean) ? 'built' : 'loaded from cache'} in ${loadMs.toFixed(0)} ms (${data.dir})\n\n`,
);

const buildStartedAt = performance.now();
const index = Bm25Index.build(docs, config.bm25);
const buildMs = performance.now() - buildStartedAt;
const loadStartedAt = performance.now();
const loadedIndex = Bm25Index.load(data.dir);
const indexLoadMs = performance.now() - loadStartedAt;
process.stdout.write(
  `BM25 index: ${index.vocabularySize} terms; build ${buildMs.toFixed(0)} ms, load from disk ${indexLoadMs.toFixed(0)} ms (${loadedIndex ? 'ok' : 'missing'})\n\n`,
);
const scan = new Bm25ScanBaseline(docs, config.bm25);
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
const episode = await env.openEpisode({ split: 'train', seed: 0 });

const rows: Row[] = [];
const scanQueries = queries.slice(0, Math.min(queries.length, 300)); // the scan is slow; a sample keeps the run short
rows.push(await measure('brute-force scan (baseline)', scanQueries, (q) => scan.search(q, k)));
rows.push(await measure('wink-bm25-text-search', queries, (q) => wink.search(q, k)));
rows.push(await measure('BM25 inverted index', queries, (q) => index.search(q, k)));
rows.push(
  await measure('search tool (index + snippets, via Episode.callTool)', queries, async (q) => {
    const r = await episode.callTool('search', { query: q, k });
    if (r.isError) throw new Error(r.content);
  }),
);

// Agreement: the index and the scan return the same top-k on every sampled query.
let agree = 0;
for (const q of scanQueries) {
  const a = index.search(q, k).map((r) => r.index);
  const b = scan.search(q, k).map((r) => r.index);
  if (a.length === b.length && a.every((x, i) => x === b[i])) agree++;
}

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
  process.stdout.write(
    `${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`,
  );
process.stdout.write(`index top-${k} identical to the scan on ${agree}/${scanQueries.length} queries\n\n`);

// open: the first call starts Chromium (cold); then distinct documents with the browser warm.
const opens = arg('opens', 40);
const targets = docs
  .filter((_, i) => i % Math.max(1, Math.floor(docs.length / (opens + 1))) === 0)
  .slice(0, opens + 1)
  .map((d) => d.id);
const cold = performance.now();
const first = await episode.callTool('open', { target: targets[0]! });
if (first.isError) throw new Error(first.content);
const coldMs = performance.now() - cold;
const openTimes: number[] = [];
for (const target of targets.slice(1)) {
  const t = performance.now();
  const r = await episode.callTool('open', { target });
  if (r.isError) throw new Error(r.content);
  openTimes.push(performance.now() - t);
}
openTimes.sort((a, b) => a - b);
process.stdout.write(
  `open (Chromium, local corpus server): first call incl. browser start ${coldMs.toFixed(0)} ms; warm: n=${openTimes.length} p50 ${percentile(openTimes, 50).toFixed(1)} ms, p99 ${percentile(openTimes, 99).toFixed(1)} ms\n`,
);

await episode.close();
await closeSearchResources();

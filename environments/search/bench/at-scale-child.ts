/**
 * One measured step of `pnpm bench search --corpus <n>`, in a process of its own so that its
 * peak memory and its open time are its own: build a candidate index, query it, scan the corpus
 * by brute force, or play `search` through the environment. Prints one JSON line.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Environment, EnvironmentClient, workspaceRoot } from '@toolgym/env-kit';
import {
  agreesUpToTies,
  analyze,
  Bm25Index,
  Bm25IndexWriter,
  type Bm25Scoring,
  DEFAULT_BM25_PARAMS,
  DocumentCollection,
  Fts5Bm25Index,
  indexedText,
  type ScoredDocument,
  scanBm25,
} from '@toolgym/tools';
import MiniSearch from 'minisearch';
import searchEnvironment, { closeSearchResources, loadSearchData, readSearchR1Corpus } from '../src/index.ts';
import type { Candidate } from './at-scale.ts';

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Searcher {
  search(query: string, k: number): ScoredDocument[];
}

function miniSearch(): MiniSearch<{ id: number; text: string }> {
  return new MiniSearch({
    fields: ['text'],
    tokenize: analyze,
    processTerm: (term) => term,
    // d = 0 turns its BM25+ into BM25; k and b as ours.
    searchOptions: { bm25: { k: DEFAULT_BM25_PARAMS.k1, b: DEFAULT_BM25_PARAMS.b, d: 0 } },
  });
}

/**
 * MiniSearch multiplies a document's BM25 sum by the number of query terms it matched; dividing
 * by that number gives the BM25 sum back, which is what is compared with the scan (whose
 * document length is then MiniSearch's: distinct terms).
 */
function miniSearcher(index: MiniSearch<{ id: number; text: string }>): Searcher {
  return {
    search(query, k) {
      const results = index.search(query, { combineWith: 'OR' });
      const raw = results.map((r) => ({
        index: r.id as number,
        score: r.score / (r.queryTerms.length || 1),
      }));
      raw.sort((a, b) => b.score - a.score || a.index - b.index);
      return raw.slice(0, k);
    },
  };
}

/** CPU seconds this process has used. */
const cpuSeconds = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1e6;
};

/**
 * Builds a candidate's index. Stopped (exit 3) once it has used `cpuLimitS` of CPU: the target
 * is 10 minutes on two cores, and on a shared machine wall time also counts waiting for a core.
 */
async function build(candidate: Candidate, corpus: string, out: string, cpuLimitS: number) {
  const started = performance.now();
  let added = 0;
  const progress = () => {
    if (++added % 10_000 !== 0) return;
    const cpu = cpuSeconds();
    if (added % 100_000 === 0) process.stderr.write(`added ${added} in ${cpu.toFixed(0)} s of CPU\n`);
    if (cpu > cpuLimitS) {
      process.stderr.write(`Error: stopped after ${cpu.toFixed(0)} s of CPU, ${added} passages added\n`);
      process.exit(3);
    }
  };
  if (candidate === 'toolgym-disk') {
    const writer = new Bm25IndexWriter(DEFAULT_BM25_PARAMS);
    for await (const doc of readSearchR1Corpus(corpus)) {
      writer.add(doc);
      progress();
    }
    writer.finish().save(out);
  } else if (candidate === 'fts5') {
    const writer = Fts5Bm25Index.writer(path.join(out, 'fts5.sqlite'));
    for await (const doc of readSearchR1Corpus(corpus)) {
      writer.add(doc);
      progress();
    }
    writer.finish();
  } else {
    const index = miniSearch();
    for await (const doc of readSearchR1Corpus(corpus)) {
      index.add({ id: added, text: indexedText(doc) });
      progress();
    }
    writeFileSync(path.join(out, 'minisearch.json'), JSON.stringify(index));
  }
  return { buildMs: performance.now() - started, cpuS: cpuSeconds(), maxRssMb: maxRssMb() };
}

function open(candidate: Candidate, dir: string): { searcher: Searcher; bytes: number } {
  if (candidate === 'toolgym-disk') {
    const bytes = statSync(path.join(dir, 'bm25.bin')).size + statSync(path.join(dir, 'bm25.json')).size;
    return { searcher: Bm25Index.open(dir)!, bytes };
  }
  if (candidate === 'fts5') {
    const file = path.join(dir, 'fts5.sqlite');
    return { searcher: Fts5Bm25Index.open(file), bytes: statSync(file).size };
  }
  const file = path.join(dir, 'minisearch.json');
  const index = MiniSearch.loadJSON<{ id: number; text: string }>(readFileSync(file, 'utf8'), {
    fields: ['text'],
    tokenize: analyze,
    processTerm: (term) => term,
    searchOptions: { bm25: { k: DEFAULT_BM25_PARAMS.k1, b: DEFAULT_BM25_PARAMS.b, d: 0 } },
  });
  return { searcher: miniSearcher(index), bytes: statSync(file).size };
}

function query(candidate: Candidate, dir: string, queries: string[], sample: number, budgetMs: number) {
  const started = performance.now();
  const { searcher, bytes } = open(candidate, dir);
  const openMs = performance.now() - started;
  for (const q of queries.slice(0, 20)) searcher.search(q, 10); // JIT warm-up
  const times: number[] = [];
  // CPU time of the process per query: on a shared machine, wall time also counts waiting for a core.
  const cpu: number[] = [];
  const rankings: number[][] = [];
  const timedFrom = performance.now();
  for (const [i, q] of queries.entries()) {
    if (i >= sample && performance.now() - timedFrom > budgetMs) break;
    const c = process.cpuUsage();
    const t = performance.now();
    const top = searcher.search(q, 10);
    times.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    if (i < sample) rankings.push(top.map((r) => r.index));
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return {
    openMs,
    bytes,
    queries: queries.length,
    timed: times.length,
    mean,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    cpuP50: percentile(cpu, 50),
    cpuP99: percentile(cpu, 99),
    rankings,
    maxRssMb: maxRssMb(),
  };
}

async function scan(
  corpus: string,
  queries: string[],
  scoring: Bm25Scoring,
  rankings: Record<string, number[][]>,
) {
  const started = performance.now();
  const candidates = Object.keys(rankings);
  const results = await scanBm25(readSearchR1Corpus(corpus), queries, {
    k: 10,
    scoring,
    score: queries.map((_, q) => candidates.flatMap((c) => rankings[c]![q] ?? [])),
  });
  const agreement = Object.fromEntries(
    candidates.map((c) => [c, results.filter((r, q) => agreesUpToTies(rankings[c]![q]!, r)).length]),
  );
  const exact = Object.fromEntries(
    candidates.map((c) => [
      c,
      results.filter((r, q) => r.top.map((x) => x.index).join() === rankings[c]![q]!.join()).length,
    ]),
  );
  return { scanMs: performance.now() - started, agreement, exact, maxRssMb: maxRssMb() };
}

/** Searches one episode makes before the next starts (below the episode's tool-call limit). */
const SEARCHES_PER_EPISODE = 20;

/**
 * Latencies of `search` (top 10) for every query, through episodes of `client`, and how many
 * calls came back as tool errors, by code (a call stopped by the sync budget is `tool_timeout`).
 */
async function timeSearches(
  client: EnvironmentClient,
  queries: string[],
): Promise<{ times: number[]; errors: Record<string, number> }> {
  const times: number[] = [];
  const errors: Record<string, number> = {};
  for (let i = 0; i < queries.length; i += SEARCHES_PER_EPISODE) {
    await client.start({ split: 'train', seed: i });
    for (const q of queries.slice(i, i + SEARCHES_PER_EPISODE)) {
      const t = performance.now();
      const result = await client.callTool('search', { query: q, k: 10 });
      times.push(performance.now() - t);
      if (result.isError) {
        const code = result.errorCode ?? 'unknown';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
    await client.end();
  }
  return { times: times.sort((a, b) => a - b), errors };
}

/**
 * The `search` tool end to end: in this process (the environment called directly), then over
 * MCP from a `toolgym env serve search` server on stdio (what a trainer or agent sees: JSON-RPC,
 * the session, the tool's snippets). Then `open` with a warm browser.
 */
async function playSearch(options: Record<string, unknown>, queries: string[]) {
  const started = performance.now();
  const config = searchEnvironment.parseConfig(options);
  const data = await loadSearchData(config);
  const loadMs = performance.now() - started;
  const direct = await EnvironmentClient.connect({
    kind: 'direct',
    environment: new Environment(searchEnvironment, config),
  });
  await timeSearches(direct, queries.slice(0, 20));
  const inProcess = await timeSearches(direct, queries);

  const serverStarted = performance.now();
  const mcp = await EnvironmentClient.connect(
    {
      kind: 'stdio',
      command: process.execPath,
      args: [
        path.join(workspaceRoot(), 'cli/bin/toolgym.js'),
        'env',
        'serve',
        'search',
        '--options',
        JSON.stringify(options),
      ],
      cwd: workspaceRoot(),
    },
    { connectTimeoutMs: 600_000 },
  );
  let overMcp: Awaited<ReturnType<typeof timeSearches>>;
  let mcpOpenMs: number;
  try {
    await mcp.info();
    mcpOpenMs = performance.now() - serverStarted;
    await timeSearches(mcp, queries.slice(0, 20));
    overMcp = await timeSearches(mcp, queries);
  } finally {
    await mcp.close();
  }

  const opens: number[] = [];
  const ids = queries.slice(0, 21).map((_, i) => String((i * 997) % data.documents.size));
  await direct.start({ split: 'train', seed: 0 });
  for (const [i, target] of ids.entries()) {
    const t = performance.now();
    const result = await direct.callTool('open', { target });
    if (result.isError) throw new Error(result.content);
    if (i > 0) opens.push(performance.now() - t); // the first starts Chromium
  }
  opens.sort((a, b) => a - b);
  await direct.close();
  await closeSearchResources();
  return {
    built: data.built,
    loadMs,
    documents: data.documents.size,
    onDisk: !(data.documents instanceof DocumentCollection),
    p50: percentile(inProcess.times, 50),
    p99: percentile(inProcess.times, 99),
    errors: inProcess.errors,
    mcpP50: percentile(overMcp.times, 50),
    mcpP99: percentile(overMcp.times, 99),
    mcpErrors: overMcp.errors,
    mcpOpenMs,
    openP50: percentile(opens, 50),
    maxRssMb: maxRssMb(),
  };
}

const [step, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson ?? '{}');
const queriesOf = () => JSON.parse(readFileSync(args.queries, 'utf8')) as string[];
const result =
  step === 'build'
    ? await build(args.candidate, args.corpus, args.out, args.cpuLimitS)
    : step === 'query'
      ? query(args.candidate, args.dir, queriesOf(), args.sample, args.budgetMs)
      : step === 'scan'
        ? await scan(
            args.corpus,
            queriesOf().slice(0, args.sample),
            args.scoring,
            JSON.parse(readFileSync(args.rankings, 'utf8')),
          )
        : await playSearch(args.options, queriesOf());
process.stdout.write(`${JSON.stringify(result)}\n`);

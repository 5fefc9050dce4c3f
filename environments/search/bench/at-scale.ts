/**
 * `pnpm bench search --corpus 1m`: BM25 candidates side by side on a generated Search-R1-format
 * corpus — build time and peak memory, size on disk, open time, query p50/p99 for top 10 (wall
 * and CPU time), and agreement with a brute-force scan on a 300-query sample — then the `search`
 * tool end to end, in process and over MCP from `toolgym env serve search`. Every step runs in a child process (peak RSS is that process's own;
 * V8's heap is capped at 2 GiB, the memory target). The corpus and indexes stay in
 * `data/generated/` and are reused by the next run; only the candidates' builds are redone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bm25Scoring, DEFAULT_BM25_PARAMS, FTS5_BM25_SCORING } from '@toolgym/tools';
import { defaultDataDir, loadSearchData, SearchConfigSchema, writeSyntheticCorpus } from '../src/index.ts';

export type Candidate = 'toolgym-disk' | 'fts5' | 'minisearch';

const LUCENE_SCORING: Bm25Scoring = { ...DEFAULT_BM25_PARAMS, idf: 'lucene' };
/** The scoring each candidate computes, and so the scan it is checked against. */
const SCORING_OF: Record<Candidate, Bm25Scoring> = {
  'toolgym-disk': LUCENE_SCORING,
  fts5: FTS5_BM25_SCORING,
  minisearch: { ...LUCENE_SCORING, documentLength: 'distinct-terms' },
};

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'at-scale-child.ts');
export const CANDIDATES: readonly Candidate[] = ['toolgym-disk', 'fts5', 'minisearch'];
const HEAP_MB = 2048;
/**
 * A build that has used this much CPU is stopped and reported as its row: the target is 10
 * minutes, and every candidate builds on one thread, so on an idle machine CPU time is its wall
 * time. One still running after `BUILD_TIMEOUT_MS` of wall time is stopped too, however little
 * CPU the shared machine gave it.
 */
const BUILD_CPU_LIMIT_S = 10 * 60;
const BUILD_TIMEOUT_MS = 60 * 60_000;
/** Any other step still running after this long is stopped and reported. */
const STEP_TIMEOUT_MS = 20 * 60_000;
/**
 * Latency is timed on every query unless a candidate is slow: past this much wall time (and once
 * the agreement sample is done) the query step stops and reports how many it timed.
 */
const QUERY_BUDGET_MS = 4 * 60_000;

/** '1m' → 1,000,000; '100k' → 100,000; '5000' → 5,000. */
export function parseCorpusSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(text);
  if (!match) throw new Error(`--corpus takes a passage count such as 1m, 100k or 5000, not '${text}'`);
  const scale = { '': 1, k: 1_000, m: 1_000_000 }[match[2]!.toLowerCase() as '' | 'k' | 'm'];
  return Math.round(Number(match[1]) * scale);
}

interface ChildResult {
  ok: boolean;
  value?: Record<string, unknown>;
  error?: string;
  ms: number;
}

function child(step: string, args: Record<string, unknown>, timeoutMs = STEP_TIMEOUT_MS): ChildResult {
  const started = performance.now();
  const run = spawnSync(
    process.execPath,
    [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', CHILD, step, JSON.stringify(args)],
    { encoding: 'utf8', maxBuffer: 1 << 28, timeout: timeoutMs, killSignal: 'SIGKILL' },
  );
  const ms = performance.now() - started;
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status === 0 && last.startsWith('{')) return { ok: true, value: JSON.parse(last), ms };
  const stderr = run.stderr.trim().split('\n');
  const progress = stderr.filter((l) => l.startsWith('added ')).at(-1);
  const reason =
    run.signal === 'SIGKILL'
      ? `stopped after ${fmt(ms)}`
      : (stderr.find((l) =>
          /^\s*(\w*Error\b|FATAL ERROR)|heap out of memory|Invalid string length/.test(l),
        ) ?? stderr.at(-1));
  return {
    ok: false,
    error: `${reason ?? `exit ${run.status}`}${progress ? ` (after ${progress})` : ''}`,
    ms,
  };
}

/** ` (3 tool errors: tool_timeout 3)`, or nothing when every call succeeded. */
const errorsOf = (errors: unknown) => {
  const entries = Object.entries(errors as Record<string, number>);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return total === 0
    ? ''
    : ` (${total} tool errors: ${entries.map(([code, n]) => `${code} ${n}`).join(', ')})`;
};
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const fmt = (ms: number) =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;

/** `toolgym-disk,fts5` → those candidates; every candidate when `text` is undefined. */
export function parseCandidates(text: string | undefined): readonly Candidate[] {
  if (text === undefined) return CANDIDATES;
  const chosen = text.split(',').map((c) => c.trim());
  const unknown = chosen.filter((c) => !CANDIDATES.includes(c as Candidate));
  if (unknown.length > 0 || chosen.length === 0)
    throw new Error(
      `--candidates takes a comma-separated list of ${CANDIDATES.join(', ')}; not '${unknown.join(',')}'`,
    );
  return chosen as Candidate[];
}

export type AtScaleStep = 'candidates' | 'tool';
export const AT_SCALE_STEPS: readonly AtScaleStep[] = ['candidates', 'tool'];

/** `candidates,tool` → those steps; both when `text` is undefined. */
export function parseSteps(text: string | undefined): readonly AtScaleStep[] {
  if (text === undefined) return AT_SCALE_STEPS;
  const chosen = text.split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !AT_SCALE_STEPS.includes(s as AtScaleStep));
  if (unknown.length > 0)
    throw new Error(
      `--steps takes a comma-separated list of ${AT_SCALE_STEPS.join(', ')}; not '${unknown.join(',')}'`,
    );
  return chosen as AtScaleStep[];
}

export async function runAtScale(
  size: number,
  candidates: readonly Candidate[] = CANDIDATES,
  steps: readonly AtScaleStep[] = AT_SCALE_STEPS,
): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(
    `machine: ${cpus().length} cores, ${mb(totalmem())} RAM; load average at start ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (shared machine)`,
  );

  const dir = path.join(defaultDataDir(), `searchr1-${size}-seed0`);
  const corpus = path.join(dir, 'corpus.jsonl');
  const qa = path.join(dir, 'qa.jsonl');
  if (!existsSync(corpus) || !existsSync(qa)) {
    const started = performance.now();
    const world = await loadSearchData(SearchConfigSchema.parse({}));
    writeSyntheticCorpus(
      dir,
      { documents: [...world.documents.all()], tasks: world.tasks },
      { passages: size, seed: 0 },
    );
    out(`corpus generated in ${fmt(performance.now() - started)}`);
  }
  out(`corpus: ${size.toLocaleString('en-US')} passages, ${mb(statSync(corpus).size)} (${corpus})`);

  // Queries: the world's questions, spread over the file; the first 300 are the agreement sample.
  const questions = readFileSync(qa, 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { question: string }).question);
  const step = Math.max(1, Math.floor(questions.length / 1000));
  const queries = questions.filter((_, i) => i % step === 0).slice(0, 1000);
  const sample = Math.min(300, queries.length);
  const queriesFile = path.join(dir, 'bench-queries.json');
  writeFileSync(queriesFile, JSON.stringify(queries));
  out(
    `queries: ${queries.length} generated questions for latency, the first ${sample} for agreement; top 10\n`,
  );

  if (steps.includes('candidates')) measureCandidates(out, dir, corpus, queriesFile, sample, candidates);
  if (steps.includes('tool')) playTool(out, corpus, qa, queriesFile);
  out(
    `load average at end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}

function measureCandidates(
  out: (line?: string) => void,
  dir: string,
  corpus: string,
  queriesFile: string,
  sample: number,
  candidates: readonly Candidate[],
): void {
  const rows: string[][] = [];
  const rankings: Partial<Record<Candidate, number[][]>> = {};
  const meanMs: Partial<Record<Candidate, number>> = {};
  for (const candidate of candidates) {
    const indexDir = path.join(dir, `index-${candidate}`);
    rmSync(indexDir, { recursive: true, force: true });
    mkdirSync(indexDir, { recursive: true });
    const built = child(
      'build',
      { candidate, corpus, out: indexDir, cpuLimitS: BUILD_CPU_LIMIT_S },
      BUILD_TIMEOUT_MS,
    );
    if (!built.ok) {
      rows.push([candidate, `failed: ${built.error}`, '', '', '', '', '', '', '', '']);
      rmSync(indexDir, { recursive: true, force: true });
      continue;
    }
    const queried = child('query', {
      candidate,
      dir: indexDir,
      queries: queriesFile,
      sample,
      budgetMs: QUERY_BUDGET_MS,
    });
    if (!queried.ok) {
      rows.push([
        candidate,
        fmt(built.value!.buildMs as number),
        `${(built.value!.maxRssMb as number).toFixed(0)} MiB`,
        '',
        `failed: ${queried.error}`,
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    const q = queried.value!;
    rankings[candidate] = q.rankings as number[][];
    meanMs[candidate] = q.mean as number;
    rows.push([
      candidate,
      `${fmt(built.value!.buildMs as number)} (CPU ${(built.value!.cpuS as number).toFixed(0)} s)`,
      `${(built.value!.maxRssMb as number).toFixed(0)} / ${(q.maxRssMb as number).toFixed(0)} MiB`,
      mb(q.bytes as number),
      fmt(q.openMs as number),
      `${fmt(q.p50 as number)}${q.timed === q.queries ? '' : ` (${q.timed} queries)`}`,
      fmt(q.p99 as number),
      `${fmt(q.cpuP50 as number)} / ${fmt(q.cpuP99 as number)}`,
      '',
      '',
    ]);
  }

  // Agreement: each candidate against the scan with its own scoring (same analyser).
  for (const scoring of new Set(Object.values(SCORING_OF))) {
    const these = candidates.filter((c) => rankings[c] && SCORING_OF[c] === scoring);
    if (these.length === 0) continue;
    const rankingsFile = path.join(dir, `bench-rankings-${scoring.idf}.json`);
    writeFileSync(rankingsFile, JSON.stringify(Object.fromEntries(these.map((c) => [c, rankings[c]]))));
    const scanned = child('scan', { corpus, queries: queriesFile, sample, scoring, rankings: rankingsFile });
    for (const c of these) {
      const row = rows.find((r) => r[0] === c)!;
      row[8] = scanned.ok
        ? `${(scanned.value!.agreement as Record<string, number>)[c]}/${sample} (${(scanned.value!.exact as Record<string, number>)[c]} in the same order)`
        : `scan failed: ${scanned.error}`;
      // The scan reads the corpus once for the whole sample, so its cost per query is a lower bound.
      if (scanned.ok) {
        const scanPerQuery = (scanned.value!.scanMs as number) / sample;
        const speedUp = scanPerQuery / meanMs[c]!;
        row[9] = `${speedUp.toFixed(speedUp < 10 ? 1 : 0)}× (${fmt(meanMs[c]!)} vs ${fmt(scanPerQuery)})`;
      }
    }
    if (scanned.ok)
      out(
        `brute-force scan (${scoring.idf} IDF, k1=${scoring.k1}, b=${scoring.b}, length in ${scoring.documentLength ?? 'terms'}): ${fmt(scanned.value!.scanMs as number)} for ${sample} queries, peak RSS ${(scanned.value!.maxRssMb as number).toFixed(0)} MiB`,
      );
  }

  const header = [
    'candidate',
    'build',
    'peak RSS (build / query)',
    'size',
    'open',
    'query p50',
    'query p99',
    'CPU p50 / p99',
    'top 10 = scan (up to ties)',
    'speed-up over the scan (mean query vs scan per query)',
  ];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  out();
  for (const r of table) out(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '));
  out(
    'the scan scores all sample queries in one pass over the corpus; its time per query is that pass over the sample size',
  );
  out('targets: build ≤ 10 min in ≤ 2 GiB, open ≤ 5 s, p50 ≤ 10 ms, p99 ≤ 50 ms, top 10 equal to the scan');
  out(
    'ties: a top 10 agrees when the scan scores of its documents, sorted, equal the scan top-10 scores within 1e-9 (relative)',
  );
  out(
    `latency: every query, or as many as ${fmt(QUERY_BUDGET_MS)} of wall time allowed (the agreement sample always); a build is stopped at ${BUILD_CPU_LIMIT_S / 60} min of CPU or ${fmt(BUILD_TIMEOUT_MS)} of wall time\n`,
  );
}

function playTool(out: (line?: string) => void, corpus: string, qa: string, queriesFile: string): void {
  // The environment on this corpus: its store + disk index (built once, cached), `search` end to end.
  const played = child('env', {
    options: { corpus: { kind: 'jsonl', path: corpus }, qaPath: qa },
    queries: queriesFile,
  });
  if (played.ok) {
    const e = played.value!;
    out(
      `search tool, top 10 with snippets, ${(e.documents as number).toLocaleString('en-US')} passages ${e.onDisk ? 'in a SQLite store, postings on disk' : 'in memory'}: ` +
        `in process p50 ${fmt(e.p50 as number)}, p99 ${fmt(e.p99 as number)}${errorsOf(e.errors)}; over MCP (toolgym env serve search, stdio) p50 ${fmt(e.mcpP50 as number)}, p99 ${fmt(e.mcpP99 as number)}${errorsOf(e.mcpErrors)}, server ready in ${fmt(e.mcpOpenMs as number)}; ` +
        `data ${(e.built as { index: boolean }).index ? 'built' : 'opened'} in ${fmt(e.loadMs as number)}, peak RSS ${(e.maxRssMb as number).toFixed(0)} MiB; warm open p50 ${fmt(e.openP50 as number)}`,
    );
  } else {
    out(`search tool: failed: ${played.error}`);
  }
}

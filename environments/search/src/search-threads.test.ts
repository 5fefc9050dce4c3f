import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment, EnvironmentClient, serveHttp } from '@toolgym/env-kit';
import type { Bm25WorkerRetriever } from '@toolgym/tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import searchEnvironment, { closeSearchResources, loadSearchData } from './index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-threads-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A corpus served from disk (above `diskIndexAbove`) with eight huge passages: a query that matches
 * them takes about 0.8 s of CPU in its search thread (each snippet reads a 2.4 MB passage), an
 * ordinary query (words and numbers the huge ones lack) well under a millisecond.
 */
const HUGE = 'The zebra crossed the wide river at dawn near the old mill. '.repeat(40_000);
const SLOW_QUERY = 'zebra river dawn';
let options: Record<string, unknown>;
beforeAll(async () => {
  const lines = [
    ...Array.from({ length: 30 }, (_, i) => ({
      id: `p${i}`,
      contents: `"Harbour ${i}"\nHarbour ${i} lies on the coast of Velmoria and trades in salt and amber.`,
    })),
    ...Array.from({ length: 8 }, (_, i) => ({ id: `huge${i}`, contents: `"Mill ${i}"\n${HUGE}` })),
  ];
  const corpus = path.join(dir, 'corpus.jsonl');
  writeFileSync(corpus, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  const qa = path.join(dir, 'qa.jsonl');
  writeFileSync(
    qa,
    `${JSON.stringify({ id: 'q0', question: 'Where does Harbour 3 lie?', golden_answers: ['Velmoria'], split: 'train' })}\n`,
  );
  options = { corpus: { kind: 'jsonl', path: corpus }, qaPath: qa, diskIndexAbove: 10, dataDir: dir };
  // Builds the store and the index once (both tests open them).
  await loadSearchData(searchEnvironment.parseConfig(options));
}, 600_000);

async function serve(timeoutMs: number) {
  const env = new Environment(
    searchEnvironment,
    // The tool timeout follows the navigation timeout: long enough for threads to start under load.
    searchEnvironment.parseConfig({
      ...options,
      searchThreads: { workers: 2, timeoutMs },
      browser: { navigationTimeoutMs: 200_000 },
    }),
  );
  const server = await serveHttp(env);
  const [a, b] = await Promise.all([
    EnvironmentClient.connect({ kind: 'http', url: server.url }),
    EnvironmentClient.connect({ kind: 'http', url: server.url }),
  ]);
  await Promise.all([a.start({ split: 'train', seed: 0 }), b.start({ split: 'train', seed: 1 })]);
  // Both search threads ready (they start when the data is loaded).
  await ((await loadSearchData(env.config)).retriever as Bm25WorkerRetriever).warm();
  const close = async () => {
    await Promise.all([a.close(), b.close()]);
    await server.close();
  };
  return { a, b, close };
}

describe('search@1 on a corpus served from disk: queries run in search threads', () => {
  // Generous timeouts: on a shared, loaded machine starting a thread alone can take seconds.
  it("a slow query does not hold another session's search: the cheap one answers first", {
    timeout: 600_000,
  }, async () => {
    const { a, b, close } = await serve(120_000);
    try {
      const [warmA, warmB] = await Promise.all([
        a.callTool('search', { query: 'harbour salt' }),
        b.callTool('search', { query: 'harbour amber' }),
      ]);
      expect(warmA.isError).toBe(false);
      expect(warmB.content).toMatch(/Harbour \d+/);

      const finished: string[] = [];
      const slow = a.callTool('search', { query: SLOW_QUERY, k: 10 }).then((r) => {
        finished.push('slow');
        return r;
      });
      // Sent once the slow query is on its way to the server.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const cheap = await b.callTool('search', { query: 'Harbour 12 Velmoria', k: 3 });
      finished.push('cheap');
      const slowResult = await slow;

      expect(finished).toEqual(['cheap', 'slow']);
      expect(cheap.isError).toBe(false);
      expect(cheap.content).toMatch(/^\[1\] p12 — Harbour 12/m);
      expect(slowResult.isError).toBe(false);
      expect(slowResult.content.match(/^\[\d+\] huge\d/gm)).toHaveLength(8);
    } finally {
      await close();
    }
  });

  it('a query past the search budget fails that call with search_timeout; the next query works', {
    timeout: 600_000,
  }, async () => {
    const { a, b, close } = await serve(300);
    try {
      expect((await a.callTool('search', { query: 'harbour salt' })).isError).toBe(false);
      const timedOut = await a.callTool('search', { query: SLOW_QUERY, k: 10 });
      expect(timedOut).toMatchObject({ isError: true, errorCode: 'search_timeout' });
      expect(timedOut.content).toMatch(
        /ran past 300 ms and was stopped; search again with fewer or rarer words/,
      );

      // The same session and another one go on: a fresh thread replaced the stopped one.
      const [next, other] = await Promise.all([
        a.callTool('search', { query: 'Harbour 13 Velmoria', k: 2 }),
        b.callTool('search', { query: 'Harbour 14 amber', k: 2 }),
      ]);
      expect(next.isError, next.content).toBe(false);
      expect(next.content).toMatch(/^\[1\] p13 — Harbour 13/m);
      expect(other.content).toMatch(/^\[1\] p14 — Harbour 14/m);
      const ended = await a.end();
      expect(ended.toolCalls).toBe(3);
    } finally {
      await close();
    }
  });
});

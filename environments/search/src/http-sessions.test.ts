import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment, EnvironmentClient, serveHttp } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import searchEnvironment, { closeSearchResources } from './index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-http-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

/** Chromium browser processes started by this process (its direct children). */
function chromiumChildren(): number[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, comm]) => Number(ppid) === process.pid && (comm ?? '').includes('chrom'))
    .map(([pid]) => Number(pid));
}

describe('search@1 over MCP Streamable HTTP: concurrent episodes', () => {
  it('gives each session its own browser context and open page, all in one Chromium', async () => {
    const env = new Environment(
      searchEnvironment,
      searchEnvironment.parseConfig({ corpus: { kind: 'countries', wordnetDocuments: 50 }, dataDir: dir }),
    );
    const server = await serveHttp(env);
    const [a, b] = await Promise.all([
      EnvironmentClient.connect({ kind: 'http', url: server.url }),
      EnvironmentClient.connect({ kind: 'http', url: server.url }),
    ]);
    try {
      await Promise.all([a.start({ split: 'train', seed: 1 }), b.start({ split: 'test', seed: 2 })]);
      const [openA, openB] = await Promise.all([
        a.callTool('open', { target: 'country/fra' }),
        b.callTool('open', { target: 'country/jpn' }),
      ]);
      expect(openA.content).toMatch(/^Document: country\/fra — France/);
      expect(openB.content).toMatch(/^Document: country\/jpn — Japan/);
      expect(server.sessionCount()).toBe(2);
      expect(chromiumChildren()).toHaveLength(1);
      // Each episode finds in its own page.
      expect((await a.callTool('find', { pattern: 'Euro' })).content).toMatch(
        /match\(es\) for "Euro" in France/,
      );
      expect((await b.callTool('find', { pattern: 'Euro' })).content).toMatch(/No match for "Euro" in Japan/);
      const [endA, endB] = await Promise.all([a.end(), b.end()]);
      expect(endA.reward.components.exact_match).toBe(0);
      expect(endB.toolCalls).toBe(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.close();
    }
  });
});

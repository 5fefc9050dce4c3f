import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EnvironmentClient, workspaceRoot } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import type { SearchAnswer } from './tasks/search-answer.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-mcp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of every process descended from `root`. */
function descendants(root: number): Array<{ pid: number; comm: string }> {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? '' }));
  const found = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows)
      if (found.has(r.ppid) && !found.has(r.pid)) {
        found.add(r.pid);
        grew = true;
      }
  }
  return rows.filter((r) => r.pid !== root && found.has(r.pid));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a full search episode over MCP stdio (toolgym env serve search)', () => {
  it('plays the oracle episode through the CLI server, grades it, and leaves no Chromium behind', async () => {
    const options = JSON.stringify({ corpus: { kind: 'countries', wordnetDocuments: 50 }, dataDir: dir });
    const client = await EnvironmentClient.connect({
      kind: 'stdio',
      command: process.execPath,
      args: [
        path.join(workspaceRoot(), 'cli/bin/toolgym.js'),
        'env',
        'serve',
        'search',
        '--options',
        options,
      ],
      cwd: workspaceRoot(),
    });
    const serverPid = client.serverPid!;
    try {
      const info = await client.info();
      expect(info.id).toBe('search');
      expect(info.taskCounts.train + info.taskCounts.test).toBeGreaterThanOrEqual(500);
      expect((await client.listTools()).map((t) => t.name).sort()).toEqual([
        'answer',
        'find',
        'open',
        // Search Self-play's proposer tool is offered only by a config with selfPlay.
        'search',
      ]);

      const { tasks } = await client.tasks({ split: 'train', withAnswers: true, limit: 10_000 });
      const task = tasks.find((t) => (t.answer as SearchAnswer).supportingDocs.length === 2)!;
      const started = await client.start({ taskId: task.id });
      expect(started.task).not.toHaveProperty('answer');

      // A malformed call comes back as a tool error and the episode goes on.
      const malformed = await client.callTool('open', { target: 42 });
      expect(malformed).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });

      const { calls } = await client.oracle();
      let chromiumWhileOpen: number[] = [];
      for (const call of calls) {
        const result = await client.callTool(call.name, call.arguments);
        expect(result.isError, `${call.name}: ${result.content}`).toBe(false);
        if (call.name === 'open') {
          expect(result.content).toMatch(/^Document: /);
          chromiumWhileOpen = descendants(serverPid)
            .filter((p) => p.comm.includes('chrom'))
            .map((p) => p.pid);
        }
        if (call.name === 'answer') expect(result.terminated).toBe(true);
      }
      expect(chromiumWhileOpen.length).toBeGreaterThan(0);

      const end = await client.end();
      expect(end.terminated).toBe(true);
      expect(end.reward.components).toMatchObject({ exact_match: 1, citation: 1, format: 1 });

      await client.close();
      const deadline = Date.now() + 10_000;
      while ((alive(serverPid) || chromiumWhileOpen.some(alive)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(alive(serverPid)).toBe(false);
      expect(chromiumWhileOpen.filter(alive)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

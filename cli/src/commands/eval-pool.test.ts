import { readFile } from 'node:fs/promises';
import path from 'node:path';
import compose from '@toolgym/env-compose';
import { Environment, serveHttp } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import { runToolgym, temporaryDirectories } from './test-support.ts';

const tempDir = temporaryDirectories('toolgym-cli-eval-pool-');

describe('toolgym eval --env-url with several servers', () => {
  it('leaves a server that does not answer out and plays every episode on the others', async () => {
    const env = new Environment(compose, compose.parseConfig({}));
    const live = [await serveHttp(env, { port: 0 }), await serveHttp(env, { port: 0 })];
    const gone = await serveHttp(env, { port: 0 });
    await gone.close();
    try {
      const out = path.join(await tempDir(), 'episodes.jsonl');
      const run = await runToolgym([
        'eval',
        '--env',
        'compose',
        '--policy',
        'random',
        '--env-url',
        gone.url,
        ...live.map((s) => s.url),
        '--split',
        'train',
        '--limit',
        '4',
        '-n',
        '2',
        '--max-turns',
        '2',
        '--out',
        out,
        '--json',
        '--quiet',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const episodes = (await readFile(out, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { taskId: string; seed: number; status: string });
      expect(episodes).toHaveLength(8);
      expect(new Set(episodes.map((e) => `${e.taskId}#${e.seed}`)).size).toBe(8);
      expect(episodes.filter((e) => e.status === 'failed')).toEqual([]);
    } finally {
      await Promise.all(live.map((s) => s.close()));
    }
  }, 120_000);

  it('refuses a pool where no server answers, naming each, as a short block', async () => {
    const env = new Environment(compose, compose.parseConfig({}));
    const gone = await serveHttp(env, { port: 0 });
    await gone.close();
    const run = await runToolgym(['eval', '--env', 'compose', '--policy', 'random', '--env-url', gone.url]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`no environment server answers: ${gone.url}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
